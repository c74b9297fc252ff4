import type pg from 'pg';
import { dailyUsageTotals, listAnomalies, type AnomalyRecord } from '../db/queries/anomalies.ts';
import { latestIssuedInvoices } from '../db/queries/finops.ts';
import { dayNumber, dayText } from '../domain/anomalies/utc-days.ts';
import type { CommitBurndown } from '../domain/commits/burndown.ts';
import type { AccountSignals } from '../domain/signals/early-warning.ts';
import { commitReport } from './commit-report.ts';
import type { FinopsSources } from './executive-view.ts';
import { contractsInForce, dailyUsageRevenue } from './forecast-report.ts';
import { signalReport } from './signal-report.ts';

/**
 * The console's account view (SPEC §9–10) of one customer as of `asOf`: commit utilization, the
 * prepaid burndown date, variance against the ramp and burn alerts (`tally commits`), its
 * early-warning signals (`tally signals`), its anomalies of the last 28 days, and its daily usage
 * revenue over them (valued as the forecast values it). Undefined for a customer with neither a
 * contract in force nor an issued invoice.
 */

export interface AccountView {
  readonly customer_id: string;
  readonly as_of: string;
  readonly contract:
    | { readonly currency: string; readonly starts_at?: string; readonly ends_at?: string; readonly commit?: string }
    | undefined;
  readonly commit: CommitBurndown | undefined;
  readonly signals: AccountSignals;
  readonly anomalies: readonly AnomalyRecord[];
  readonly usage_revenue: {
    readonly currency: string | undefined;
    readonly days: readonly { readonly day: string; readonly amount: string }[];
  };
}

const DAYS = 28;

export async function accountView(
  pool: pg.Pool,
  options: { customerId: string; asOf: string; sources: FinopsSources },
): Promise<AccountView | undefined> {
  const today = dayNumber(options.asOf.slice(0, 10));
  if (today === undefined) throw new Error(`not an instant: ${options.asOf}`);
  const firstDay = today - DAYS;
  const [contracts, invoices, burndowns, signals, anomalies] = await Promise.all([
    contractsInForce(pool),
    latestIssuedInvoices(pool),
    commitReport(pool, { asOf: options.asOf, customerId: options.customerId }),
    signalReport(pool, { asOf: options.asOf, signals: options.sources.signals, customerId: options.customerId }),
    listAnomalies(pool, { customerId: options.customerId, from: dayText(firstDay) }, 200),
  ]);
  const contract = contracts.get(options.customerId);
  const invoice = invoices.find((entry) => entry.customer_id === options.customerId);
  if (contract === undefined && invoice === undefined) return undefined;
  const usage =
    invoice === undefined
      ? []
      : (await dailyUsageTotals(pool, { fromDay: dayText(firstDay), toDay: dayText(today - 1) }, [])).filter(
          (row) => row.customerId === options.customerId,
        );
  const [revenue] = invoice === undefined ? [] : dailyUsageRevenue([invoice], usage, contracts, firstDay, DAYS);
  return {
    customer_id: options.customerId,
    as_of: options.asOf,
    contract:
      contract === undefined
        ? undefined
        : {
            currency: contract.currency,
            ...(contract.starts_at === undefined ? {} : { starts_at: contract.starts_at }),
            ...(contract.ends_at === undefined ? {} : { ends_at: contract.ends_at }),
            ...(contract.commit === undefined ? {} : { commit: contract.commit.amount }),
          },
    commit: burndowns[0],
    signals: signals[0] ?? { customer_id: options.customerId, outlook: 'steady', signals: [] },
    anomalies: [...anomalies].reverse(),
    usage_revenue: {
      currency: revenue?.currency,
      days: (revenue?.daily ?? []).map((amount, index) => ({ day: dayText(firstDay + index), amount })),
    },
  };
}
