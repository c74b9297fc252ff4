import type pg from 'pg';
import {
  AUDIT_GENESIS_HASH,
  NewAuditEntrySchema,
  auditEntryHash,
  type AuditActor,
  type AuditDetails,
  type AuditEntry,
  type NewAuditEntry,
} from '../../contracts/audit-entry.ts';
import { ADVISORY_LOCKS } from '../advisory-locks.ts';
import { withTransaction } from '../pool.ts';

interface AuditRow {
  seq: string;
  at: Date;
  actor_kind: AuditActor['kind'];
  actor: string;
  action: string;
  subject: string;
  details: AuditDetails;
  prev_hash: string;
  hash: string;
}

function auditRowToEntry(row: AuditRow): AuditEntry {
  return {
    seq: Number.parseInt(row.seq, 10),
    at: row.at.toISOString(),
    actor: { kind: row.actor_kind, name: row.actor },
    action: row.action,
    subject: row.subject,
    details: row.details,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/**
 * Appends one entry to the hash-chained audit log inside the caller's transaction (so the entry
 * commits with the change it records, or not at all). Appends are serialised by a transaction-level
 * advisory lock held to the caller's commit: each row links to the row committed before it.
 *
 * This is the function every area calls for its actions (decisions, publications, backfills,
 * shadow acceptances, cutover flips); `recordAudit` is the same for a caller without a transaction.
 */
export async function appendAuditEntry(client: pg.PoolClient, input: NewAuditEntry): Promise<AuditEntry> {
  const entry = NewAuditEntrySchema.parse(input);
  await client.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.AUDIT_APPEND]);
  const head = await client.query<{ seq: string; hash: string }>(
    'SELECT seq::text AS seq, hash FROM audit_log ORDER BY audit_log.seq DESC LIMIT 1',
  );
  const previous = head.rows[0];
  const unhashed = {
    seq: previous === undefined ? 1 : Number.parseInt(previous.seq, 10) + 1,
    // Milliseconds: what timestamptz and toISOString both keep exactly, so the hash can be recomputed from the row.
    at: new Date().toISOString(),
    actor: entry.actor,
    action: entry.action,
    subject: entry.subject,
    details: entry.details,
    prevHash: previous?.hash ?? AUDIT_GENESIS_HASH,
  };
  const stored: AuditEntry = { ...unhashed, hash: auditEntryHash(unhashed) };
  await client.query(
    `INSERT INTO audit_log (seq, at, actor_kind, actor, action, subject, details, prev_hash, hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      stored.seq,
      stored.at,
      stored.actor.kind,
      stored.actor.name,
      stored.action,
      stored.subject,
      JSON.stringify(stored.details),
      stored.prevHash,
      stored.hash,
    ],
  );
  return stored;
}

/** `appendAuditEntry` in a transaction of its own. */
export async function recordAudit(pool: pg.Pool, input: NewAuditEntry): Promise<AuditEntry> {
  return withTransaction(pool, (client) => appendAuditEntry(client, input));
}

/** Entries in sequence order after `afterSeq` (for verification and export, page by page). */
export async function auditEntriesAfter(
  db: Pick<pg.Pool, 'query'>,
  afterSeq: number,
  limit: number,
): Promise<AuditEntry[]> {
  const { rows } = await db.query<AuditRow>(
    'SELECT seq::text AS seq, at, actor_kind, actor, action, subject, details, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY audit_log.seq LIMIT $2',
    [afterSeq, limit],
  );
  return rows.map(auditRowToEntry);
}

/** Newest first, filtered, for the console's audit page. */
export async function listAuditEntries(
  db: Pick<pg.Pool, 'query'>,
  filter: { beforeSeq?: number; actor?: string; action?: string; subject?: string; limit: number },
): Promise<AuditEntry[]> {
  const { rows } = await db.query<AuditRow>(
    `SELECT seq::text AS seq, at, actor_kind, actor, action, subject, details, prev_hash, hash FROM audit_log
      WHERE ($1::bigint IS NULL OR seq < $1) AND ($2::text IS NULL OR actor = $2)
        AND ($3::text IS NULL OR action = $3) AND ($4::text IS NULL OR subject = $4)
      ORDER BY audit_log.seq DESC LIMIT $5`,
    [filter.beforeSeq ?? null, filter.actor ?? null, filter.action ?? null, filter.subject ?? null, filter.limit],
  );
  return rows.map(auditRowToEntry);
}
