import os from 'node:os';
import type { Command } from 'commander';
import type pg from 'pg';
import type { Invoice } from '../contracts/invoice.ts';
import type { RateCardVersion } from '../contracts/ratecard.ts';
import { formatProblem } from '../contracts/yaml-config.ts';
import { createPool } from '../db/pool.ts';
import { listRateCardPublications, type RateCardPublication } from '../db/queries/ratecard-publications.ts';
import { Decimal, displayMoney, formatMoney } from '../domain/money.ts';
import { billingPeriod } from '../domain/period.ts';
import {
  creditBalancesFromContract,
  describeRateCardChanges,
  ratePeriod,
  CALCULATION_VERSION,
} from '../domain/rating/index.ts';
import { loadContractFile, loadRateCardFile, loadRateCardFolder, loadRateCardRoot } from '../config/config-files.ts';
import { loadSourceKeys } from './event-file.ts';
import { aggregateEventFile } from './offline-rating.ts';
import { ensureServices } from './services.ts';
import { printable, printableOneLine } from './terminal-text.ts';
import { publishRateCardFiles } from '../terms/index.ts';
import { TallyError } from '../contracts/tally-error.ts';
import { textTable } from '../views/text-table.ts';

/** A refusal with a stable code, printed plainly by cli/main.ts. */
class RateCardCommandError extends TallyError {
  constructor(code: string, message: string) {
    super(code, message, { permanent: true });
  }
}

const out = (text: string): void => {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
};

export function registerRatecardsCommands(program: Command): void {
  const ratecards = program.command('ratecards');

  ratecards
    .command('validate')
    .argument('[dir]', "a rate-card root (folders of versions) or one card's folder", 'ratecards')
    .description('check every rate-card file; lists each problem with file:line field and exits non-zero')
    .option('--json', 'machine-readable output')
    .action(async (dir: string, options: { json?: boolean }) => {
      const entries = await loadFolders(dir);
      const problems = entries.flatMap((folder) => folder.problems);
      // An unreadable entry of the root is a problem, not a card: the cards list shows real ones only.
      const folders = entries.filter((folder) => folder.unreadable !== true);
      if (options.json) {
        out(
          JSON.stringify(
            {
              ok: problems.length === 0,
              ratecards: folders.map((folder) => ({
                ratecard: folder.ratecard,
                versions: folder.versions.map(versionRef),
              })),
              problems,
            },
            null,
            2,
          ),
        );
      } else {
        for (const folder of folders) {
          out(
            `${folder.ratecard}: ${folder.versions.length} valid version${folder.versions.length === 1 ? '' : 's'}${folder.versions.length > 0 ? ` (${folder.versions.map((version) => version.effective_from).join(', ')})` : ''}`,
          );
        }
        // A path from the command line may hold terminal escape sequences: shown escaped, never obeyed.
        for (const problem of problems) process.stderr.write(`${printable(formatProblem(problem))}\n`);
      }
      if (problems.length > 0) {
        if (!options.json)
          process.stderr.write(
            `tally: ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${printableOneLine(dir)}\n`,
          );
        process.exitCode = 1;
      }
    });

  ratecards
    .command('diff')
    .argument('<before>', 'the current version file')
    .argument('<after>', 'the proposed version file')
    .description(
      "say what changes between two versions; with --contract, --events and --period, what it does to that customer's invoice",
    )
    .option('--contract <file>', 'a customer contract, to re-rate a period with both versions')
    .option('--events <file>', "the customer's usage events (JSON Lines)")
    .option('--period <YYYY-MM>', 'the period to re-rate')
    .option('--keys <file>', 'verify event signatures with these source keys')
    .option('--json', 'machine-readable output')
    .action(async (beforeFile: string, afterFile: string, options: DiffOptions) => {
      const before = (await loadRateCardFile(beforeFile)).version;
      const after = (await loadRateCardFile(afterFile)).version;
      const changes = describeRateCardChanges(before, after);
      const preview = await previewInvoices(before, after, options);
      if (options.json) {
        out(
          JSON.stringify(
            {
              before: versionRef(before),
              after: versionRef(after),
              changes,
              ...(preview ? { invoice_difference: preview } : {}),
            },
            null,
            2,
          ),
        );
        return;
      }
      out(
        `${before.ratecard} in ${before.currency} ${label(before)} → ${after.ratecard} in ${after.currency} ${label(after)}`,
      );
      if (changes.length === 0) out('  no changes to prices, fees or discounts');
      let subject = '';
      for (const change of changes) {
        if (change.subject !== subject) {
          subject = change.subject;
          out(`  ${subject}:`);
        }
        out(`    ${change.text}`);
      }
      if (preview) out(formatPreview(preview));
    });

  ratecards
    .command('publish')
    .argument('<files...>', 'version files to publish (ratecards/<ratecard>/<effective_from>.yaml)')
    .description(
      'record versions in the append-only change log (hash, note, who, when); a published version is never edited',
    )
    .option('--note <text>', "why this version exists (default: the file's note)")
    .option('--by <name>', 'who publishes (default: the OS user)')
    .action(async (files: string[], options: { note?: string; by?: string }) => {
      const { endpoints } = await ensureServices(undefined, ['postgres']);
      const pool = createPool(endpoints, { max: 1, applicationName: 'tally-ratecards' });
      try {
        await requireSchema(pool);
        const published = await publishRateCardFiles(pool, files, {
          publishedBy: options.by ?? os.userInfo().username,
          actor: { kind: 'process', name: `cli:${os.userInfo().username}` },
          ...(options.note === undefined ? {} : { note: options.note }),
        });
        for (const { version, status, publication } of published) {
          const name = `${version.ratecard} ${label(version)}`;
          out(
            status === 'published'
              ? `published ${name} (sha256 ${version.content_hash}) by ${publication.publishedBy} at ${publication.publishedAt}`
              : `${name} is already published with this content (sha256 ${version.content_hash}); nothing to do`,
          );
        }
      } finally {
        await pool.end();
      }
    });

  ratecards
    .command('history')
    .argument('[ratecard]', 'one rate card (default: all)')
    .description('list the change log: every published version with its hash, note, who and when')
    .option('--json', 'machine-readable output')
    .action(async (ratecard: string | undefined, options: { json?: boolean }) => {
      const { endpoints } = await ensureServices(undefined, ['postgres']);
      const pool = createPool(endpoints, { max: 1, applicationName: 'tally-ratecards' });
      try {
        await requireSchema(pool);
        const rows = await listRateCardPublications(pool, ratecard);
        out(options.json ? JSON.stringify(rows, null, 2) : formatHistory(rows));
      } finally {
        await pool.end();
      }
    });
}

