import type { CloseExceptionContext, ExceptionContext } from '../contracts/review-exception.ts';
import { assertNever } from '../domain/assert-never.ts';
import type { Command } from 'commander';
import type pg from 'pg';
import { findInvoice } from '../db/queries/invoices.ts';
import {
  findReviewException,
  listReviewExceptions,
  type ReviewExceptionRecord,
} from '../db/queries/review-exceptions.ts';
import { describeMoney, displayMoney } from '../domain/money.ts';
import type { ReviewDecision } from '../workflows/definitions.ts';
import { decideException, resolveReconciliationException } from '../access/index.ts';
import type { DecisionRequest } from '../contracts/console-api.ts';
import { authenticateCliUser } from './console-credentials.ts';
import { connectTemporal, printTable, withDatabase } from './services.ts';
import { TallyError } from '../contracts/tally-error.ts';
import { textTable } from '../views/text-table.ts';

export class ReviewCommandError extends TallyError {
  constructor(message: string) {
    super('review_failed', message, { permanent: true });
  }
}

/** Billing ops' exception queue. Decisions go through the workflow's `decide` update, the same path for every caller. */
export function registerReviewCommands(program: Command): void {
  const review = program.command('review');

  review
    .command('list')
    .description('exceptions waiting for a decision (or all with --all)')
    .option('--all', 'include decided exceptions')
    .option('--customer <id>', 'one customer only')
    .option('--json', 'machine-readable output')
    .action(async (options: { all?: boolean; customer?: string; json?: boolean }) => {
      await withDatabase(async (pool) => {
        const exceptions = await listReviewExceptions(pool, {
          ...(options.all ? {} : { status: 'waiting' as const }),
          ...(options.customer ? { customerId: options.customer } : {}),
        });
        if (options.json) return void process.stdout.write(`${JSON.stringify(exceptions, null, 2)}\n`);
        if (exceptions.length === 0) return void process.stdout.write('no exceptions waiting\n');
        printTable(
          exceptions.map((exception) => ({
            exception: exception.exceptionId,
            customer: exception.customerId,
            period: exception.period,
            kind: exception.kind,
            status: exception.status,
            opened: exception.openedAt,
            why: exception.breaches.map((breach) => breach.rule).join(', '),
          })),
          ['exception', 'customer', 'period', 'kind', 'status', 'opened', 'why'],
        );
      });
    });

  review
    .command('show <exception>')
    .description(
      'one exception with its full context: usage, contract, draft invoice, previous invoices, prior decisions',
    )
    .option('--json', 'machine-readable output')
    .action(async (exceptionId: string, options: { json?: boolean }) => {
      await withDatabase(async (pool) => {
        const exception = await requireException(pool, exceptionId);
        if (options.json) return void process.stdout.write(`${JSON.stringify(exception, null, 2)}\n`);
        printException(exception, { invoiceCurrencies: await previousInvoiceCurrencies(pool, exception) });
      });
    });

  const decide =
    (kind: ReviewDecision['kind']) =>
    async (exceptionId: string, options: { as?: string; reason?: string; note?: string; amount?: string }) => {
      await withDatabase(
        async (pool, endpoints) => {
          // Who decides is proven, never typed: a personal token (TALLY_USER_TOKEN) or --as NAME with its password.
          const user = await authenticateCliUser(pool, options.as === undefined ? {} : { as: options.as });
          const request: DecisionRequest =
            kind === 'approve'
              ? { kind, ...(options.note ? { note: options.note } : {}) }
              : kind === 'reject'
                ? { kind, reason: requireOption(options.reason, '--reason') }
                : {
                    kind,
                    reason: requireOption(options.reason, '--reason'),
                    amount: requireOption(options.amount, '--amount'),
                  };
          const temporal = await connectTemporal(endpoints);
          try {
            const outcome = await decideException({ pool, temporal: temporal.client }, user, exceptionId, request);
            process.stdout.write(`${outcome.message}\n`);
          } finally {
            await temporal.close();
          }
        },
        ['postgres', 'temporal'],
      );
    };

  const asOption = '--as <user>';
  const asHelp = 'decide as this console user (password from stdin or a prompt); default: the user of TALLY_USER_TOKEN';
  review
    .command('approve <exception>')
    .description('approve: the invoice is issued and synced')
    .option(asOption, asHelp)
    .option('--note <text>', 'a note kept with the decision')
    .action(decide('approve'));
  review
    .command('reject <exception>')
    .description('reject: the invoice is held and nothing is synced')
    .option(asOption, asHelp)
    .requiredOption('--reason <text>', 'why (kept with the decision)')
    .action(decide('reject'));
  review
    .command('adjust <exception>')
    .description('add an explicit adjustment line, then issue')
    .option(asOption, asHelp)
    .requiredOption('--reason <text>', 'why (printed on the line)')
    .requiredOption('--amount <decimal>', 'signed amount in the invoice currency, e.g. -25.00')
    .action(decide('adjust'));
  review
    .command('resolve <exception>')
    .description(
      'a reconciliation difference resolved by what corrected it: a journal entry in the ledger or a backfill (tally review approve --note acknowledges one that stands)',
    )
    .option(asOption, asHelp)
    .option('--entry <key>', 'the correcting journal entry (its entry key)')
    .option('--backfill <id>', 'the backfill plan that corrected it')
    .requiredOption('--note <text>', 'what was wrong and how it was put right')
    .action(async (exceptionId: string, options: { as?: string; entry?: string; backfill?: string; note: string }) => {
      await withDatabase(async (pool) => {
        const user = await authenticateCliUser(pool, options.as === undefined ? {} : { as: options.as });
        const outcome = await resolveReconciliationException(pool, user, exceptionId, {
          note: options.note,
          ...(options.entry === undefined ? {} : { entryKey: options.entry }),
          ...(options.backfill === undefined ? {} : { backfillId: options.backfill }),
        });
        process.stdout.write(
          `${exceptionId}: ${outcome.detail}${outcome.repeated ? ' (already recorded; nothing changed)' : ''}\n`,
        );
      });
    });
}

