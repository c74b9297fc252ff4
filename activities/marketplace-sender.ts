import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { MarketplaceKind } from '../contracts/contract.ts';
import { ADVISORY_LOCKS } from '../db/advisory-locks.ts';
import { withTransaction } from '../db/pool.ts';
import {
  insertOutcomes,
  insertSendAnswers,
  insertSendAttempts,
  listUnsettledBuckets,
  nextAttempts,
  type OutcomeRow,
  type SendAnswerRow,
  type StoredBucket,
} from '../db/queries/marketplace.ts';
import { insertReviewException } from '../db/queries/review-exceptions.ts';
import {
  groupIntoCalls,
  listingValue,
  marketplaceRecord,
  MAX_RECORDS_PER_CALL,
  periodOfHour,
  reportDeadline,
  type ReportWindows,
} from '../domain/marketplace/index.ts';
import { Decimal, formatMoney } from '../domain/money.ts';
import { MarketplaceCallError, type MarketplaceAdapter, type RecordAnswer } from '../providers/marketplaces/index.ts';
import { marketplaceExceptionWorkflowId, type MarketplacePassSummary } from '../workflows/marketplace-definitions.ts';
import type { CustomerTerms } from '../terms/index.ts';

export interface SenderSettings {
  readonly windows: ReportWindows;
  /** Throttled calls are tried again within the pass this many times, backing off from 1 s. */
  readonly throttleRetries: number;
  /** Rounds of resending records the marketplace left unprocessed, within one pass. */
  readonly unprocessedRounds: number;
}

export interface SenderDependencies {
  readonly pool: pg.Pool;
  readonly loadTerms: (customerId: string) => Promise<CustomerTerms>;
  readonly sleep: (ms: number) => Promise<void>;
  /** Tells Temporal the pass is alive (before each call): a worker that died mid-call is noticed within the heartbeat timeout. */
  readonly heartbeat?: (detail: string) => void;
}

type Counts = { -readonly [K in 'calls' | 'accepted' | 'duplicate' | 'rejected' | 'expired' | 'unknown']: number };

/**
 * One send pass for one marketplace, exactly once in effect:
 *
 * 1. Under the marketplace's send lock (one sender at a time; a second one returns `busy`).
 * 2. Records whose window has closed get their final outcome now: `expired`, or `unknown` when a
 *    call with them went unanswered (the marketplace may have them): an exception for finance.
 * 3. Records in doubt (sent, answer lost) go first, alone: the same record again, which each
 *    marketplace answers from what it accepted (AWS: Success for the identical record; Azure:
 *    Duplicate with the accepted event; Google: deduplicated by operationId). Only then new records.
 * 4. Every call is written down before it goes out (an attempt row per record); every answer after.
 *    A call that fails for a record in it (AWS TimestampOutOfBounds rejects the whole batch) is
 *    split until the record is found; throttled calls back off and retry; a lost answer stops the
 *    pass with the records in doubt (the activity's retry, or the next pass, finds out).
 */
export async function sendMarketplacePass(
  deps: SenderDependencies,
  settings: SenderSettings,
  marketplace: MarketplaceKind,
  adapter: MarketplaceAdapter | undefined,
  asOf: string,
): Promise<MarketplacePassSummary> {
  const counts: Counts = { calls: 0, accepted: 0, duplicate: 0, rejected: 0, expired: 0, unknown: 0 };
  const exceptionIds: string[] = [];
  const lockClient = await deps.pool.connect();
  let locked = false;
  try {
    const lock = await lockClient.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked',
      [ADVISORY_LOCKS.MARKETPLACE_SEND, marketplace],
    );
    locked = lock.rows[0]?.locked === true;
    if (!locked) return summary(marketplace, 'busy', counts, 0, exceptionIds);

    const unsettled = await listUnsettledBuckets(deps.pool, { marketplace });
    const expired = unsettled.filter((bucket) => reportDeadline(marketplace, bucket.hour, settings.windows) <= asOf);
    const due = unsettled.filter((bucket) => reportDeadline(marketplace, bucket.hour, settings.windows) > asOf);
    await settleExpired(deps, expired, counts, exceptionIds);
    if (adapter === undefined) return summary(marketplace, 'not_configured', counts, due.length, exceptionIds);

    const inDoubt = due.filter((bucket) => bucket.attempts > 0 && bucket.lastAnswer === null);
    const fresh = due.filter((bucket) => !(bucket.attempts > 0 && bucket.lastAnswer === null));
    const refused: Refused[] = [];
    const send = makeSender(deps, settings, adapter, counts, refused);
    try {
      let unprocessed = await send(inDoubt);
      unprocessed = [...unprocessed, ...(await send(fresh))];
      for (let round = 0; round < settings.unprocessedRounds && unprocessed.length > 0; round += 1) {
        await deps.sleep(1000 * 2 ** round);
        unprocessed = await send(unprocessed);
      }
    } finally {
      // Refusals of the whole pass, one exception per customer (also when the pass stops early).
      await settleRefused(deps, refused, counts, exceptionIds);
    }
    const left = await listUnsettledBuckets(deps.pool, { marketplace });
    return summary(
      marketplace,
      'sent',
      counts,
      left.filter((bucket) => reportDeadline(marketplace, bucket.hour, settings.windows) > asOf).length,
      exceptionIds,
    );
  } finally {
    if (locked)
      await lockClient
        .query('SELECT pg_advisory_unlock($1, hashtext($2))', [ADVISORY_LOCKS.MARKETPLACE_SEND, marketplace])
        .catch(() => undefined);
    lockClient.release();
  }
}

