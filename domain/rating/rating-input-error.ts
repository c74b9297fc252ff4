import { TallyError } from '../../contracts/tally-error.ts';

/** Why the engine refused its input. Permanent: the same input fails the same way (activities make it non-retryable). */
export type RatingInputErrorCode =
  | 'invalid_instant'
  | 'no_ratecard_versions'
  | 'ratecard_mismatch'
  | 'currency_mismatch'
  | 'customer_mismatch'
  | 'duplicate_version'
  | 'unknown_version_segment'
  | 'ambiguous_price'
  | 'inconsistent_price'
  | 'invalid_aggregate'
  | 'invalid_credit_balance';

export class RatingInputError extends TallyError {
  declare readonly code: RatingInputErrorCode;
  constructor(code: RatingInputErrorCode, message: string) {
    super(code, message, { permanent: true });
  }
}
