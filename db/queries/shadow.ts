import type pg from 'pg';
import { ADVISORY_LOCKS } from '../advisory-locks.ts';

/** Shadow billing's tables (migration 0350): legacy imports and their lines, runs and their results. */
type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

export interface LegacyImportRecord {
  readonly importId: string;
  readonly source: string;
  readonly period: string;
  readonly version: number;
  readonly fileName: string;
  readonly contentHash: string;
  readonly lineCount: number;
  readonly importedBy: string;
  readonly importedAt: string;
}

export interface LegacyLineRow {
  readonly customerId: string;
  readonly priceId: string;
  readonly quantity: string | undefined;
  readonly amount: string;
  readonly currency: string;
}

interface ImportRow {
  import_id: string;
  source: string;
  period: string;
  version: number;
  file_name: string;
  content_hash: string;
  line_count: number;
  imported_by: string;
  imported_at: Date;
}

const IMPORT_COLUMNS =
  'import_id, source, period, version, file_name, content_hash, line_count, imported_by, imported_at';

function toImport(row: ImportRow): LegacyImportRecord {
  return {
    importId: row.import_id,
    source: row.source,
    period: row.period,
    version: row.version,
    fileName: row.file_name,
    contentHash: row.content_hash,
    lineCount: row.line_count,
    importedBy: row.imported_by,
    importedAt: row.imported_at.toISOString(),
  };
}

/** Serializes imports of one source-period until the transaction ends. */
export async function lockLegacySourcePeriod(client: pg.PoolClient, source: string, period: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
    ADVISORY_LOCKS.SHADOW_IMPORT,
    `${source}:${period}`,
  ]);
}

export async function latestLegacyImport(
  db: Queryable,
  source: string,
  period: string,
): Promise<LegacyImportRecord | undefined> {
  const { rows } = await db.query<ImportRow>(
    `SELECT ${IMPORT_COLUMNS} FROM shadow_legacy_imports WHERE source = $1 AND period = $2 ORDER BY version DESC LIMIT 1`,
    [source, period],
  );
  return rows[0] === undefined ? undefined : toImport(rows[0]);
}

export async function legacyImportsOf(db: Queryable, source: string): Promise<LegacyImportRecord[]> {
  const { rows } = await db.query<ImportRow>(
    `SELECT ${IMPORT_COLUMNS} FROM shadow_legacy_imports WHERE source = $1 ORDER BY period, version`,
    [source],
  );
  return rows.map(toImport);
}

export async function insertLegacyImport(
  client: pg.PoolClient,
  record: Omit<LegacyImportRecord, 'importedAt'>,
  lines: readonly LegacyLineRow[],
): Promise<LegacyImportRecord> {
  const { rows } = await client.query<ImportRow>(
    `INSERT INTO shadow_legacy_imports (import_id, source, period, version, file_name, content_hash, line_count, imported_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${IMPORT_COLUMNS}`,
    [
      record.importId,
      record.source,
      record.period,
      record.version,
      record.fileName,
      record.contentHash,
      record.lineCount,
      record.importedBy,
    ],
  );
  await client.query(
    `INSERT INTO shadow_legacy_lines (import_id, customer_id, price_id, quantity, amount, currency)
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::numeric[], $5::numeric[], $6::text[])`,
    [
      record.importId,
      lines.map((line) => line.customerId),
      lines.map((line) => line.priceId),
      lines.map((line) => line.quantity ?? null),
      lines.map((line) => line.amount),
      lines.map((line) => line.currency),
    ],
  );
  return toImport(rows[0] as ImportRow);
}

/** An import's lines (of some customers, or all), amounts as stored (NUMERIC keeps the file's digits). */
export async function legacyLinesOf(
  db: Queryable,
  importId: string,
  customerIds?: readonly string[],
): Promise<LegacyLineRow[]> {
  const { rows } = await db.query<{
    customer_id: string;
    price_id: string;
    quantity: string | null;
    amount: string;
    currency: string;
  }>(
    `SELECT customer_id, price_id, quantity::text, amount::text, currency FROM shadow_legacy_lines
      WHERE import_id = $1 AND ($2::text[] IS NULL OR customer_id = ANY($2))
      ORDER BY customer_id, price_id`,
    [importId, customerIds ?? null],
  );
  return rows.map((row) => ({
    customerId: row.customer_id,
    priceId: row.price_id,
    quantity: row.quantity ?? undefined,
    amount: row.amount,
    currency: row.currency,
  }));
}