function summary(
  marketplace: MarketplaceKind,
  status: MarketplacePassSummary['status'],
  counts: Counts,
  pending: number,
  exceptionIds: readonly string[],
): MarketplacePassSummary {
  return { marketplace, status, ...counts, pending, exceptionIds: [...exceptionIds] };
}

/**
 * Closed windows: the final outcome, and one exception per customer with what the marketplace will
 * not bill. An AWS hour with 0 to send loses nothing: settled as expired without an exception.
 */
async function settleExpired(
  deps: SenderDependencies,
  expired: readonly StoredBucket[],
  counts: Counts,
  exceptionIds: string[],
): Promise<void> {
  const empty = expired.filter((bucket) => bucket.sentQuantity === '0' && bucket.attempts === 0);
  if (empty.length > 0) {
    const settled = await insertOutcomes(
      deps.pool,
      empty.map((bucket) => ({
        bucketId: bucket.bucketId,
        outcome: 'expired',
        reason: 'its window closed; it had nothing to report',
      })),
    );
    counts.expired += settled.length;
  }
  const lost = expired.filter((bucket) => !empty.includes(bucket));
  for (const [customerId, buckets] of groupBy(lost, (bucket) => bucket.customerId)) {
    const outcomes = buckets.map((bucket) => {
      const inDoubt = bucket.attempts > 0 && bucket.lastAnswer === null;
      return {
        bucket,
        outcome: inDoubt ? ('unknown' as const) : ('expired' as const),
        reason: inDoubt
          ? 'its window closed while the answer to a call with it was lost: the marketplace may or may not have it'
          : `its window closed before it was accepted${bucket.lastAnswer === null ? '' : ` (last answer: ${bucket.lastAnswer})`}`,
      };
    });
    await settleWithException(deps, customerId, outcomes, exceptionIds);
    for (const entry of outcomes) counts[entry.outcome] += 1;
  }
}

/**
 * Final outcomes that lose revenue (expired, unknown, rejected, a conflicting duplicate) with their
 * exception, in one transaction: only the outcomes this call settles are on the exception, whose id
 * comes from the first of them, so a retry opens nothing twice.
 */
