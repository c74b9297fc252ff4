import type pg from 'pg';

/** Event corrections (SPEC §5, migration 0250): append-only, accepted and rejected alike. */

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/** The stored event a correction names: its customer and time (the period it was billed in). */
export async function findStoredEvent(
  db: Queryable,
  source: string,
  eventId: string,
): Promise<{ customerId: string; eventTime: string } | undefined> {
  const { rows } = await db.query<{ customer_id: string; event_time: Date }>(
    `SELECT e.customer_id, e.event_time FROM usage_event_keys k
       JOIN usage_events e ON e.source = k.source AND e.event_id = k.event_id AND e.event_time = k.event_time
      WHERE k.source = $1 AND k.event_id = $2`,
    [source, eventId],
  );
  const row = rows[0];
  return row === undefined ? undefined : { customerId: row.customer_id, eventTime: row.event_time.toISOString() };
}

/** The event's last accepted correction, if any. */
export async function lastAcceptedCorrection(
  db: Queryable,
  source: string,
  eventId: string,
): Promise<{ correctionSeq: string; action: 'void' | 'replace' } | undefined> {
  const { rows } = await db.query<{ seq: string; action: 'void' | 'replace' }>(
    `SELECT correction_seq::text AS seq, action FROM event_corrections
      WHERE status = 'accepted' AND source = $1 AND event_id = $2 ORDER BY correction_seq DESC LIMIT 1`,
    [source, eventId],
  );
  const row = rows[0];
  return row === undefined ? undefined : { correctionSeq: row.seq, action: row.action };
}

export interface CorrectionRow {
  readonly correctionSha256: string;
  readonly source: string | undefined;
  readonly eventId: string | undefined;
  readonly action: 'void' | 'replace' | undefined;
  readonly status: 'accepted' | 'rejected';
  readonly rejectCode?: string;
  readonly rejectDetail?: string;
  readonly reason: string | undefined;
  readonly correction: unknown;
  readonly customerId?: string;
  readonly originalEventTime?: string;
  readonly replacement?: {
    readonly eventTime: string;
    readonly unit: string;
    readonly sku: string;
    readonly quantity: string;
    readonly metadata: Record<string, string>;
    readonly bodySha256: string;
  };
  readonly file: string;
  readonly line: number;
  readonly amendedBy: string;
}

/** Records a correction once (by its hash): returns its sequence number, and whether it was new. */
export async function insertCorrection(
  db: Queryable,
  row: CorrectionRow,
): Promise<{ correctionSeq: string; created: boolean; status: 'accepted' | 'rejected' }> {
  const inserted = await db.query<{ seq: string }>(
    `INSERT INTO event_corrections (correction_sha256, source, event_id, action, status, reject_code, reject_detail, reason,
       correction, customer_id, original_event_time, replacement_event_time, replacement_unit, replacement_sku,
       replacement_quantity, replacement_metadata, replacement_body_sha256, file, line, amended_by)
     VALUES (decode($1, 'hex'), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, decode($17, 'hex'), $18, $19, $20)
     ON CONFLICT (correction_sha256) DO NOTHING RETURNING correction_seq::text AS seq`,
    [
      row.correctionSha256,
      row.source ?? null,
      row.eventId ?? null,
      row.action ?? null,
      row.status,
      row.rejectCode ?? null,
      row.rejectDetail ?? null,
      row.reason ?? null,
      JSON.stringify(row.correction),
      row.customerId ?? null,
      row.originalEventTime ?? null,
      row.replacement?.eventTime ?? null,
      row.replacement?.unit ?? null,
      row.replacement?.sku ?? null,
      row.replacement?.quantity ?? null,
      row.replacement === undefined ? null : JSON.stringify(row.replacement.metadata),
      row.replacement?.bodySha256 ?? null,
      row.file,
      row.line,
      row.amendedBy,
    ],
  );
  if (inserted.rows[0] !== undefined) return { correctionSeq: inserted.rows[0].seq, created: true, status: row.status };
  const { rows } = await db.query<{ seq: string; status: 'accepted' | 'rejected' }>(
    `SELECT correction_seq::text AS seq, status FROM event_corrections WHERE correction_sha256 = decode($1, 'hex')`,
    [row.correctionSha256],
  );
  const existing = rows[0];
  if (existing === undefined) throw new Error('a correction vanished after its insert conflicted');
  return { correctionSeq: existing.seq, created: false, status: existing.status };
}

/** A correction recorded before with exactly this content, if any. */
export async function findCorrectionByHash(
  db: Queryable,
  correctionSha256: string,
): Promise<
  | {
      correctionSeq: string;
      status: 'accepted' | 'rejected';
      action: 'void' | 'replace' | null;
      rejectCode: string | null;
      rejectDetail: string | null;
    }
  | undefined
> {
  const { rows } = await db.query<{
    seq: string;
    status: 'accepted' | 'rejected';
    action: 'void' | 'replace' | null;
    reject_code: string | null;
    reject_detail: string | null;
  }>(
    `SELECT correction_seq::text AS seq, status, action, reject_code, reject_detail FROM event_corrections
      WHERE correction_sha256 = decode($1, 'hex')`,
    [correctionSha256],
  );
  const row = rows[0];
  return row === undefined
    ? undefined
    : {
        correctionSeq: row.seq,
        status: row.status,
        action: row.action,
        rejectCode: row.reject_code,
        rejectDetail: row.reject_detail,
      };
}

export interface PeriodCorrection {
  readonly correctionSeq: string;
  readonly action: 'void' | 'replace';
  readonly source: string;
  readonly eventId: string;
  readonly reason: string;
  readonly amendedBy: string;
  readonly amendedAt: string;
  /** The sku the event had, and the replacement's (a replace may change it). */
  readonly skus: readonly string[];
}

/** Accepted corrections of a customer-period's events (where the event was or now is), oldest first. */
export async function correctionsOfCustomerPeriod(
  db: Queryable,
  input: { customerId: string; periodStart: string; periodEnd: string },
): Promise<PeriodCorrection[]> {
  const { rows } = await db.query<{
    seq: string;
    action: 'void' | 'replace';
    source: string;
    event_id: string;
    reason: string;
    amended_by: string;
    amended_at: Date;
    original_sku: string | null;
    replacement_sku: string | null;
  }>(
    `SELECT c.correction_seq::text AS seq, c.action, c.source, c.event_id, c.reason, c.amended_by, c.amended_at,
            e.sku AS original_sku, c.replacement_sku
       FROM event_corrections c
       LEFT JOIN usage_events e ON e.source = c.source AND e.event_id = c.event_id AND e.event_time = c.original_event_time
      WHERE c.status = 'accepted' AND c.customer_id = $1
        AND ((c.original_event_time >= $2 AND c.original_event_time < $3)
          OR (c.replacement_event_time >= $2 AND c.replacement_event_time < $3))
      ORDER BY c.correction_seq`,
    [input.customerId, input.periodStart, input.periodEnd],
  );
  return rows.map((row) => ({
    correctionSeq: row.seq,
    action: row.action,
    source: row.source,
    eventId: row.event_id,
    reason: row.reason,
    amendedBy: row.amended_by,
    amendedAt: row.amended_at.toISOString(),
    skus: [...new Set([row.original_sku, row.replacement_sku].filter((sku): sku is string => sku !== null))],
  }));
}
