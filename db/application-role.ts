import type pg from 'pg';

/**
 * The role whose rights Tally's processes use (SPEC §13): a group role without login; each
 * deployment's login roles (`tally_app`, one per service if it likes) are its members. It may read
 * every table and insert into every table, and change rows only where the design changes them
 * (below). It owns nothing, so it cannot alter or drop a table, disable a trigger or truncate; the
 * append-only and immutability triggers hold against the application itself.
 */
export const APPLICATION_ROLE = 'tally_application';

/**
 * Beyond SELECT and INSERT: the tables whose rows the design updates or deletes, and why. A table
 * not named here is insert-only for the application. (`SELECT … FOR UPDATE`, `ON CONFLICT DO UPDATE`
 * and `LOCK TABLE … SHARE ROW EXCLUSIVE` need UPDATE too, and so does a trigger that updates.)
 */
export const APPLICATION_CHANGES: Readonly<Record<string, readonly ('UPDATE' | 'DELETE')[]>> = {
  anomalies: ['UPDATE'], // acknowledged, snoozed, annotated (finops)
  anomaly_deliveries: ['UPDATE'], // delivery attempts and state
  anomaly_scans: ['UPDATE'], // a day scanned again replaces its counts (ON CONFLICT DO UPDATE)
  backfill_adjustments: ['UPDATE'], // status as the adjustment is applied
  backfill_runs: ['UPDATE'], // run state (pause, resume, cancel, finish)
  console_sessions: ['UPDATE', 'DELETE'], // sign-out and expiry
  console_tokens: ['UPDATE'], // revocation, last use
  console_users: ['UPDATE'], // role, disabling, sign-in throttling (row locked while signing in)
  credit_grants: ['UPDATE'], // remaining balance (credit_movements_apply trigger; locked for expiry)
  customer_periods: ['UPDATE'], // workflow_started_at, outcome
  event_corrections: ['UPDATE'], // never updated: LOCK TABLE … SHARE ROW EXCLUSIVE serialises amendments
  invoice_number_counters: ['UPDATE'], // the next number
  invoices: ['UPDATE'], // draft to issued (issued rows are refused by trigger), sync state
  late_event_adjustments: ['DELETE'], // claims released when a draft is replaced
  notifications: ['UPDATE'], // delivery state
  pricing_experiments: ['UPDATE'], // running → stopped, by whom and why (tally pricing experiment stop)
  review_exceptions: ['UPDATE'], // decisions and escalation
  revenue_recognition_periods: ['UPDATE'], // recognized position to date, locked while a day posts
  shadow_run_results: ['UPDATE'], // comparison result
  shadow_runs: ['UPDATE'], // run state
  usage_alert_checks: ['UPDATE'], // watermark
  usage_running_totals: ['UPDATE'], // month-to-date sums
};

/** The schema Tally's tables live in. */
const SCHEMA = 'public';

/** Read-only for the application: the migrator's record. */
const READ_ONLY_TABLES = ['schema_migrations'];

/**
 * The grant step after migrating (run by `migrate` as the owner, every time, so it also repairs
 * grants): SELECT and INSERT on every table of the schema, sequences usable, the listed UPDATE and
 * DELETE rights, and default privileges so a table the owner creates later is readable and
 * insertable without its migration remembering. Creates the group role when it is missing and the
 * migrator may create roles; otherwise an administrator creates it once (docs/decisions/production.md).
 */
export async function grantApplicationRole(client: pg.ClientBase): Promise<void> {
  const { rows } = await client.query<{ table_name: string }>(
    `SELECT c.relname AS table_name FROM pg_class c
      WHERE c.relnamespace = '${SCHEMA}'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition`,
  );
  const tables = new Set(rows.map((row) => row.table_name));
  // Before PostgreSQL 15 every role may create tables in public; the application must not.
  await client.query(`REVOKE CREATE ON SCHEMA ${SCHEMA} FROM PUBLIC`);
  await client.query(`GRANT USAGE ON SCHEMA ${SCHEMA} TO ${APPLICATION_ROLE}`);
  await client.query(`GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA ${SCHEMA} TO ${APPLICATION_ROLE}`);
  await client.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${SCHEMA} TO ${APPLICATION_ROLE}`);
  await client.query(
    `ALTER DEFAULT PRIVILEGES IN SCHEMA ${SCHEMA} GRANT SELECT, INSERT ON TABLES TO ${APPLICATION_ROLE}`,
  );
  await client.query(
    `ALTER DEFAULT PRIVILEGES IN SCHEMA ${SCHEMA} GRANT USAGE, SELECT ON SEQUENCES TO ${APPLICATION_ROLE}`,
  );
  for (const table of READ_ONLY_TABLES) {
    if (tables.has(table)) await client.query(`REVOKE INSERT ON ${table} FROM ${APPLICATION_ROLE}`);
  }
  for (const [table, changes] of Object.entries(APPLICATION_CHANGES)) {
    // A table the schema does not have yet (an older database migrating step by step) is granted later.
    if (tables.has(table)) await client.query(`GRANT ${changes.join(', ')} ON ${table} TO ${APPLICATION_ROLE}`);
  }
  await client.query(`GRANT EXECUTE ON FUNCTION ensure_usage_events_partition(timestamptz) TO ${APPLICATION_ROLE}`);
}

/**
 * Creates the group role when it is missing. Outside any transaction: roles belong to the whole
 * server, and two databases migrating at once (the test suite) may both try; the loser finds it made.
 */
export async function ensureApplicationRole(client: pg.ClientBase): Promise<void> {
  const found = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [APPLICATION_ROLE]);
  if (found.rowCount !== 0) return;
  await client.query(`CREATE ROLE ${APPLICATION_ROLE} NOLOGIN`).catch((error: unknown) => {
    const code = (error as { code?: string }).code;
    // 42710: created meanwhile by another migrator; 23505: the same race seen on the catalog's index.
    if (code === '42710' || code === '23505') return;
    if (code === '42501') {
      throw new Error(
        `the role ${APPLICATION_ROLE} does not exist and the migrating role may not create roles: ` +
          `an administrator runs CREATE ROLE ${APPLICATION_ROLE} NOLOGIN once`,
      );
    }
    throw error;
  });
}
