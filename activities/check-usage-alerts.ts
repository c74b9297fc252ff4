import type pg from 'pg';
import { withTransaction } from '../db/pool.ts';
import { creditBalances, usableCredits } from '../db/queries/credit-ledger.ts';
import { enqueueNotification } from '../db/queries/notifications.ts';
import {
  insertUsageAlert,
  listChangedCustomerPeriods,
  loadRunningTotals,
  lockUsageAlertCheck,
  recordedThresholds,
  recordUsageAlertCheck,
  totalsScanStart,
} from '../db/queries/usage-alerts.ts';
import { billingPeriod } from '../domain/period.ts';
import { RatingInputError } from '../domain/rating/index.ts';
import {
  newThresholdCrossings,
  prepaidBalanceAtPeriodStart,
  usedPercent,
  valueRunningTotals,
  type RunningTotalValuation,
  type UsageAlertBasis,
  type UsageAlertReferences,
  type UsageAlertThresholdPct,
} from '../domain/usage-alerts/index.ts';
import type { WebhookNotifier } from '../providers/webhook-notifier.ts';
import { deliverNotification } from './billing-activities.ts';
import type { CustomerTerms, TermsSource } from '../terms/index.ts';
import { TallyError } from '../contracts/tally-error.ts';

export interface UsageAlertDependencies {
  readonly pool: pg.Pool;
  /** The customer's contract and rate-card versions (Finance's files; `fileTermsLoader`). */
  readonly terms: TermsSource;
  readonly notifier: WebhookNotifier;
}

interface RecordedUsageAlert {
  readonly basis: UsageAlertBasis;
  readonly thresholdPct: UsageAlertThresholdPct;
  readonly usage: string;
  readonly reference: string;
  readonly notificationKey: string;
  /** Whether the one delivery attempt succeeded; if not, the worker's redelivery loop retries. */
  readonly delivered: boolean;
}

export type UsageAlertCheckResult =
  | {
      readonly status: 'checked';
      readonly customerId: string;
      readonly period: string;
      /** Σ event_count of the running totals valued. */
      readonly eventCount: string;
      readonly currency: string;
      /** Month-to-date usage lines plus discounts. */
      readonly usage: string;
      readonly exact: boolean;
      readonly references: UsageAlertReferences;
      /** The thresholds this check recorded (each once, for good). */
      readonly alerts: readonly RecordedUsageAlert[];
    }
  | { readonly status: 'no_usage'; readonly customerId: string; readonly period: string }
  /** The customer's terms cannot be used (no contract file, an invalid one, a rate card the engine refuses). */
  | { readonly status: 'skipped'; readonly customerId: string; readonly period: string; readonly reason: string };

/** `usage_alert:<customer>:<period>:<basis>:<pct>`: one notification per threshold, basis and period. */
function usageAlertNotificationKey(
  customerId: string,
  period: string,
  basis: UsageAlertBasis,
  thresholdPct: UsageAlertThresholdPct,
): string {
  return `usage_alert:${customerId}:${period}:${basis}:${thresholdPct}`;
}

/**
 * Checks one customer-period: values its running totals (never its events), compares the usage
 * charges with the commit and the prepaid balance, and records each newly reached threshold once —
 * the `usage_alerts` row and its notification in one transaction, with the check's watermark — then
 * tries the webhook once per new alert. Idempotent: a second run over the same totals records
 * nothing; a crash after the commit leaves undelivered notifications for the worker's redelivery
 * loop. Checks of one customer-period are serialised by an advisory lock.
 */
