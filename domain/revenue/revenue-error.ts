import { TallyError } from '../../contracts/tally-error.ts';

export type RevenueErrorCode = 'invalid_day' | 'invalid_recognition_input' | 'invalid_account_mapping';

/** A permanent error of the recognition rules: retrying cannot fix it. */
export class RevenueError extends TallyError {
  declare readonly code: RevenueErrorCode;
  constructor(code: RevenueErrorCode, message: string) {
    super(code, message, { permanent: true });
  }
}
