/**
 * The chart of accounts the revenue journal posts to. Codes are what the ledger stores (the
 * migration seeds `ledger_accounts` with exactly these rows; a test keeps the two equal);
 * numbers group them the usual way: 1xxx assets, 2xxx liabilities, 4xxx revenue, 49xx contra-revenue.
 */
export type AccountType = 'asset' | 'liability' | 'revenue' | 'contra_revenue';
type NormalBalance = 'debit' | 'credit';

export interface AccountDefinition {
  readonly number: string;
  readonly name: string;
  readonly type: AccountType;
  readonly normal_balance: NormalBalance;
}

export const CHART_OF_ACCOUNTS = {
  accounts_receivable: { number: '1100', name: 'Accounts receivable', type: 'asset', normal_balance: 'debit' },
  /** Usage delivered but not yet invoiced (a contract asset until the invoice is issued). */
  unbilled_receivables: {
    number: '1150',
    name: 'Unbilled AR / contract asset',
    type: 'asset',
    normal_balance: 'debit',
  },
  /** Consideration received for prepaid credits not yet consumed. */
  contract_liability_prepaid_credits: {
    number: '2300',
    name: 'Contract liability – prepaid credits',
    type: 'liability',
    normal_balance: 'credit',
  },
  /** Subscription fees invoiced before (or as) their service period is delivered. */
  deferred_revenue_subscriptions: {
    number: '2400',
    name: 'Deferred revenue – subscriptions',
    type: 'liability',
    normal_balance: 'credit',
  },
  usage_revenue: { number: '4000', name: 'Usage revenue', type: 'revenue', normal_balance: 'credit' },
  subscription_revenue: { number: '4100', name: 'Subscription revenue', type: 'revenue', normal_balance: 'credit' },
  /** Minimum commit recognized straight-line (commit policy `ratable`). */
  commitment_revenue: { number: '4200', name: 'Commitment revenue', type: 'revenue', normal_balance: 'credit' },
  /** Commit shortfall (policy `drawdown`) and expired prepaid credits. */
  breakage_revenue: { number: '4300', name: 'Revenue – breakage', type: 'revenue', normal_balance: 'credit' },
  contra_revenue_discounts: {
    number: '4900',
    name: 'Contra-revenue – discounts',
    type: 'contra_revenue',
    normal_balance: 'debit',
  },
  contra_revenue_promotional_credits: {
    number: '4910',
    name: 'Contra-revenue – promotional credits',
    type: 'contra_revenue',
    normal_balance: 'debit',
  },
  /** The part of consumed prepaid credits the customer did not pay for (bonus credits lower the effective price). */
  contra_revenue_prepaid_bonus: {
    number: '4920',
    name: 'Contra-revenue – prepaid credit bonus',
    type: 'contra_revenue',
    normal_balance: 'debit',
  },
} as const satisfies Record<string, AccountDefinition>;

export type AccountCode = keyof typeof CHART_OF_ACCOUNTS;

export const ACCOUNT_CODES = Object.keys(CHART_OF_ACCOUNTS) as AccountCode[];

export function isAccountCode(value: string): value is AccountCode {
  return Object.hasOwn(CHART_OF_ACCOUNTS, value);
}

/** Accounts whose net credit is revenue (contra-revenue counts negatively): the income statement of the journal. */
export function isIncomeStatementAccount(code: AccountCode): boolean {
  const { type } = CHART_OF_ACCOUNTS[code];
  return type === 'revenue' || type === 'contra_revenue';
}
