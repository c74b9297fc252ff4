import { z } from 'zod';

/**
 * The one home of the text patterns that several boundaries check: an event's source and ids, and
 * decimal strings. A schema, a parser or the ingest worker that checks one of these imports it from
 * here, so the rule cannot drift between the paths an event or an amount can take.
 */

/** A producer's name: the subject token of its events (`usage.<source>`). */
export const SOURCE_PATTERN = /^[a-z0-9._-]{1,64}$/;
/** An event id, a customer id: what producers choose, and what becomes part of a message id. */
export const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
/** A decimal string with an optional sign ("-12.40", "0", "1500.25"): amounts. */
export const DECIMAL_PATTERN = /^-?\d+(\.\d+)?$/;
/** A decimal string without a sign: quantities and non-negative amounts. */
export const NON_NEGATIVE_DECIMAL_PATTERN = /^\d+(\.\d+)?$/;

export const SourceText = z.string().regex(SOURCE_PATTERN, 'source is 1-64 chars of [a-z0-9._-]');

/** An id field of the event contract, named in its message (`event_id`, `customer_id`). */
export function idText(field: string) {
  return z.string().regex(ID_PATTERN, `${field} is 1-128 chars of [A-Za-z0-9._:-]`);
}

/** An amount a person types (a review adjust): a signed decimal of at most 20 digits and 12 decimals. */
export const ENTERED_AMOUNT_PATTERN = /^-?\d{1,20}(\.\d{1,12})?$/;
