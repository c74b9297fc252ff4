import type pg from 'pg';
import type { AnomalyRoutes } from '../contracts/anomaly-routes.ts';
import type { CostVersion } from '../contracts/costs.ts';
import { TallyError } from '../contracts/tally-error.ts';
import { withTransaction } from '../db/pool.ts';
import {
  dailyUsageTotals,
  insertAnomaly,
  insertDelivery,
  markSuppressed,
  pendingDeliveries,
  recordDeliveryAttempt,
  recordScan,
  snoozeOfSeries,
  type AnomalyRecordInput,
} from '../db/queries/anomalies.ts';
import { DailyUsageAggregator } from '../domain/anomalies/daily-series.ts';
import { anomalyKind, BASELINE_DAYS, detectAnomalies, type Anomaly } from '../domain/anomalies/detector.ts';
import { anomalyId, routeAnomaly } from '../domain/anomalies/routing.ts';
import { dayNumber, dayText } from '../domain/anomalies/utc-days.ts';
import { WebhookError, type WebhookNotifier } from '../providers/webhook-notifier.ts';

export interface AnomalyDependencies {
  readonly pool: pg.Pool;
  /** Finance's unit costs as of now (read on every run: a new version counts from the next day); undefined: no COGS. */
  readonly costs?: () => Promise<{ readonly versions: readonly CostVersion[]; readonly currency: string }>;
  /** The routing file as of now; undefined: anomalies are recorded, not alerted. */
  readonly routes?: () => Promise<AnomalyRoutes>;
  readonly notifierFor: (url: string) => WebhookNotifier;
}

export interface DayScanResult {
  readonly day: string;
  readonly series: number;
  readonly anomalies: number;
  /** Recorded by this run (a rerun of the day records none). */
  readonly recorded: number;
  /** Deliveries this run queued (one per new anomaly and target). */
  readonly routed: number;
  /** New anomalies not alerted because their series is snoozed. */
  readonly suppressed: number;
}

export interface DeliveryResult {
  readonly delivered: number;
  /** Refused by their target (a 4xx): kept on record, never retried. */
  readonly refused: number;
  /** Still pending after this attempt (the target unreachable or failing): the activity's retry sends them. */
  readonly pending: number;
}

/** How many days of history are read before the day scanned: two baselines, so a series' first usage is known. */
const HISTORY_DAYS = 2 * BASELINE_DAYS;

/**
 * The daily anomaly run's steps (SPEC §10). `detectDayAnomalies` scores one UTC day of stored usage
 * (and COGS) with the same detector as `tally anomalies scan`, records each anomaly once and queues
 * one delivery per route target, in one transaction; `deliverAnomalyAlerts` posts the queued
 * deliveries with the delivery's key as `Idempotency-Key`, each at most until it succeeds.
 */