export async function legacyCustomersOf(db: Queryable, importId: string): Promise<string[]> {
  const { rows } = await db.query<{ customer_id: string }>(
    'SELECT DISTINCT customer_id FROM shadow_legacy_lines WHERE import_id = $1 ORDER BY customer_id',
    [importId],
  );
  return rows.map((row) => row.customer_id);
}

/** Customers whose contract in force (latest publication) is active during [start, end). */
export async function contractCustomersActiveIn(db: Queryable, start: string, end: string): Promise<string[]> {
  const { rows } = await db.query<{ customer_id: string }>(
    `SELECT customer_id FROM (
       SELECT DISTINCT ON (customer_id) customer_id, starts_at, ends_at
         FROM contract_publications ORDER BY customer_id, publication_id DESC) latest
      WHERE (starts_at IS NULL OR starts_at < $2) AND (ends_at IS NULL OR ends_at > $1)
      ORDER BY customer_id`,
    [start, end],
  );
  return rows.map((row) => row.customer_id);
}

export interface ShadowRunRecord {
  readonly runId: string;
  readonly source: string;
  readonly period: string;
  readonly calculationVersion: string;
  readonly legacyImportId: string | undefined;
  readonly customerCount: number;
  readonly status: 'running' | 'completed';
  readonly startedAt: string;
  readonly completedAt: string | undefined;
}

interface RunRow {
  run_id: string;
  source: string;
  period: string;
  calculation_version: string;
  legacy_import_id: string | null;
  customer_count: number;
  status: 'running' | 'completed';
  started_at: Date;
  completed_at: Date | null;
}

const RUN_COLUMNS =
  'run_id, source, period, calculation_version, legacy_import_id, customer_count, status, started_at, completed_at';

function toRun(row: RunRow): ShadowRunRecord {
  return {
    runId: row.run_id,
    source: row.source,
    period: row.period,
    calculationVersion: row.calculation_version,
    legacyImportId: row.legacy_import_id ?? undefined,
    customerCount: row.customer_count,
    status: row.status,
    startedAt: row.started_at.toISOString(),
    completedAt: row.completed_at?.toISOString(),
  };
}

/** Records a run once (a retry finds the first record, with the legacy version it chose). */
export async function insertShadowRun(
  db: Queryable,
  run: Pick<ShadowRunRecord, 'runId' | 'source' | 'period' | 'calculationVersion' | 'legacyImportId' | 'customerCount'>,
): Promise<ShadowRunRecord> {
  await db.query(
    `INSERT INTO shadow_runs (run_id, source, period, calculation_version, legacy_import_id, customer_count, status)
     VALUES ($1, $2, $3, $4, $5, $6, 'running') ON CONFLICT (run_id) DO NOTHING`,
    [run.runId, run.source, run.period, run.calculationVersion, run.legacyImportId ?? null, run.customerCount],
  );
  return (await loadShadowRun(db, run.runId)) as ShadowRunRecord;
}

/**
 * Records a run and its customers once (migration 0830), in the caller's transaction: the first
 * attempt records them; a retry finds the run and the customers recorded then, whatever changed since.
 * Returns the run as recorded and how many customers it rates and compares from legacy lines only.
 */
