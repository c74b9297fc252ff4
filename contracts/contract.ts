import { stringify } from 'yaml';
import { z } from 'zod';
import {
  compareDecimalText,
  ConfigId,
  CurrencyCode,
  decimalText,
  DurationText,
  InstantText,
  isZeroDecimalText,
  moneyTextProblem,
  RateCardName,
} from './config-fields.ts';
import { PeriodName } from './period-name.ts';
import { parseYamlConfig, type ConfigProblem, type YamlPositions } from './yaml-config.ts';
import { idText } from './patterns.ts';

/**
 * Customer terms (SPEC §3): which rate card prices a customer's usage, the contract window, the
 * minimum commit, credits, when a person must review an invoice, and where it is sent. All
 * instants are normalized to UTC `YYYY-MM-DDTHH:MM:SS.sssZ`; amounts are decimal strings with at
 * most the currency's minor digits.
 */

const CREDIT_KINDS = ['promotional', 'prepaid'] as const;
export type CreditKind = (typeof CREDIT_KINDS)[number];

/**
 * How revenue recognition treats the minimum commit (SPEC field notes, ASC 606 rule 5):
 * - `ratable`: the commit is recognized straight-line over the commitment period, overage as it
 *   occurs; a shortfall bill only reclassifies.
 * - `drawdown` (default): recognized as consumed; a shortfall is recognized as breakage.
 * Rating does not depend on it; the journal does.
 */
/** Who invoices a customer: the legacy biller, or Tally (cutover by cohort, SPEC §6). */
const BILLING_AUTHORITIES = ['legacy', 'tally'] as const;
export type BillingAuthority = (typeof BILLING_AUTHORITIES)[number];

const COMMIT_POLICIES = ['ratable', 'drawdown'] as const;

const CreditSchema = z.strictObject({
  id: ConfigId,
  kind: z.enum(CREDIT_KINDS),
  amount: decimalText('amount'),
  granted_at: InstantText,
  expires_at: InstantText.optional(),
});

const ReviewSchema = z.strictObject({
  /** Review when the invoice total is above this amount. */
  total_above: decimalText('total_above').optional(),
  /** Review when the total changes by more than this percent vs the previous issued invoice. */
  change_pct_above: decimalText('change_pct_above').optional(),
  /** Shadow billing: review when the variance vs the legacy biller exceeds this percent… */
  shadow_variance_pct: decimalText('shadow_variance_pct').optional(),
  /** …or this absolute amount, per invoice. */
  shadow_variance_abs: decimalText('shadow_variance_abs').optional(),
  /** Review when late-usage adjustments on the invoice add up (in absolute value) to more than this amount. */
  adjustment_above: decimalText('adjustment_above').optional(),
  /** Then escalate; never approve by timeout. */
  timeout: DurationText.default('72h'),
  /** An `adjust` decision for more than this amount (in absolute value) applies only once a second, different reviewer confirms it. */
  dual_control_above: decimalText('dual_control_above').optional(),
});

/** Planned usage spend per period, for burn alerts and the forecast (SPEC §3, §10). */
const RampStepSchema = z.strictObject({
  period: PeriodName,
  amount: decimalText('amount'),
});

/**
 * The first hour Tally reports to the marketplace (default: the contract's starts_at, else the
 * customer's first usage of a listed dimension): usage before it was billed some other way.
 */
const MeteringFrom = InstantText.optional();

/**
 * A contract billed by a cloud marketplace (SPEC §12): Tally meters and reports its usage; the
 * marketplace invoices. The identity fields are the ones each marketplace's metering API needs.
 */
export const MarketplaceSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('aws'),
    metering_from: MeteringFrom,
    /** The buyer's AWS account id (12 digits). */
    customer_account: z.string().regex(/^\d{12}$/, 'customer_account is the 12-digit AWS account id'),
    license_arn: z.string().regex(/^arn:aws[a-z-]*:license-manager:/, 'license_arn is a License Manager ARN'),
    /** The listing's product code; optional when the sender is configured with one. */
    product_code: z.string().min(1).max(255).optional(),
  }),
  z.strictObject({
    kind: z.literal('azure'),
    metering_from: MeteringFrom,
    /** The SaaS subscription (resourceId) or managed application the usage is for. */
    resource_id: z.string().min(1).max(255),
    plan_id: z.string().min(1).max(255),
  }),
  z.strictObject({
    kind: z.literal('gcp'),
    metering_from: MeteringFrom,
    /** The entitlement's usageReportingId, sent as consumerId. */
    consumer_id: z.string().min(1).max(255),
    /** The Service Control service name of the listing. */
    service_name: z.string().min(1).max(255).optional(),
  }),
]);

