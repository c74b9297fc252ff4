import { GcpErrorBodySchema, GcpReportResponseSchema, GOOGLE_RPC_CODES } from '../../contracts/marketplace-wire.ts';
import type { MarketplaceRecord } from '../../domain/marketplace/index.ts';
import {
  httpStatusError,
  MarketplaceCallError,
  unansweredError,
  type MarketplaceAdapter,
  type RecordAnswer,
} from './marketplace-adapter.ts';

export interface GcpServiceControlOptions {
  /** Base URL of Service Control (the emulator's in tests). */
  readonly endpoint: string;
  /** An OAuth access token of the service account, read per call. */
  readonly token: () => Promise<string>;
  readonly requestTimeoutMs: number;
}

/**
 * Google Cloud Marketplace usage through Service Control, `POST /v1/services/{service}:report`
 * (REST, as documented). Operations are deduplicated by operationId (UUIDv5 of the bucket), so a
 * resend is harmless; the answer lists only the operations that failed (`reportErrors`).
 */
export class GcpServiceControlAdapter implements MarketplaceAdapter {
  readonly kind = 'gcp' as const;

  constructor(private readonly options: GcpServiceControlOptions) {}

  async sendCall(records: readonly MarketplaceRecord[], _callId?: string): Promise<RecordAnswer[]> {
    const operations = records.map((entry) => {
      if (entry.kind !== 'gcp') throw new Error(`a Google call got a ${entry.kind} record (${entry.bucketId})`);
      return entry;
    });
    const serviceName = operations[0]?.serviceName;
    if (serviceName === undefined) return [];
    if (operations.some((entry) => entry.serviceName !== serviceName))
      throw new MarketplaceCallError(
        'gcp',
        'marketplace_invalid_request',
        'one services.report call reports to one service',
      );
    let response: Response;
    let text: string;
    try {
      response = await fetch(
        `${this.options.endpoint.replace(/\/$/, '')}/v1/services/${encodeURIComponent(serviceName)}:report`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${await this.options.token()}` },
          body: JSON.stringify({ operations: operations.map((entry) => entry.record) }),
          signal: AbortSignal.timeout(this.options.requestTimeoutMs),
        },
      );
      text = await response.text();
    } catch (error) {
      throw unansweredError('gcp', error);
    }
    if (response.status === 400) {
      // INVALID_ARGUMENT for the request as a whole: some operation in it is malformed. Nothing was reported.
      throw new MarketplaceCallError('gcp', 'marketplace_call_rejected', `400: ${errorDetail(text)}`, {
        httpStatus: 400,
        reason: `INVALID_ARGUMENT: ${errorDetail(text)}`,
      });
    }
    const failure = httpStatusError('gcp', response.status, errorDetail(text));
    if (failure !== undefined) throw failure;
    const parsed = GcpReportResponseSchema.safeParse(safeJson(text));
    if (!parsed.success)
      throw new MarketplaceCallError(
        'gcp',
        'marketplace_unavailable',
        `unreadable report answer: ${text.slice(0, 200)}`,
      );
    const errors = new Map((parsed.data.reportErrors ?? []).map((entry) => [entry.operationId, entry.status]));
    return operations.map(({ bucketId, record }) => {
      const status = errors.get(record.operationId);
      if (status === undefined) return { bucketId, answer: 'accepted', marketplaceRecordId: record.operationId };
      const name = GOOGLE_RPC_CODES[status.code] ?? `code ${status.code}`;
      // RESOURCE_EXHAUSTED and UNAVAILABLE for one operation: not taken this time, send again.
      if (status.code === 8 || status.code === 14)
        return { bucketId, answer: 'unprocessed', reason: `${name}: ${status.message ?? ''}`.trim() };
      return {
        bucketId,
        answer: 'rejected',
        reason: `${name}: ${status.message ?? ''}`.trim(),
        marketplaceRecordId: record.operationId,
      };
    });
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorDetail(text: string): string {
  const parsed = GcpErrorBodySchema.safeParse(safeJson(text));
  if (parsed.success) return `${parsed.data.error.status ?? ''} ${parsed.data.error.message ?? ''}`.trim();
  return text.slice(0, 200);
}