export async function insertShadowRunWithCustomers(
  client: pg.PoolClient,
  run: Pick<ShadowRunRecord, 'runId' | 'source' | 'period' | 'calculationVersion' | 'legacyImportId'>,
  customers: { rated: readonly string[]; legacyOnly: readonly string[] },
): Promise<{ run: ShadowRunRecord; rated: number; legacyOnly: number }> {
  const inserted = await client.query(
    `INSERT INTO shadow_runs (run_id, source, period, calculation_version, legacy_import_id, customer_count, status)
     VALUES ($1, $2, $3, $4, $5, $6, 'running') ON CONFLICT (run_id) DO NOTHING`,
    [
      run.runId,
      run.source,
      run.period,
      run.calculationVersion,
      run.legacyImportId ?? null,
      customers.rated.length + customers.legacyOnly.length,
    ],
  );
  if ((inserted.rowCount ?? 0) > 0)
    await client.query(
      `INSERT INTO shadow_run_customers (run_id, customer_id, rated)
       SELECT $1, customer_id, rated FROM unnest($2::text[], $3::boolean[]) AS c (customer_id, rated)`,
      [
        run.runId,
        [...customers.rated, ...customers.legacyOnly],
        [...customers.rated.map(() => true), ...customers.legacyOnly.map(() => false)],
      ],
    );
  const { rows } = await client.query<{ rated: number; legacy_only: number }>(
    `SELECT count(*) FILTER (WHERE rated)::int AS rated, count(*) FILTER (WHERE NOT rated)::int AS legacy_only
       FROM shadow_run_customers WHERE run_id = $1`,
    [run.runId],
  );
  return {
    run: (await loadShadowRun(client, run.runId)) as ShadowRunRecord,
    rated: rows[0]?.rated ?? 0,
    legacyOnly: rows[0]?.legacy_only ?? 0,
  };
}

/**
 * Up to `limit` of a run's customers after `after` (from the first when null), in customer order; only
 * those it rates when `ratedOnly`. `next` is the last one returned when more follow, null on the last page.
 */
export async function shadowRunCustomerPage(
  db: Queryable,
  input: { runId: string; ratedOnly: boolean; after: string | null; limit: number },
): Promise<{ customerIds: string[]; next: string | null }> {
  const { rows } = await db.query<{ customer_id: string }>(
    `SELECT customer_id FROM shadow_run_customers
      WHERE run_id = $1 AND (rated OR NOT $2::boolean) AND ($3::text IS NULL OR customer_id > $3::text)
      ORDER BY customer_id LIMIT $4`,
    [input.runId, input.ratedOnly, input.after, input.limit + 1],
  );
  const customerIds = rows.slice(0, input.limit).map((row) => row.customer_id);
  return { customerIds, next: rows.length > input.limit ? (customerIds.at(-1) ?? null) : null };
}

async function loadShadowRun(db: Queryable, runId: string): Promise<ShadowRunRecord | undefined> {
  const { rows } = await db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM shadow_runs WHERE run_id = $1`, [runId]);
  return rows[0] === undefined ? undefined : toRun(rows[0]);
}

export async function markShadowRunCompleted(db: Queryable, runId: string): Promise<void> {
  await db.query(
    `UPDATE shadow_runs SET status = 'completed', completed_at = coalesce(completed_at, now()) WHERE run_id = $1`,
    [runId],
  );
}

/** Runs, newest first, optionally of one source (and period). */
export async function listShadowRuns(
  db: Queryable,
  filter: { source?: string; period?: string } = {},
): Promise<ShadowRunRecord[]> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM shadow_runs
      WHERE ($1::text IS NULL OR source = $1) AND ($2::text IS NULL OR period = $2)
      ORDER BY started_at DESC, run_id DESC`,
    [filter.source ?? null, filter.period ?? null],
  );
  return rows.map(toRun);
}

type ExceptionState = 'none' | 'open' | 'accepted' | 'rejected';

export interface ShadowResultRecord {
  readonly runId: string;
  readonly customerId: string;
  readonly status: 'match' | 'diff' | 'only_legacy' | 'only_new';
  readonly exception: boolean;
  readonly exceptionState: ExceptionState;
  readonly decidedBy: string | undefined;
  readonly decisionNote: string | undefined;
  /** The SPEC §6 customer object, as compared. */
  readonly comparison: unknown;
}

/**
 * Records one customer's comparison. Comparing again (a retried activity) rewrites the same numbers
 * and keeps a decision already taken on the exception.
 */