export function createAnomalyActivities(deps: AnomalyDependencies) {
  return {
    async detectDayAnomalies(input: { day: string }): Promise<DayScanResult> {
      const dayNumberValue = dayNumber(input.day);
      if (dayNumberValue === undefined)
        throw new TallyError('invalid_day', `not a UTC day: ${input.day}`, { permanent: true });
      const costs = deps.costs === undefined ? undefined : await deps.costs();
      const routes = deps.routes === undefined ? undefined : await deps.routes();
      const dimensionKeys = [
        ...new Set(
          (costs?.versions ?? []).flatMap((version) => version.costs.flatMap((entry) => Object.keys(entry.dimensions))),
        ),
      ].sort();
      const firstDay = dayNumberValue - HISTORY_DAYS;
      const rows = await dailyUsageTotals(deps.pool, { fromDay: dayText(firstDay), toDay: input.day }, dimensionKeys);
      const aggregator = new DailyUsageAggregator(costs);
      // Each stored group adds like one event at the start of its day (its cost: the version in force then).
      for (const row of rows)
        aggregator.add({
          customer_id: row.customerId,
          timestamp: `${row.day}T00:00:00Z`,
          unit: row.unit,
          quantity: row.quantity,
          metadata: { ...row.dimensions, sku: row.sku },
        });
      const series = aggregator.toSeries(firstDay, dayNumberValue);
      const anomalies = detectAnomalies(series, { fromDay: dayNumberValue, toDay: dayNumberValue });
      return withTransaction(deps.pool, async (client) => {
        let recorded = 0;
        let routed = 0;
        let suppressed = 0;
        for (const anomaly of anomalies) {
          const id = anomalyId(anomaly);
          if (!(await insertAnomaly(client, toRecord(id, anomaly, costs?.currency)))) continue;
          recorded += 1;
          const snooze = await snoozeOfSeries(
            client,
            { metric: anomaly.metric, customerId: anomaly.customer_id, sku: anomaly.sku },
            anomaly.day,
          );
          if (snooze !== undefined) {
            await markSuppressed(client, id, `snoozed until ${snooze.until} (${snooze.anomalyId})`);
            suppressed += 1;
            continue;
          }
          for (const target of routes === undefined ? [] : routeAnomaly(anomaly, routes))
            if (await insertDelivery(client, { anomalyId: id, target: target.target, url: target.url })) routed += 1;
        }
        await recordScan(client, { day: input.day, series: series.length, anomalies: anomalies.length });
        return { day: input.day, series: series.length, anomalies: anomalies.length, recorded, routed, suppressed };
      });
    },

    async deliverAnomalyAlerts(): Promise<DeliveryResult> {
      let delivered = 0;
      let refused = 0;
      let pending = 0;
      const failures: string[] = [];
      for (const delivery of await pendingDeliveries(deps.pool, 1000)) {
        const key = `anomaly:${delivery.anomalyId}:${delivery.target}`;
        const { anomaly } = delivery;
        try {
          await deps.notifierFor(delivery.url).notify(key, {
            kind: 'anomaly',
            target: delivery.target,
            anomaly: {
              customer_id: anomaly.customerId,
              sku: anomaly.sku,
              day: anomaly.day,
              metric: anomaly.metric,
              value: anomaly.value,
              expected: anomaly.expected,
              lower: anomaly.lower,
              upper: anomaly.upper,
              score: anomaly.score,
              severity: anomaly.severity,
            },
            anomaly_kind: anomaly.kind,
            anomaly_id: anomaly.anomalyId,
          });
          await recordDeliveryAttempt(deps.pool, delivery, undefined);
          delivered += 1;
        } catch (error) {
          const permanent = error instanceof WebhookError && !error.retryable;
          await recordDeliveryAttempt(
            deps.pool,
            delivery,
            permanent ? 'refused' : error instanceof Error ? error.message : String(error),
          );
          if (permanent) refused += 1;
          else {
            pending += 1;
            failures.push(`${delivery.target}: ${error instanceof Error ? error.message : String(error)}`);
          }
        }
      }
      // Retryable failures fail the attempt, so the activity's retry policy sends them again with backoff.
      if (pending > 0)
        throw new Error(`${pending} anomaly alert${pending === 1 ? '' : 's'} not delivered yet (${failures[0]})`);
      return { delivered, refused, pending };
    },
  };
}

export type AnomalyActivities = ReturnType<typeof createAnomalyActivities>;

/** The anomaly as recorded: a COGS one with the currency its costs were summed in (its figures are money). */
function toRecord(id: string, anomaly: Anomaly, cogsCurrency: string | undefined): AnomalyRecordInput {
  return {
    anomalyId: id,
    metric: anomaly.metric,
    customerId: anomaly.customer_id,
    sku: anomaly.sku,
    day: anomaly.day,
    kind: anomalyKind(anomaly),
    value: anomaly.value,
    expected: anomaly.expected,
    lower: anomaly.lower,
    upper: anomaly.upper,
    score: anomaly.score,
    severity: anomaly.severity,
    currency: anomaly.metric === 'cogs' ? (cogsCurrency ?? null) : null,
  };
}
