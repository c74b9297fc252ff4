import { createHash } from 'node:crypto';
import type pg from 'pg';
import canonicalize from 'canonicalize';
import {
  parseEventCorrection,
  verifyCorrectionSignature,
  type CorrectionRejectionReason,
} from '../contracts/event-correction.ts';
import { canonicalEventBytes, verifySignature } from '../contracts/event-signature.ts';
import type { SourceKeys } from '../contracts/source-keys.ts';
import { withTransaction } from '../db/pool.ts';
import {
  findCorrectionByHash,
  findStoredEvent,
  insertCorrection,
  lastAcceptedCorrection,
  type CorrectionRow,
} from '../db/queries/event-corrections.ts';

/** What became of one line of a correction file. */
export type AmendOutcome =
  | {
      readonly line: number;
      readonly status: 'accepted';
      readonly correctionSeq: string;
      readonly action: 'void' | 'replace';
      readonly source: string;
      readonly eventId: string;
      /** False when this exact correction was recorded before (amending a file twice records it once). */
      readonly created: boolean;
    }
  | {
      readonly line: number;
      readonly status: 'rejected';
      readonly correctionSeq: string;
      readonly reason: CorrectionRejectionReason;
      readonly detail: string;
      readonly created: boolean;
    };

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Records the corrections of one file (SPEC §5), in order, in one transaction that holds the
 * corrections table against other writers (so "a second correction of an already-voided event"
 * is decided in the order the corrections are recorded). Every line is kept: accepted, or rejected
 * with its reason and detail, like a rejected event. Nothing in `usage_events` changes: the
 * corrected event set is the view `corrected_usage_events`.
 */
export async function amendEvents(
  pool: pg.Pool,
  input: { file: string; text: string; keys: SourceKeys; amendedBy: string },
): Promise<AmendOutcome[]> {
  const lines = input.text.split('\n');
  return withTransaction(pool, async (client) => {
    await client.query('LOCK TABLE event_corrections IN SHARE ROW EXCLUSIVE MODE');
    const outcomes: AmendOutcome[] = [];
    for (const [index, raw] of lines.entries()) {
      if (raw.trim() === '') continue;
      const line = index + 1;
      const base = { file: input.file, line, amendedBy: input.amendedBy };
      const parsed = parseEventCorrection(raw);
      const reject = async (
        reason: CorrectionRejectionReason,
        detail: string,
        value: unknown,
        known: Partial<Pick<CorrectionRow, 'source' | 'eventId' | 'action' | 'reason'>> = {},
      ) => {
        const canonical = value === undefined ? undefined : canonicalize(value);
        const stored = await insertCorrection(client, {
          ...base,
          correctionSha256: sha256Hex(canonical ?? raw),
          source: known.source,
          eventId: known.eventId,
          action: known.action,
          reason: known.reason,
          status: 'rejected',
          rejectCode: reason,
          rejectDetail: detail,
          correction: value ?? { raw },
        });
        outcomes.push({
          line,
          status: 'rejected',
          correctionSeq: stored.correctionSeq,
          reason,
          detail,
          created: stored.created,
        });
      };
      if (!parsed.ok) {
        const record =
          typeof parsed.value === 'object' && parsed.value !== null ? (parsed.value as Record<string, unknown>) : {};
        await reject(parsed.reason, parsed.detail, parsed.value, {
          ...(typeof record.source === 'string' ? { source: record.source } : {}),
          ...(typeof record.event_id === 'string' ? { eventId: record.event_id } : {}),
        });
        continue;
      }
      const { correction, replacement } = parsed;
      const known = {
        source: correction.source,
        eventId: correction.event_id,
        action: correction.action,
        reason: correction.reason,
      };
      const correctionSha256 = sha256Hex(canonicalize(correction) ?? raw);
      // The same correction amended again (the same file twice): recorded once, reported as it was.
      const before = await findCorrectionByHash(client, correctionSha256);
      if (before !== undefined) {
        outcomes.push(
          before.status === 'accepted'
            ? {
                line,
                status: 'accepted',
                correctionSeq: before.correctionSeq,
                action: correction.action,
                source: correction.source,
                eventId: correction.event_id,
                created: false,
              }
            : {
                line,
                status: 'rejected',
                correctionSeq: before.correctionSeq,
                reason: before.rejectCode as CorrectionRejectionReason,
                detail: before.rejectDetail ?? '',
                created: false,
              },
        );
        continue;
      }
      const secret = Object.hasOwn(input.keys, correction.source) ? input.keys[correction.source] : undefined;
      if (secret === undefined) {
        await reject(
          'unknown_source',
          `no signing key for source ${JSON.stringify(correction.source)}`,
          correction,
          known,
        );
        continue;
      }
      if (!verifyCorrectionSignature(correction, secret)) {
        await reject('bad_signature', "signature: not the source's signature of this correction", correction, known);
        continue;
      }
      if (replacement !== undefined && !verifySignature(replacement, secret)) {
        await reject(
          'replacement_invalid',
          "event.signature: not the source's signature of the replacement",
          correction,
          known,
        );
        continue;
      }
      const stored = await findStoredEvent(client, correction.source, correction.event_id);
      if (stored === undefined) {
        await reject(
          'unknown_event',
          `event_id: no accepted event ${correction.source}:${correction.event_id}`,
          correction,
          known,
        );
        continue;
      }
      const last = await lastAcceptedCorrection(client, correction.source, correction.event_id);
      if (last?.action === 'void') {
        await reject(
          'already_voided',
          `event_id: ${correction.source}:${correction.event_id} was voided by correction #${last.correctionSeq}`,
          correction,
          known,
        );
        continue;
      }
      if (replacement !== undefined && replacement.customer_id !== stored.customerId) {
        await reject(
          'replacement_mismatch',
          `event.customer_id: a replace keeps the customer (${stored.customerId}), not ${replacement.customer_id}`,
          correction,
          known,
        );
        continue;
      }
      const result = await insertCorrection(client, {
        ...base,
        ...known,
        correctionSha256,
        status: 'accepted',
        correction,
        customerId: stored.customerId,
        originalEventTime: stored.eventTime,
        ...(replacement === undefined
          ? {}
          : {
              replacement: {
                eventTime: replacement.timestamp,
                unit: replacement.unit,
                sku: replacement.metadata.sku as string,
                quantity: replacement.quantity,
                metadata: replacement.metadata,
                bodySha256: sha256Hex(canonicalEventBytes(replacement)),
              },
            }),
      });
      outcomes.push({
        line,
        status: 'accepted',
        correctionSeq: result.correctionSeq,
        action: correction.action,
        source: correction.source,
        eventId: correction.event_id,
        created: result.created,
      });
    }
    return outcomes;
  });
}
