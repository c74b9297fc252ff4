import { TallyError } from '../contracts/tally-error.ts';

/**
 * The console's and the CLI's known refusals. Each carries a stable code; the console answers it
 * with the HTTP status below (`{ "error": { "code", "message" } }`), the CLI prints the message.
 */
const ACCESS_ERROR_STATUS = {
  bad_request: 400,
  unauthenticated: 401,
  invalid_credentials: 401,
  forbidden: 403,
  csrf_invalid: 403,
  not_found: 404,
  decision_refused: 409,
  user_exists: 409,
  account_locked: 423,
  login_throttled: 429,
} as const;
export type AccessErrorCode = keyof typeof ACCESS_ERROR_STATUS;

export class AccessError extends TallyError {
  constructor(
    override readonly code: AccessErrorCode,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(code, message, { permanent: true });
  }

  get status(): number {
    return ACCESS_ERROR_STATUS[this.code];
  }
}