async function settleWithException(
  deps: SenderDependencies,
  customerId: string,
  outcomes: readonly {
    bucket: StoredBucket;
    outcome: OutcomeRow['outcome'];
    reason: string;
    answer?: RecordAnswer;
    attempt?: number;
  }[],
  exceptionIds: string[],
): Promise<void> {
  const first = outcomes[0];
  if (first === undefined) return;
  const exceptionId = `exc:mkt:failed:${first.bucket.bucketId}`;
  const terms = await deps.loadTerms(customerId).catch(() => undefined);
  const valued = outcomes.map((entry) => {
    const quantity = new Decimal(entry.bucket.sentQuantity).times(entry.bucket.unitSize);
    const value =
      terms === undefined
        ? undefined
        : listingValue(terms.versions, entry.bucket.dimension, entry.bucket.hour, quantity);
    return { ...entry, value };
  });
  const currency = valued.find((entry) => entry.value !== undefined)?.value?.currency;
  const atRisk =
    currency === undefined
      ? undefined
      : formatMoney(
          valued.reduce((sum, entry) => sum.plus(entry.value?.amount ?? '0'), new Decimal(0)),
          currency,
        );
  await withTransaction(deps.pool, async (client) => {
    const settled = new Set(
      await insertOutcomes(
        client,
        outcomes.map((entry) => ({
          bucketId: entry.bucket.bucketId,
          outcome: entry.outcome,
          reason: entry.reason,
          exceptionId,
          ...(entry.attempt === undefined ? {} : { attempt: entry.attempt }),
          ...(entry.answer?.marketplaceRecordId === undefined
            ? {}
            : { marketplaceRecordId: entry.answer.marketplaceRecordId }),
          ...(entry.answer?.acceptedQuantity === undefined ? {} : { acceptedQuantity: entry.answer.acceptedQuantity }),
        })),
      ),
    );
    const mine = valued.filter((entry) => settled.has(entry.bucket.bucketId));
    if (mine.length === 0) return;
    const marketplace = first.bucket.marketplace;
    const inserted = await insertReviewException(client, {
      exceptionId,
      invoiceId: null,
      customerId,
      period: periodOfHour(first.bucket.hour),
      kind: 'marketplace_report_failed',
      breaches: mine.map((entry) => ({
        rule: `marketplace_${entry.outcome}`,
        detail: `${entry.bucket.dimension} ${entry.bucket.hour} (${entry.bucket.sentQuantity} units): ${entry.reason}`,
      })),
      context: {
        marketplace,
        amountAtRisk: atRisk ?? null,
        currency: currency ?? null,
        records: mine.map((entry) => ({
          bucketId: entry.bucket.bucketId,
          dimension: entry.bucket.dimension,
          hour: entry.bucket.hour,
          sentQuantity: entry.bucket.sentQuantity,
          outcome: entry.outcome,
          reason: entry.reason,
          acceptedQuantity: entry.answer?.acceptedQuantity ?? null,
          value: entry.value ?? null,
          record: marketplaceRecord(entry.bucket).record,
        })),
      },
      workflowId: marketplaceExceptionWorkflowId(exceptionId),
    });
    if (inserted) exceptionIds.push(exceptionId);
  });
}

/** A record the marketplace refused for good, or whose key it holds with another quantity. */
interface Refused {
  readonly bucket: StoredBucket;
  readonly attempt: number;
  readonly answer: RecordAnswer;
}

async function settleRefused(
  deps: SenderDependencies,
  refused: readonly Refused[],
  counts: Counts,
  exceptionIds: string[],
): Promise<void> {
  for (const [customerId, group] of groupBy(refused, (entry) => entry.bucket.customerId)) {
    await settleWithException(
      deps,
      customerId,
      group.map((entry) => ({
        bucket: entry.bucket,
        attempt: entry.attempt,
        answer: entry.answer,
        outcome: entry.answer.answer === 'duplicate' ? ('duplicate' as const) : ('rejected' as const),
        reason:
          entry.answer.answer === 'duplicate'
            ? `${entry.answer.reason ?? 'duplicate'}; Tally's record says ${entry.bucket.sentQuantity}${entry.answer.acceptedQuantity === undefined ? '' : `, the marketplace holds ${entry.answer.acceptedQuantity}`}`
            : (entry.answer.reason ?? 'rejected'),
      })),
      exceptionIds,
    );
    for (const entry of group) counts[entry.answer.answer === 'duplicate' ? 'duplicate' : 'rejected'] += 1;
  }
}

