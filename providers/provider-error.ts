import type { ProviderKind } from '../contracts/provider-sync.ts';
import { TallyError } from '../contracts/tally-error.ts';

/**
 * The stable codes of provider failures. `retryable` decides what the activity layer does:
 * retryable ones are thrown as they are (Temporal retries with backoff), permanent ones become
 * `ApplicationFailure.nonRetryable(message, code)`.
 */
const PROVIDER_ERROR_CODES = {
  /** Network error, timeout, lost response or a 5xx: the request may or may not have taken effect. */
  provider_unavailable: true,
  /** 429 (rate limit or lock timeout) after the provider's own backoff ran out. */
  provider_rate_limited: true,
  /** 409: a concurrent request holds the object or the idempotency key. */
  provider_conflict: true,
  /** Postgres unreachable or a transaction aborted by the server (serialization, deadlock, shutdown). */
  provider_storage_unavailable: true,
  /** 400 for a reason other than the ones below: the request is wrong and will stay wrong. */
  provider_invalid_request: false,
  /** 401: the API key is missing, wrong or revoked. */
  provider_authentication_failed: false,
  /** 402: the provider refused for a payment reason. */
  provider_payment_required: false,
  /** 403: the key may not do this. */
  provider_permission_denied: false,
  /** 404 on anything but the customer. */
  provider_not_found: false,
  /** The contract names a provider customer that does not exist (or was deleted). */
  provider_customer_not_found: false,
  /** The same idempotency key came with different parameters: the invoice's content changed after a first sync. */
  provider_idempotency_conflict: false,
  /** The provider already holds this invoice with different content (ledger) or a different external invoice. */
  provider_invoice_conflict: false,
  /** What the provider holds for this invoice does not match it (foreign or missing items, wrong amounts). */
  provider_invoice_mismatch: false,
  /** More lines than the provider accepts on one invoice. */
  provider_too_many_lines: false,
  /** An invoice line the provider cannot represent (amount out of range, key too long, …). */
  provider_unrepresentable_line: false,
  /** The target names another provider kind or is not configured in this process. */
  provider_not_configured: false,
  /** Every idempotency-key generation for one step replayed a stored server error. */
  provider_idempotency_keys_exhausted: false,
  /** A Postgres error that retrying will not fix. */
  provider_storage_error: false,
} as const satisfies Record<string, boolean>;
export type ProviderErrorCode = keyof typeof PROVIDER_ERROR_CODES;

export interface ProviderErrorDetails {
  readonly httpStatus?: number;
  /** The provider's own error code (Stripe's `code` or `type`), or the SQLSTATE. */
  readonly providerCode?: string;
  readonly requestId?: string;
  /** A 5xx that the provider replayed from its idempotency store: that key will keep failing. */
  readonly replayedServerError?: boolean;
  readonly cause?: unknown;
}

export class ProviderError extends TallyError {
  declare readonly code: ProviderErrorCode;
  readonly retryable: boolean;

  constructor(
    readonly provider: ProviderKind,
    code: ProviderErrorCode,
    message: string,
    readonly details: ProviderErrorDetails = {},
  ) {
    super(code, `${provider}: ${message}`, { permanent: !PROVIDER_ERROR_CODES[code], cause: details.cause });
    this.retryable = PROVIDER_ERROR_CODES[code];
  }

  get replayedServerError(): boolean {
    return this.details.replayedServerError === true;
  }
}

/**
 * Classifies an HTTP status of a provider API: network errors, timeouts, 409, 429 and 5xx are
 * retryable; 400, 401, 402, 403, 404 and other 4xx are permanent.
 */
export function providerErrorCodeForStatus(httpStatus: number | undefined): ProviderErrorCode {
  if (httpStatus === undefined || httpStatus >= 500) return 'provider_unavailable';
  switch (httpStatus) {
    case 409:
      return 'provider_conflict';
    case 429:
      return 'provider_rate_limited';
    case 401:
      return 'provider_authentication_failed';
    case 402:
      return 'provider_payment_required';
    case 403:
      return 'provider_permission_denied';
    case 404:
      return 'provider_not_found';
    default:
      return 'provider_invalid_request';
  }
}

/** SQLSTATE classes that a retry can outlive: connection (08), transaction rollback (40), resources (53), operator intervention (57). */
const RETRYABLE_SQLSTATE_CLASSES = ['08', '40', '53', '57'];
const RETRYABLE_NODE_CODES = ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND'];

/** Turns a Postgres (or pool) failure into a ProviderError with the right retry classification. */
export function storageError(provider: ProviderKind, error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  const code =
    typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : '';
  const message = error instanceof Error ? error.message : String(error);
  const retryable =
    (RETRYABLE_SQLSTATE_CLASSES.includes(code.slice(0, 2)) && /^[0-9A-Z]{5}$/.test(code)) ||
    RETRYABLE_NODE_CODES.includes(code) ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
      message,
    );
  return new ProviderError(
    provider,
    retryable ? 'provider_storage_unavailable' : 'provider_storage_error',
    `database: ${message}`,
    { providerCode: code || undefined, cause: error },
  );
}
