/**
 * The one base type of Tally's known failures (STYLE.md convention 7).
 *
 * - `code` is stable: tests, the CLI, review exceptions and logs key on it, never on the message.
 * - `permanent` says whether trying again can help. A bad file, an unknown customer or an unpublished
 *   rate card stay wrong until a person acts; a database restart or a provider's 503 do not.
 *
 * Nothing else decides retryability: `activities/activity-failures.ts` turns a permanent TallyError
 * into a non-retryable Temporal failure in one place (the workflow then asks a person), and the CLI
 * prints a TallyError's message plainly while anything else is reported as a bug, with its stack.
 */
export class TallyError extends Error {
  readonly code: string;
  readonly permanent: boolean;

  constructor(code: string, message: string, options: { readonly permanent: boolean; readonly cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.permanent = options.permanent;
  }
}