export async function saveShadowResult(
  db: Queryable,
  result: {
    runId: string;
    customerId: string;
    status: ShadowResultRecord['status'];
    currency: string;
    legacyTotal: string;
    newTotal: string;
    variance: string | null;
    variancePct: string | null;
    exception: boolean;
    comparison: unknown;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO shadow_run_results (run_id, customer_id, status, currency, legacy_total, new_total, variance,
       variance_pct, exception, exception_state, comparison)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $9 THEN 'open' ELSE 'none' END, $10)
     ON CONFLICT (run_id, customer_id) DO UPDATE SET status = excluded.status, currency = excluded.currency,
       legacy_total = excluded.legacy_total, new_total = excluded.new_total, variance = excluded.variance,
       variance_pct = excluded.variance_pct, exception = excluded.exception, comparison = excluded.comparison,
       exception_state = CASE WHEN shadow_run_results.exception_state IN ('accepted', 'rejected')
                              THEN shadow_run_results.exception_state ELSE excluded.exception_state END`,
    [
      result.runId,
      result.customerId,
      result.status,
      result.currency,
      result.legacyTotal,
      result.newTotal,
      result.variance,
      result.variancePct,
      result.exception,
      JSON.stringify(result.comparison),
    ],
  );
}

interface ResultRow {
  run_id: string;
  customer_id: string;
  status: ShadowResultRecord['status'];
  exception: boolean;
  exception_state: ExceptionState;
  decided_by: string | null;
  decision_note: string | null;
  comparison: unknown;
}

export async function shadowResultsOf(db: Queryable, runId: string): Promise<ShadowResultRecord[]> {
  const { rows } = await db.query<ResultRow>(
    `SELECT run_id, customer_id, status, exception, exception_state, decided_by, decision_note, comparison
       FROM shadow_run_results WHERE run_id = $1 ORDER BY customer_id`,
    [runId],
  );
  return rows.map((row) => ({
    runId: row.run_id,
    customerId: row.customer_id,
    status: row.status,
    exception: row.exception,
    exceptionState: row.exception_state,
    decidedBy: row.decided_by ?? undefined,
    decisionNote: row.decision_note ?? undefined,
    comparison: row.comparison,
  }));
}

/** A person's decision on an open shadow exception; false when it was not open (already decided, or none). */
export async function decideShadowException(
  db: Queryable,
  decision: { runId: string; customerId: string; state: 'accepted' | 'rejected'; decidedBy: string; note: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE shadow_run_results SET exception_state = $3, decided_by = $4, decision_note = $5, decided_at = now()
      WHERE run_id = $1 AND customer_id = $2 AND exception_state = 'open'`,
    [decision.runId, decision.customerId, decision.state, decision.decidedBy, decision.note],
  );
  return (rowCount ?? 0) > 0;
}

export interface ShadowRunCounts {
  readonly match: number;
  readonly diff: number;
  readonly onlyLegacy: number;
  readonly onlyNew: number;
  readonly exceptions: number;
  readonly openExceptions: number;
  readonly acceptedExceptions: number;
}

/** Per run, its customers by status and its exceptions by state (the console's list of runs). */
export async function shadowRunCounts(db: Queryable, runIds: readonly string[]): Promise<Map<string, ShadowRunCounts>> {
  const { rows } = await db.query<{
    run_id: string;
    match: number;
    diff: number;
    only_legacy: number;
    only_new: number;
    exceptions: number;
    open_exceptions: number;
    accepted_exceptions: number;
  }>(
    `SELECT run_id,
            count(*) FILTER (WHERE status = 'match')::int AS match,
            count(*) FILTER (WHERE status = 'diff')::int AS diff,
            count(*) FILTER (WHERE status = 'only_legacy')::int AS only_legacy,
            count(*) FILTER (WHERE status = 'only_new')::int AS only_new,
            count(*) FILTER (WHERE exception)::int AS exceptions,
            count(*) FILTER (WHERE exception_state = 'open')::int AS open_exceptions,
            count(*) FILTER (WHERE exception_state = 'accepted')::int AS accepted_exceptions
       FROM shadow_run_results WHERE run_id = ANY($1) GROUP BY run_id`,
    [[...runIds]],
  );
  return new Map(
    rows.map((row) => [
      row.run_id,
      {
        match: row.match,
        diff: row.diff,
        onlyLegacy: row.only_legacy,
        onlyNew: row.only_new,
        exceptions: row.exceptions,
        openExceptions: row.open_exceptions,
        acceptedExceptions: row.accepted_exceptions,
      },
    ]),
  );
}
