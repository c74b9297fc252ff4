import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type pg from 'pg';
import { TallyError } from '../contracts/tally-error.ts';
import { withTransaction } from '../db/pool.ts';
import {
  insertLegacyImport,
  latestLegacyImport,
  lockLegacySourcePeriod,
  type LegacyImportRecord,
} from '../db/queries/shadow.ts';
import { parseLegacyCsv, type LegacyLine } from '../domain/shadow/index.ts';

class InvalidSourceNameError extends TallyError {
  constructor(source: string) {
    super('invalid_source', `a source name is 1-64 letters, digits, ".", "_" or "-", not ${JSON.stringify(source)}`, {
      permanent: true,
    });
  }
}

/** What one period of the file did: a new version, or nothing (the latest version already holds it). */
export interface PeriodImportOutcome {
  readonly period: string;
  readonly outcome: 'imported' | 'unchanged';
  readonly import: LegacyImportRecord;
  /** The version this one superseded, when there was one. */
  readonly supersedes: LegacyImportRecord | undefined;
}

/**
 * `tally shadow import FILE --source NAME`: the SPEC §6 CSV validated row by row (any bad row
 * refuses the whole file), then, per period of the file, in one transaction for the whole file:
 * a no-op when the source's latest version of that period holds exactly these lines, else the next
 * version (the earlier stays, superseded).
 */
export async function importLegacyFile(
  pool: pg.Pool,
  options: { file: string; source: string; importedBy: string; text?: string },
): Promise<PeriodImportOutcome[]> {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(options.source)) throw new InvalidSourceNameError(options.source);
  const text = options.text ?? (await readFile(options.file, 'utf8'));
  const lines = parseLegacyCsv(options.file, text);
  const byPeriod = new Map<string, LegacyLine[]>();
  for (const line of lines) byPeriod.set(line.period, [...(byPeriod.get(line.period) ?? []), line]);
  return withTransaction(pool, async (client) => {
    const outcomes: PeriodImportOutcome[] = [];
    for (const period of [...byPeriod.keys()].sort()) {
      const periodLines = byPeriod.get(period) ?? [];
      const contentHash = legacyContentHash(periodLines);
      await lockLegacySourcePeriod(client, options.source, period);
      const latest = await latestLegacyImport(client, options.source, period);
      if (latest?.contentHash === contentHash) {
        outcomes.push({ period, outcome: 'unchanged', import: latest, supersedes: undefined });
        continue;
      }
      const version = (latest?.version ?? 0) + 1;
      const record = await insertLegacyImport(
        client,
        {
          importId: `${options.source}:${period}:v${version}`,
          source: options.source,
          period,
          version,
          fileName: options.file,
          contentHash,
          lineCount: periodLines.length,
          importedBy: options.importedBy,
        },
        periodLines.map((line) => ({
          customerId: line.customer_id,
          priceId: line.price_id,
          quantity: line.quantity,
          amount: line.amount,
          currency: line.currency,
        })),
      );
      outcomes.push({ period, outcome: 'imported', import: record, supersedes: latest });
    }
    return outcomes;
  });
}

/** sha256 of the lines sorted by key: the same lines in another order are the same import. */
function legacyContentHash(lines: readonly LegacyLine[]): string {
  const rows = lines
    .map((line) =>
      JSON.stringify([line.customer_id, line.period, line.price_id, line.quantity ?? null, line.amount, line.currency]),
    )
    .sort();
  return createHash('sha256').update(rows.join('\n'), 'utf8').digest('hex');
}