/** The change log lives in a migrated database; say how to get one rather than failing on a missing table. */
async function requireSchema(pool: pg.Pool): Promise<void> {
  const { rows } = await pool.query<{ present: boolean }>(
    "SELECT to_regclass('ratecard_publications') IS NOT NULL AS present",
  );
  if (!rows[0]?.present)
    throw new RateCardCommandError(
      'schema_missing',
      'the database has no rate-card change log yet: run `tally db migrate` first',
    );
}

async function loadFolders(dir: string): ReturnType<typeof loadRateCardRoot> {
  // A card's own folder holds .yaml files; a root holds folders.
  const root = await loadRateCardRoot(dir).catch(() => undefined);
  if (root !== undefined && root.some((folder) => folder.unreadable !== true)) return root;
  return [await loadRateCardFolder(dir)];
}

function versionRef(version: RateCardVersion): {
  ratecard: string;
  effective_from: string;
  content_hash: string;
  file: string;
} {
  return {
    ratecard: version.ratecard,
    effective_from: version.effective_from,
    content_hash: version.content_hash,
    file: version.file,
  };
}

function label(version: RateCardVersion): string {
  return `(in force from ${version.effective_from})`;
}

interface DiffOptions {
  contract?: string;
  events?: string;
  period?: string;
  keys?: string;
  json?: boolean;
}

interface InvoicePreview {
  readonly customer_id: string;
  readonly period: string;
  readonly currency: string;
  readonly lines: { line_key: string; before: string | null; after: string | null; difference: string }[];
  readonly total: { before: string; after: string; difference: string };
  readonly unpriced: { before: number; after: number };
}