async function requireException(pool: pg.Pool, exceptionId: string): Promise<ReviewExceptionRecord> {
  const exception = await findReviewException(pool, exceptionId);
  if (exception === undefined) throw new ReviewCommandError(`no exception ${exceptionId} (see tally review list)`);
  return exception;
}

function requireOption(value: string | undefined, name: string): string {
  if (value === undefined || value.trim() === '') throw new ReviewCommandError(`${name} is required`);
  return value;
}

/**
 * The currency of each previous invoice the exception lists (its context keeps their totals only),
 * read from the invoices themselves, for `printException`.
 */
export async function previousInvoiceCurrencies(
  pool: pg.Pool,
  exception: ReviewExceptionRecord,
): Promise<ReadonlyMap<string, string>> {
  const previous = 'previousInvoices' in exception.context ? exception.context.previousInvoices : [];
  const invoices = await Promise.all(previous.map((invoice) => findInvoice(pool, invoice.invoiceId)));
  return new Map(
    invoices.flatMap((invoice) => (invoice === undefined ? [] : [[invoice.invoiceId, invoice.document.currency]])),
  );
}

/**
 * An exception as a reviewer reads it; `contract: false` leaves out the contract's terms (the demo's
 * short view). Every amount names its currency, on the figure or in its table's column heading
 * (`amount USD`); `invoiceCurrencies` (`previousInvoiceCurrencies`) gives the previous invoices' own.
 */
export function printException(
  exception: ReviewExceptionRecord,
  options: { contract?: boolean; invoiceCurrencies?: ReadonlyMap<string, string> } = {},
): void {
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out(`${exception.exceptionId}  ${exception.status}`);
  out(
    `customer ${exception.customerId}, period ${exception.period}, ${exception.invoiceId === null ? 'no invoice' : `invoice ${exception.invoiceId}`}, opened ${exception.openedAt}${exception.escalatedAt ? `, escalated ${exception.escalatedAt}` : ''}`,
  );
  out('\nwhy it stopped:');
  for (const breach of exception.breaches) out(`  - ${breach.rule}: ${breach.detail}`);
  switch (exception.kind) {
    case 'threshold':
    case 'provider_sync_failed':
    case 'unpublished_ratecard':
    case 'unknown_customer':
    case 'step_failed':
    case 'ingest_lagging':
      printCloseContext(out, exception.context, options);
      break;
    case 'shadow_variance':
      printShadowContext(out, exception.context);
      break;
    case 'reconciliation': {
      const difference = exception.context.reconciliation;
      out(`\n${difference.stage} (${difference.currency}${difference.sku === null ? '' : `, ${difference.sku}`}):`);
      out(
        indent(
          textTable(
            [`expected ${difference.currency}`, `actual ${difference.currency}`],
            [
              [
                displayMoney(difference.expected, difference.currency),
                displayMoney(difference.actual, difference.currency),
              ],
            ],
            { rightAligned: [0, 1] },
          ),
        ),
      );
      break;
    }
    case 'marketplace_over_report': {
      const report = exception.context.overReport;
      out(
        `\nover-reported to ${report.marketplace}: ${report.listingQuantity} ${report.dimension} in ${report.hour}; refund ${report.refundAmount === null ? 'amount unknown' : report.currency === null ? `${report.refundAmount} (currency unknown)` : describeMoney(report.refundAmount, report.currency)}`,
      );
      break;
    }
    case 'marketplace_window_at_risk':
    case 'marketplace_report_failed':
      out(`\n${exception.context.marketplace} records:`);
      out(
        indent(
          textTable(
            ['bucket', 'dimension', 'hour', 'quantity'],
            exception.context.records.map((record) => [
              record.bucketId,
              record.dimension,
              record.hour,
              record.sentQuantity,
            ]),
            { rightAligned: [3] },
          ),
        ),
      );
      break;
    default:
      assertNever(exception);
  }
  if (exception.decision)
    out(
      `\ndecision: ${JSON.stringify(exception.decision)} by ${exception.reviewer ?? '?'} at ${exception.decidedAt ?? '?'}`,
    );
}

