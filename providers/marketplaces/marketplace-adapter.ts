import type { MarketplaceKind } from '../../contracts/contract.ts';
import { TallyError } from '../../contracts/tally-error.ts';
import type { MarketplaceRecord } from '../../domain/marketplace/index.ts';

/** What the marketplace said of one record of a call. */
export interface RecordAnswer {
  readonly bucketId: string;
  /**
   * `accepted`: taken now (or an identical record earlier: AWS and Google do not tell the two apart).
   * `duplicate`: the marketplace already holds a record under this key (Azure names its quantity;
   * AWS's DuplicateRecord means another quantity). `rejected`: refused for good, with the
   * marketplace's reason. `unprocessed`: not taken this time (AWS UnprocessedRecords): send again.
   */
  readonly answer: 'accepted' | 'duplicate' | 'rejected' | 'unprocessed';
  readonly reason?: string;
  readonly marketplaceRecordId?: string;
  /** The quantity the marketplace says it holds (Azure's accepted event), as a decimal string. */
  readonly acceptedQuantity?: string;
}

/**
 * One marketplace's metering API. `sendCall` makes exactly one call (the SDK's own retries of it
 * aside) with at most 25 records that one call may carry (one AWS product, one Google service), and
 * answers for every record, or throws a MarketplaceCallError for the call as a whole.
 */
export interface MarketplaceAdapter {
  readonly kind: MarketplaceKind;
  sendCall(records: readonly MarketplaceRecord[], callId: string): Promise<RecordAnswer[]>;
}

const MARKETPLACE_CALL_ERROR_CODES = {
  /** Throttled (AWS ThrottlingException after the SDK's retries, HTTP 429): nothing was processed. */
  marketplace_throttled: { permanent: false, processed: 'none' },
  /** No answer (timeout, reset, lost response) or a server error: the call may have been processed. */
  marketplace_unavailable: { permanent: false, processed: 'unknown' },
  /** The whole call refused because of some record in it (AWS TimestampOutOfBounds, …): nothing processed. */
  marketplace_call_rejected: { permanent: false, processed: 'none' },
  /** Credentials missing, wrong or expired; the API disabled: nothing processed, and retrying will not help. */
  marketplace_authentication_failed: { permanent: true, processed: 'none' },
  /** This process has no endpoint or credentials for the marketplace. */
  marketplace_not_configured: { permanent: true, processed: 'none' },
  /** The request is wrong and will stay wrong. */
  marketplace_invalid_request: { permanent: true, processed: 'none' },
} as const satisfies Record<string, { permanent: boolean; processed: 'none' | 'unknown' }>;
export type MarketplaceCallErrorCode = keyof typeof MARKETPLACE_CALL_ERROR_CODES;

export class MarketplaceCallError extends TallyError {
  declare readonly code: MarketplaceCallErrorCode;

  constructor(
    readonly marketplace: MarketplaceKind,
    code: MarketplaceCallErrorCode,
    message: string,
    readonly details: { readonly reason?: string; readonly httpStatus?: number; readonly cause?: unknown } = {},
  ) {
    super(code, `${marketplace}: ${message}`, {
      permanent: MARKETPLACE_CALL_ERROR_CODES[code].permanent,
      cause: details.cause,
    });
  }

  /** Whether the marketplace may have taken the call's records (then they are in doubt). */
  get mayHaveBeenProcessed(): boolean {
    return MARKETPLACE_CALL_ERROR_CODES[this.code].processed === 'unknown';
  }
}

/** A fetch that got no HTTP answer (refused, reset, timed out): the request may have been processed. */
export function unansweredError(marketplace: MarketplaceKind, error: unknown): MarketplaceCallError {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const text = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
  return new MarketplaceCallError(marketplace, 'marketplace_unavailable', `no answer (${text})`, { cause: error });
}

/** The HTTP status of a marketplace's REST API as a call error, or undefined for 2xx. */
export function httpStatusError(
  marketplace: MarketplaceKind,
  status: number,
  detail: string,
): MarketplaceCallError | undefined {
  if (status >= 200 && status < 300) return undefined;
  if (status === 429)
    return new MarketplaceCallError(marketplace, 'marketplace_throttled', `throttled (429): ${detail}`, {
      httpStatus: status,
    });
  if (status >= 500)
    return new MarketplaceCallError(marketplace, 'marketplace_unavailable', `server error ${status}: ${detail}`, {
      httpStatus: status,
    });
  if (status === 401 || status === 403)
    return new MarketplaceCallError(marketplace, 'marketplace_authentication_failed', `${status}: ${detail}`, {
      httpStatus: status,
    });
  return new MarketplaceCallError(marketplace, 'marketplace_invalid_request', `${status}: ${detail}`, {
    httpStatus: status,
  });
}
