import { AzureBatchUsageResponseSchema, AzureErrorBodySchema } from '../../contracts/marketplace-wire.ts';
import type { MarketplaceRecord } from '../../domain/marketplace/index.ts';
import {
  httpStatusError,
  MarketplaceCallError,
  unansweredError,
  type MarketplaceAdapter,
  type RecordAnswer,
} from './marketplace-adapter.ts';

export interface AzureMeteringOptions {
  /** Base URL of the metering API (the emulator's in tests). */
  readonly endpoint: string;
  /** The bearer token of the publisher's Entra ID app, read per call (a file can be rotated under a running worker). */
  readonly token: () => Promise<string>;
  readonly requestTimeoutMs: number;
}

const API_VERSION = '2018-08-31';

/**
 * Azure Marketplace metered billing, `POST /api/batchUsageEvent` (REST, as documented): at most 25
 * events, one per resource, dimension and hour; the answer is 200 with a status per event even when
 * some failed. `Duplicate` carries the event Azure accepted earlier for that key, so a resend after a
 * lost answer tells what was accepted.
 */
export class AzureMeteringAdapter implements MarketplaceAdapter {
  readonly kind = 'azure' as const;

  constructor(private readonly options: AzureMeteringOptions) {}

  async sendCall(records: readonly MarketplaceRecord[], callId: string): Promise<RecordAnswer[]> {
    const events = records.map((entry) => {
      if (entry.kind !== 'azure') throw new Error(`an Azure call got a ${entry.kind} record (${entry.bucketId})`);
      return entry;
    });
    // The quantity is written as the decimal it is: a JSON number whose digits never passed through a float.
    const body = `{"request":[${events
      .map(({ record }) => {
        if (!/^\d{1,20}(\.\d{1,12})?$/.test(record.quantity))
          throw new MarketplaceCallError(
            'azure',
            'marketplace_invalid_request',
            `quantity ${record.quantity} is not a decimal`,
          );
        return `{"resourceId":${JSON.stringify(record.resourceId)},"quantity":${record.quantity},"dimension":${JSON.stringify(record.dimension)},"effectiveStartTime":${JSON.stringify(record.effectiveStartTime)},"planId":${JSON.stringify(record.planId)}}`;
      })
      .join(',')}]}`;
    let response: Response;
    let text: string;
    try {
      response = await fetch(
        `${this.options.endpoint.replace(/\/$/, '')}/api/batchUsageEvent?api-version=${API_VERSION}`,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${await this.options.token()}`,
            'x-ms-requestid': callId,
            'x-ms-correlationid': callId,
          },
          body,
          signal: AbortSignal.timeout(this.options.requestTimeoutMs),
        },
      );
      text = await response.text();
    } catch (error) {
      throw unansweredError('azure', error);
    }
    const failure = httpStatusError('azure', response.status, errorDetail(text));
    if (failure !== undefined) throw failure;
    const parsed = AzureBatchUsageResponseSchema.safeParse(safeJson(text));
    if (!parsed.success)
      throw new MarketplaceCallError(
        'azure',
        'marketplace_unavailable',
        `unreadable batch answer: ${text.slice(0, 200)}`,
      );

    const keyOf = (resourceId: string | undefined, dimension: string | undefined, start: string | undefined): string =>
      `${resourceId ?? ''}|${dimension ?? ''}|${start === undefined ? '' : hourKey(start)}`;
    const byKey = new Map(
      events.map(({ bucketId, record }) => [
        keyOf(record.resourceId, record.dimension, record.effectiveStartTime),
        bucketId,
      ]),
    );
    const answers = new Map<string, RecordAnswer>();
    parsed.data.result.forEach((result, index) => {
      const bucketId =
        byKey.get(keyOf(result.resourceId, result.dimension, result.effectiveStartTime)) ?? events[index]?.bucketId;
      if (bucketId === undefined || answers.has(bucketId)) return;
      const recordId = result.usageEventId === undefined ? {} : { marketplaceRecordId: result.usageEventId };
      if (result.status === 'Accepted') {
        answers.set(bucketId, { bucketId, answer: 'accepted', ...recordId });
      } else if (result.status === 'Duplicate') {
        const accepted = result.error?.additionalInfo?.acceptedMessage;
        answers.set(bucketId, {
          bucketId,
          answer: 'duplicate',
          reason: `Duplicate: ${result.error?.message ?? 'this usage event already exists'}`,
          ...(accepted?.usageEventId === undefined ? {} : { marketplaceRecordId: accepted.usageEventId }),
          // Azure's echo is a JSON number; Tally sends at most 15 significant digits, so it prints back the same decimal.
          ...(accepted?.quantity === undefined ? {} : { acceptedQuantity: String(accepted.quantity) }),
        });
      } else {
        answers.set(bucketId, {
          bucketId,
          answer: 'rejected',
          reason: `${result.status}${result.error?.message === undefined ? '' : `: ${result.error.message}`}`,
          ...recordId,
        });
      }
    });
    return events.map(
      ({ bucketId }) =>
        answers.get(bucketId) ?? { bucketId, answer: 'unprocessed', reason: 'no status in the batch answer' },
    );
  }
}

function hourKey(instant: string): string {
  // Azure echoes the time as sent or without a zone ("2018-12-01T08:30:14"): both are UTC.
  const withZone = /[zZ]|[+-]\d{2}:\d{2}$/.test(instant) ? instant : `${instant}Z`;
  const ms = Date.parse(withZone);
  return Number.isNaN(ms) ? instant : new Date(ms - (ms % 3_600_000)).toISOString();
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorDetail(text: string): string {
  const parsed = AzureErrorBodySchema.safeParse(safeJson(text));
  if (parsed.success && (parsed.data.code !== undefined || parsed.data.message !== undefined))
    return `${parsed.data.code ?? ''} ${parsed.data.message ?? ''}`.trim();
  return text.slice(0, 200);
}