/** Sends records in calls; returns those the marketplace left unprocessed (to try again). */
function makeSender(
  deps: SenderDependencies,
  settings: SenderSettings,
  adapter: MarketplaceAdapter,
  counts: Counts,
  refused: Refused[],
): (buckets: readonly StoredBucket[]) => Promise<StoredBucket[]> {
  const sendCall = async (buckets: readonly StoredBucket[], throttled = 0): Promise<StoredBucket[]> => {
    const callId = randomUUID();
    const attempts = await nextAttempts(
      deps.pool,
      buckets.map((bucket) => bucket.bucketId),
    );
    const attemptOf = (bucket: StoredBucket): number => attempts.get(bucket.bucketId) ?? 1;
    // Written before the call: if the answer never comes back, these attempts are in doubt.
    await insertSendAttempts(
      deps.pool,
      buckets.map((bucket) => ({ bucketId: bucket.bucketId, attempt: attemptOf(bucket), callId })),
    );
    counts.calls += 1;
    deps.heartbeat?.(`call ${callId}: ${buckets.length} records`);
    let answers: RecordAnswer[];
    try {
      answers = await adapter.sendCall(buckets.map(marketplaceRecord), callId);
    } catch (error) {
      if (!(error instanceof MarketplaceCallError)) throw error;
      if (error.mayHaveBeenProcessed) throw error; // in doubt: no answer is written; the next try resends first
      const reason = error.details.reason ?? error.message;
      await insertSendAnswers(
        deps.pool,
        buckets.map((bucket) => ({
          bucketId: bucket.bucketId,
          attempt: attemptOf(bucket),
          answer: error.code === 'marketplace_throttled' ? 'throttled' : 'batch_rejected',
          reason,
        })),
      );
      if (error.code === 'marketplace_throttled') {
        if (throttled >= settings.throttleRetries) throw error;
        await deps.sleep(1000 * 2 ** throttled);
        return sendCall(buckets, throttled + 1);
      }
      if (error.code === 'marketplace_call_rejected') {
        if (buckets.length > 1) {
          // One record spoils the whole call: send the halves apart until it is alone.
          const middle = Math.ceil(buckets.length / 2);
          return [...(await sendCall(buckets.slice(0, middle))), ...(await sendCall(buckets.slice(middle)))];
        }
        await recordFinalAnswers(
          buckets.map((bucket) => ({
            bucket,
            attempt: attemptOf(bucket),
            answer: { bucketId: bucket.bucketId, answer: 'rejected', reason },
          })),
        );
        return [];
      }
      throw error; // permanent: credentials, configuration; the records wait for a person
    }
    const byBucket = new Map(answers.map((answer) => [answer.bucketId, answer]));
    const rows: SendAnswerRow[] = [];
    const final: { bucket: StoredBucket; attempt: number; answer: RecordAnswer }[] = [];
    const unprocessed: StoredBucket[] = [];
    for (const bucket of buckets) {
      const answer = byBucket.get(bucket.bucketId) ?? {
        bucketId: bucket.bucketId,
        answer: 'unprocessed',
        reason: 'no answer for this record',
      };
      rows.push({
        bucketId: bucket.bucketId,
        attempt: attemptOf(bucket),
        answer: answer.answer,
        reason: answer.reason,
        marketplaceRecordId: answer.marketplaceRecordId,
        acceptedQuantity: answer.acceptedQuantity,
      });
      if (answer.answer === 'unprocessed') unprocessed.push(bucket);
      else final.push({ bucket, attempt: attemptOf(bucket), answer });
    }
    await insertSendAnswers(deps.pool, rows);
    await recordFinalAnswers(final);
    return unprocessed;
  };

  const recordFinalAnswers = async (
    entries: readonly { bucket: StoredBucket; attempt: number; answer: RecordAnswer }[],
  ): Promise<void> => {
    // Accepted, and a duplicate that holds our own quantity (a resend after a lost answer): settled, nothing lost.
    const good = entries.filter(
      (entry) =>
        entry.answer.answer === 'accepted' ||
        (entry.answer.answer === 'duplicate' &&
          entry.answer.acceptedQuantity !== undefined &&
          new Decimal(entry.answer.acceptedQuantity).equals(entry.bucket.sentQuantity)),
    );
    const settled = await insertOutcomes(
      deps.pool,
      good.map((entry) => ({
        bucketId: entry.bucket.bucketId,
        outcome: entry.answer.answer === 'accepted' ? 'accepted' : 'duplicate',
        reason: entry.answer.reason,
        marketplaceRecordId: entry.answer.marketplaceRecordId,
        acceptedQuantity: entry.answer.acceptedQuantity ?? entry.bucket.sentQuantity,
        attempt: entry.attempt,
      })),
    );
    for (const entry of good)
      if (settled.includes(entry.bucket.bucketId))
        counts[entry.answer.answer === 'accepted' ? 'accepted' : 'duplicate'] += 1;
    // Refused, or the marketplace holds another quantity under the key: revenue at stake, a person decides
    // (settled with one exception per customer at the end of the pass).
    refused.push(...entries.filter((entry) => !good.includes(entry)));
  };

  return async (buckets) => {
    const unprocessed: StoredBucket[] = [];
    for (const call of groupIntoCalls(buckets.map(marketplaceRecord), MAX_RECORDS_PER_CALL)) {
      const ids = new Set(call.map((record) => record.bucketId));
      unprocessed.push(...(await sendCall(buckets.filter((bucket) => ids.has(bucket.bucketId)))));
    }
    return unprocessed;
  };
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(key(item)) ?? [];
    group.push(item);
    groups.set(key(item), group);
  }
  return groups;
}