/** The close's exceptions: the draft, the contract and the customer's history beside the breach. */
function printCloseContext(
  out: (line?: string) => void,
  context: CloseExceptionContext,
  options: { contract?: boolean; invoiceCurrencies?: ReadonlyMap<string, string> },
): void {
  if (context.draft) {
    const { currency } = context.draft;
    out(
      `\ndraft invoice (${currency}): subtotal ${describeMoney(context.draft.subtotal, currency)}, total ${describeMoney(context.draft.total, currency)}`,
    );
    out(
      indent(
        textTable(
          ['line', 'id', 'quantity', `amount ${currency}`],
          context.draft.lines.map((line) => [
            line.kind,
            ('price_id' in line ? line.price_id : 'credit_id' in line ? line.credit_id : '') ?? '',
            ('quantity' in line ? line.quantity : '') ?? '',
            displayMoney(line.amount, currency),
          ]),
          { rightAligned: [2, 3] },
        ),
      ),
    );
    for (const unpriced of context.draft.unpriced)
      out(`  unpriced: ${unpriced.sku} (${unpriced.unit}), ${unpriced.event_count} events`);
  }
  if (context.contract && options.contract !== false) out(`\ncontract: ${JSON.stringify(context.contract)}`);
  out('\nprevious invoices:');
  for (const previous of context.previousInvoices) {
    const currency = options.invoiceCurrencies?.get(previous.invoiceId);
    // Without the invoice's currency (the demo's short view) the total is marked, never shown as if bare money.
    const total =
      currency === undefined ? `total ${previous.total} (currency not read)` : describeMoney(previous.total, currency);
    out(`  ${previous.period}  ${previous.invoiceNumber ?? ''}  ${total}`);
  }
  if (context.previousInvoices.length === 0) out('  none');
  out('prior decisions:');
  for (const prior of context.priorDecisions)
    out(`  ${prior.exceptionId}  ${prior.status} by ${prior.reviewer ?? '?'} at ${prior.decidedAt ?? '?'}`);
  if (context.priorDecisions.length === 0) out('  none');
}

/** A shadow run's variance: both billers' totals and the line-by-line comparison with its causes. */
function printShadowContext(out: (line?: string) => void, context: ExceptionContext<'shadow_variance'>): void {
  const shadow = context.comparison;
  // The legacy biller's amounts are in its own currency when it differs from the invoice's (then there is no variance).
  const legacyCurrency = shadow.legacy_currency ?? shadow.currency;
  out(
    `\nshadow run ${context.shadowRun}: legacy ${describeMoney(shadow.legacy_total, legacyCurrency)}, Tally ${describeMoney(shadow.new_total, shadow.currency)}, variance ${shadow.variance === null ? '—' : describeMoney(shadow.variance, shadow.currency)} (${shadow.variance_pct ?? '—'} %)`,
  );
  out(
    indent(
      textTable(
        ['key', 'status', `legacy ${legacyCurrency}`, `tally ${shadow.currency}`, `delta ${shadow.currency}`, 'cause'],
        shadow.lines.map((line) => [
          line.key,
          line.status,
          line.legacy_amount === undefined ? '' : displayMoney(line.legacy_amount, legacyCurrency),
          line.new_amount === undefined ? '' : displayMoney(line.new_amount, shadow.currency),
          line.delta === undefined ? '' : displayMoney(line.delta, shadow.currency),
          line.cause ?? '',
        ]),
        { rightAligned: [2, 3, 4] },
      ),
    ),
  );
}

/** A table indented under its heading, without the trailing newline `out` adds itself. */
function indent(table: string): string {
  return table
    .trimEnd()
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}
