import { signEvent } from '../contracts/event-signature.ts';
import type { RejectionReason } from '../contracts/rejection-reason.ts';
import type { SourceKeys } from '../contracts/source-keys.ts';
import { describeIssues, UnsignedUsageEventSchema, UsageEventSchema } from '../contracts/usage-event.ts';
import { addressUsageMessage, type OutgoingUsageMessage } from './usage-stream.ts';

export interface PrepareOptions {
  /** Signing keys by source; without one, events must already carry their signature. */
  readonly keys: SourceKeys | undefined;
  /** Sign again even when the event carries a signature. */
  readonly resign: boolean;
  readonly subjectPrefix: string;
}

export type PreparedEvent =
  | { readonly ok: true; readonly message: OutgoingUsageMessage; readonly signed: boolean }
  | {
      readonly ok: false;
      readonly reason: RejectionReason;
      readonly detail: string;
      readonly message: OutgoingUsageMessage;
    };

/**
 * A producer's step before publishing one event line: signs it when a key is given (and it is not
 * signed yet, or `resign`), and checks what the worker will check structurally, so that bad input
 * is reported with its line before it travels. A problem still carries the raw message, for callers
 * that publish invalid input on purpose (the worker then stores it as rejected).
 */
export function prepareEvent(line: string, options: PrepareOptions): PreparedEvent {
  const raw = Buffer.from(line, 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return {
      ok: false,
      reason: 'malformed_json',
      detail: error instanceof Error ? error.message : 'not JSON',
      message: addressUsageMessage(raw, undefined, options.subjectPrefix),
    };
  }
  const rawMessage = addressUsageMessage(raw, value, options.subjectPrefix);
  const record =
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  const hasSignature = record !== undefined && 'signature' in record;
  if (hasSignature && !options.resign) {
    const parsed = UsageEventSchema.safeParse(value);
    if (!parsed.success)
      return { ok: false, reason: 'schema_violation', detail: describeIssues(parsed.error), message: rawMessage };
    return { ok: true, message: rawMessage, signed: false };
  }
  const { signature: _signature, ...unsigned } = record ?? {};
  const parsed = UnsignedUsageEventSchema.safeParse(record === undefined ? value : unsigned);
  if (!parsed.success)
    return { ok: false, reason: 'schema_violation', detail: describeIssues(parsed.error), message: rawMessage };
  const secret =
    options.keys !== undefined && Object.hasOwn(options.keys, parsed.data.source)
      ? options.keys[parsed.data.source]
      : undefined;
  if (secret === undefined) {
    return {
      ok: false,
      reason: 'unknown_source',
      detail: `no signing key for source ${JSON.stringify(parsed.data.source)}${options.keys === undefined ? ' (give --keys)' : ' in the key file'}`,
      message: rawMessage,
    };
  }
  const signed = signEvent(parsed.data, secret);
  return {
    ok: true,
    message: addressUsageMessage(Buffer.from(JSON.stringify(signed), 'utf8'), signed, options.subjectPrefix),
    signed: true,
  };
}