export async function checkUsageAlerts(
  deps: UsageAlertDependencies,
  input: { customerId: string; period: string },
): Promise<UsageAlertCheckResult> {
  const { pool } = deps;
  const { customerId } = input;
  const period = billingPeriod(input.period);
  const reading = await loadRunningTotals(pool, customerId, period.name);
  if (reading.updatedThrough === undefined) return { status: 'no_usage', customerId, period: period.name };
  const watermark = {
    customerId,
    period: period.name,
    eventCount: reading.eventCount,
    checkedThrough: reading.updatedThrough,
  };

  let terms: CustomerTerms;
  let valuation: RunningTotalValuation;
  try {
    terms = await deps.terms.current(customerId);
    valuation = valueRunningTotals({
      customerId,
      period,
      contract: terms.contract,
      versions: terms.versions,
      totals: reading.totals,
      asOf: reading.updatedThrough,
    });
  } catch (error) {
    if (!isTermsProblem(error)) throw error;
    // Recorded so that the same totals are not tried again; more usage (or a restart's full scan) tries again.
    await recordUsageAlertCheck(pool, { ...watermark, skippedReason: error.message });
    return { status: 'skipped', customerId, period: period.name, reason: error.message };
  }

  const [usable, balances] = await Promise.all([
    usableCredits(pool, { customerId, period: period.name }),
    creditBalances(pool, customerId),
  ]);
  const prepaid = prepaidBalanceAtPeriodStart({
    period,
    currency: valuation.currency,
    contractCredits: terms.contract.credits,
    ledgerCreditIds: balances.map((credit) => credit.credit_id),
    ledgerUsable: usable.map((credit) => ({
      creditId: credit.credit_id,
      kind: credit.kind,
      openingBalance: credit.opening_balance,
    })),
  });
  const references: UsageAlertReferences = {
    ...(valuation.commit === undefined ? {} : { commit: valuation.commit }),
    ...(prepaid === undefined ? {} : { prepaid }),
  };
  const valuationKind = valuation.exact ? ('exact' as const) : ('estimate' as const);

  const pending = await withTransaction(pool, async (client) => {
    await lockUsageAlertCheck(client, customerId, period.name);
    // now() is the transaction's start: the crossed_at default of the rows below.
    const crossedAt = (await client.query<{ now: Date }>('SELECT now()')).rows[0]?.now.toISOString() ?? '';
    const notified = await recordedThresholds(client, customerId, period.name);
    const recorded: { alert: Omit<RecordedUsageAlert, 'delivered'>; payload: Record<string, unknown> }[] = [];
    for (const crossing of newThresholdCrossings({ usage: valuation.usage, references, notified })) {
      const notificationKey = usageAlertNotificationKey(customerId, period.name, crossing.basis, crossing.thresholdPct);
      const usedPct = usedPercent(crossing.usage, crossing.reference);
      const payload = {
        kind: 'usage_alert',
        customerId,
        period: period.name,
        basis: crossing.basis,
        thresholdPct: crossing.thresholdPct,
        usage: crossing.usage,
        reference: crossing.reference,
        currency: valuation.currency,
        usedPct,
        valuation: valuationKind,
        approximations: valuation.approximations,
        eventCount: reading.eventCount,
        crossedAt,
        message:
          `${customerId}: month-to-date usage charges for ${period.name} reached ${usedPct}% of the ${crossing.basis === 'commit' ? 'minimum commit' : 'prepaid balance'} ` +
          `(${crossing.usage} of ${crossing.reference} ${valuation.currency}${valuation.exact ? '' : ', estimated'})`,
      };
      await enqueueNotification(client, {
        notificationKey,
        kind: 'usage_alert',
        customerId,
        period: period.name,
        payload,
      });
      const inserted = await insertUsageAlert(client, {
        customerId,
        period: period.name,
        basis: crossing.basis,
        thresholdPct: crossing.thresholdPct,
        usageValue: crossing.usage,
        referenceAmount: crossing.reference,
        currency: valuation.currency,
        valuation: valuationKind,
        eventCount: reading.eventCount,
        notificationKey,
      });
      if (inserted)
        recorded.push({
          alert: {
            basis: crossing.basis,
            thresholdPct: crossing.thresholdPct,
            usage: crossing.usage,
            reference: crossing.reference,
            notificationKey,
          },
          payload,
        });
    }
    await recordUsageAlertCheck(client, {
      ...watermark,
      outcome: { usageValue: valuation.usage, currency: valuation.currency, valuation: valuationKind },
    });
    return recorded;
  });

  const alerts: RecordedUsageAlert[] = [];
  for (const { alert, payload } of pending) {
    alerts.push({ ...alert, delivered: await deliverNotification(deps, alert.notificationKey, payload) });
  }
  return {
    status: 'checked',
    customerId,
    period: period.name,
    eventCount: reading.eventCount,
    currency: valuation.currency,
    usage: valuation.usage,
    exact: valuation.exact,
    references,
    alerts,
  };
}

/**
 * How long an ingest transaction may run and still be noticed: a running total's `updated_at` is
 * its transaction's start, so a scan looks back this far past the previous one. A longer
 * transaction's change waits for the next change of that customer-period or a worker restart.
 */
const TOTALS_COMMIT_SLACK_MS = 10 * 60_000;

export interface UsageAlertScan {
  readonly results: readonly UsageAlertCheckResult[];
  readonly failures: readonly { readonly customerId: string; readonly period: string; readonly error: unknown }[];
  /** Pass as `since` next time: it moves only when every changed customer-period was checked. */
  readonly nextSince: string | undefined;
}

/**
 * The billing worker's alert loop, one pass: checks every customer-period whose running totals
 * changed since its last check (its Σ event_count differs from the watermark), looking only at totals
 * updated since `since` (all of them when undefined, as on start-up). A failed check (database
 * trouble) keeps `since` where it was, so the next pass tries it again.
 */
export async function checkChangedUsageAlerts(
  deps: UsageAlertDependencies,
  options: { readonly since?: string | undefined; readonly limit?: number; readonly slackMs?: number } = {},
): Promise<UsageAlertScan> {
  const limit = options.limit ?? 200;
  const scanStart = await totalsScanStart(deps.pool, options.slackMs ?? TOTALS_COMMIT_SLACK_MS);
  const changed = await listChangedCustomerPeriods(deps.pool, { since: options.since, limit });
  const results: UsageAlertCheckResult[] = [];
  const failures: { customerId: string; period: string; error: unknown }[] = [];
  for (const { customerId, period } of changed) {
    try {
      results.push(await checkUsageAlerts(deps, { customerId, period }));
    } catch (error) {
      failures.push({ customerId, period, error });
    }
  }
  const complete = failures.length === 0 && changed.length < limit;
  return { results, failures, nextSince: complete ? scanStart : options.since };
}

/** Problems with the customer's terms: permanent until someone edits the files, so the check is skipped. */
function isTermsProblem(error: unknown): error is Error {
  return (error instanceof TallyError && error.permanent) || error instanceof RatingInputError;
}