const ContractShape = z.strictObject({
  customer_id: idText('customer_id'),
  ratecard: RateCardName,
  currency: CurrencyCode,
  starts_at: InstantText.optional(),
  ends_at: InstantText.optional(),
  /** Events received by period end + grace are in the period's invoice. */
  grace: DurationText.default('1h'),
  commit: z.strictObject({ amount: decimalText('amount') }).optional(),
  credits: z.array(CreditSchema).default([]),
  review: ReviewSchema.optional(),
  provider: z.strictObject({ kind: z.enum(['stripe', 'ledger']), customer: z.string().min(1).max(255) }).optional(),
  revenue: z
    .strictObject({ commit_policy: z.enum(COMMIT_POLICIES).default('drawdown') })
    .default({ commit_policy: 'drawdown' }),
  /** false: a period whose invoice would be all zero gets none (SPEC §3). */
  invoice_when_zero: z.boolean().default(true),
  ramp: z.array(RampStepSchema).default([]),
  marketplace: MarketplaceSchema.optional(),
  /**
   * Which biller invoices the customer when no cutover or rollback was ever recorded for it (then the
   * newest flip decides): `legacy` while the legacy biller still does (Tally rates and compares, never
   * issues), `tally` when absent. See docs/decisions/shadow.md (cutover by cohort).
   */
  billing_authority: z.enum(BILLING_AUTHORITIES).optional(),
});

export const ContractSchema = ContractShape.superRefine((contract, context) => {
  const add = (path: PropertyKey[], message: string): void => {
    context.addIssue({ code: 'custom', path, message });
  };
  const money = (value: string | undefined, path: PropertyKey[]): void => {
    if (value === undefined) return;
    const problem = moneyTextProblem(value, contract.currency);
    if (problem) add(path, problem);
  };
  if (contract.starts_at !== undefined && contract.ends_at !== undefined && contract.ends_at <= contract.starts_at)
    add(['ends_at'], 'ends_at must be after starts_at');
  if (contract.marketplace !== undefined && contract.provider !== undefined)
    add(
      ['provider'],
      `a contract billed by the ${contract.marketplace.kind} marketplace is invoiced there, not by a provider; remove provider or marketplace`,
    );
  money(contract.commit?.amount, ['commit', 'amount']);
  money(contract.review?.total_above, ['review', 'total_above']);
  money(contract.review?.shadow_variance_abs, ['review', 'shadow_variance_abs']);
  money(contract.review?.adjustment_above, ['review', 'adjustment_above']);
  money(contract.review?.dual_control_above, ['review', 'dual_control_above']);
  const rampPeriods = new Set<string>();
  contract.ramp.forEach((step, index) => {
    money(step.amount, ['ramp', index, 'amount']);
    if (rampPeriods.has(step.period)) add(['ramp', index, 'period'], `ramp period ${step.period} is listed twice`);
    rampPeriods.add(step.period);
  });
  const ids = new Set<string>();
  contract.credits.forEach((credit, index) => {
    if (ids.has(credit.id)) add(['credits', index, 'id'], `credit id "${credit.id}" is used twice`);
    ids.add(credit.id);
    money(credit.amount, ['credits', index, 'amount']);
    if (isZeroDecimalText(credit.amount)) add(['credits', index, 'amount'], 'a credit grants more than 0');
    if (credit.expires_at !== undefined && credit.expires_at <= credit.granted_at)
      add(['credits', index, 'expires_at'], 'expires_at must be after granted_at');
  });
  if (
    contract.review?.change_pct_above !== undefined &&
    compareDecimalText(contract.review.change_pct_above, '0') === 0
  ) {
    add(['review', 'change_pct_above'], 'a change threshold of 0% would review every invoice; leave it out instead');
  }
});

export type Contract = z.output<typeof ContractSchema>;
export type ContractMarketplace = NonNullable<Contract['marketplace']>;
export type MarketplaceKind = ContractMarketplace['kind'];
export type ContractCredit = Contract['credits'][number];

export type ParsedContract =
  | { readonly ok: true; readonly contract: Contract; readonly positions: YamlPositions }
  | { readonly ok: false; readonly problems: ConfigProblem[] };

/** Parses and validates one contract file; problems name the file, line and field. */
export function parseContractText(text: string, filePath: string): ParsedContract {
  const parsed = parseYamlConfig(text, filePath, ContractSchema);
  if (!parsed.ok) return parsed;
  return { ok: true, contract: parsed.value, positions: parsed.positions };
}

/** A contract as the YAML a person would write (for `tally rate --contract`). */
export function contractToYaml(contract: Contract): string {
  return stringify(contract, { lineWidth: 0 });
}