/** Re-rates the customer's period as if each version were in force for the whole period. */
async function previewInvoices(
  before: RateCardVersion,
  after: RateCardVersion,
  options: DiffOptions,
): Promise<InvoicePreview | undefined> {
  const given = [options.contract, options.events, options.period].filter((value) => value !== undefined).length;
  if (given === 0) return undefined;
  if (given !== 3)
    throw new RateCardCommandError('missing_option', 'a preview needs all of --contract, --events and --period');
  const period = billingPeriod(options.period as string);
  const contract = await loadContractFile(options.contract as string);
  const whole = (version: RateCardVersion): RateCardVersion => ({ ...version, effective_from: period.start });
  const versionsBefore = [whole(before)];
  const versionsAfter = [whole(after)];
  const keys = options.keys === undefined ? undefined : await loadSourceKeys(options.keys);
  const aggregated = await aggregateEventFile(
    options.events as string,
    contract,
    period,
    [versionsBefore, versionsAfter],
    { keys },
  );
  const [beforeAggregates, afterAggregates] = aggregated.results;
  if (beforeAggregates === undefined || afterAggregates === undefined) throw new Error('missing aggregation results');
  const rate = (versions: RateCardVersion[], aggregates: typeof beforeAggregates): Invoice =>
    ratePeriod({
      customerId: contract.customer_id,
      period,
      contract,
      versions,
      aggregates: aggregates.aggregates,
      counters: aggregates.counters,
      credits: creditBalancesFromContract(contract),
      calculationVersion: CALCULATION_VERSION,
    });
  const invoiceBefore = rate(versionsBefore, beforeAggregates);
  const invoiceAfter = rate(versionsAfter, afterAggregates);
  const currency = invoiceBefore.currency;
  const amounts = (invoice: Invoice): Map<string, string> =>
    new Map(invoice.lines.map((line) => [line.line_key, line.amount]));
  const a = amounts(invoiceBefore);
  const b = amounts(invoiceAfter);
  const keysInOrder = [...new Set([...a.keys(), ...b.keys()])];
  const difference = (x: string | undefined, y: string | undefined): string =>
    formatMoney(new Decimal(y ?? '0').minus(new Decimal(x ?? '0')), currency);
  return {
    customer_id: contract.customer_id,
    period: period.name,
    currency,
    lines: keysInOrder.map((key) => ({
      line_key: key,
      before: a.get(key) ?? null,
      after: b.get(key) ?? null,
      difference: difference(a.get(key), b.get(key)),
    })),
    total: {
      before: invoiceBefore.total,
      after: invoiceAfter.total,
      difference: difference(invoiceBefore.total, invoiceAfter.total),
    },
    unpriced: {
      before: invoiceBefore.unpriced.reduce((total, entry) => total + entry.event_count, 0),
      after: invoiceAfter.unpriced.reduce((total, entry) => total + entry.event_count, 0),
    },
  };
}

function formatPreview(preview: InvoicePreview): string {
  // One currency (the invoice's): named in each amount column's heading, as the invoice table does.
  const money = (amount: string): string => displayMoney(amount, preview.currency);
  const lines = textTable(
    ['LINE', `BEFORE ${preview.currency}`, `AFTER ${preview.currency}`, `CHANGE ${preview.currency}`],
    [
      ...preview.lines.map((line) => [
        line.line_key,
        line.before === null ? '—' : money(line.before),
        line.after === null ? '—' : money(line.after),
        signed(money(line.difference)),
      ]),
      ['total', money(preview.total.before), money(preview.total.after), signed(money(preview.total.difference))],
    ],
    { rightAligned: [1, 2, 3] },
  ).trimEnd();
  const unpriced =
    preview.unpriced.before + preview.unpriced.after > 0
      ? `\nunpriced events: ${preview.unpriced.before} before, ${preview.unpriced.after} after`
      : '';
  return `\nInvoice of ${preview.customer_id} for ${preview.period} (${preview.currency}), each version as if in force all period:\n${lines}${unpriced}`;
}

function signed(amount: string): string {
  return amount.startsWith('-') || /^0+(\.0+)?$/.test(amount) ? amount : `+${amount}`;
}

function formatHistory(rows: readonly RateCardPublication[]): string {
  if (rows.length === 0) return 'no rate-card versions published yet';
  return rows
    .map(
      (row) =>
        `${row.publishedAt}  ${row.ratecard}  in force from ${row.effectiveFrom}  sha256 ${row.contentHash.slice(0, 12)}  by ${row.publishedBy}${row.note ? `  — ${row.note}` : ''}`,
    )
    .join('\n');
}
