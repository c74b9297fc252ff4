import type pg from 'pg';

/** One row of the append-only rate-card change log. */
export interface RateCardPublication {
  readonly publicationId: string;
  readonly ratecard: string;
  /** ISO 8601 UTC. */
  readonly effectiveFrom: string;
  readonly contentHash: string;
  readonly fileName: string;
  readonly note: string;
  readonly publishedBy: string;
  readonly publishedAt: string;
}

export interface PublishRateCardInput {
  readonly ratecard: string;
  readonly effectiveFrom: string;
  readonly contentHash: string;
  readonly content: string;
  readonly fileName: string;
  readonly note: string;
  readonly publishedBy: string;
}

export type PublishOutcome =
  /** Recorded now. */
  | { readonly status: 'published'; readonly publication: RateCardPublication }
  /** The identical version was published before: nothing changes. */
  | { readonly status: 'already_published'; readonly publication: RateCardPublication }
  /** A different file was published for this version before: refused (the existing row is returned). */
  | { readonly status: 'changed'; readonly publication: RateCardPublication };

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

interface PublicationRow {
  publication_id: string;
  ratecard: string;
  effective_from: Date;
  content_hash: string;
  file_name: string;
  note: string;
  published_by: string;
  published_at: Date;
}

const COLUMNS = 'publication_id, ratecard, effective_from, content_hash, file_name, note, published_by, published_at';

function toPublication(row: PublicationRow): RateCardPublication {
  return {
    publicationId: row.publication_id,
    ratecard: row.ratecard,
    effectiveFrom: row.effective_from.toISOString(),
    contentHash: row.content_hash,
    fileName: row.file_name,
    note: row.note,
    publishedBy: row.published_by,
    publishedAt: row.published_at.toISOString(),
  };
}

/**
 * Records a version in the change log, once: the unique (ratecard, effective_from) key makes a
 * concurrent or repeated publish of the same version land on the existing row, which then decides
 * between "already published" (same content hash) and "changed" (refused by the caller).
 */
export async function publishRateCardVersion(db: Queryable, input: PublishRateCardInput): Promise<PublishOutcome> {
  const inserted = await db.query<PublicationRow>(
    `INSERT INTO ratecard_publications (ratecard, effective_from, content_hash, content, file_name, note, published_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT ON CONSTRAINT ratecard_publications_version_key DO NOTHING
     RETURNING ${COLUMNS}`,
    [
      input.ratecard,
      input.effectiveFrom,
      input.contentHash,
      input.content,
      input.fileName,
      input.note,
      input.publishedBy,
    ],
  );
  const row = inserted.rows[0];
  if (row !== undefined) return { status: 'published', publication: toPublication(row) };
  const existing = await db.query<PublicationRow>(
    `SELECT ${COLUMNS} FROM ratecard_publications WHERE ratecard = $1 AND effective_from = $2`,
    [input.ratecard, input.effectiveFrom],
  );
  const found = existing.rows[0];
  if (found === undefined)
    throw new Error(`publication of ${input.ratecard} ${input.effectiveFrom} neither inserted nor found`);
  const publication = toPublication(found);
  return { status: publication.contentHash === input.contentHash ? 'already_published' : 'changed', publication };
}

/** The change log, oldest publication first; one card or all. */
export async function listRateCardPublications(db: Queryable, ratecard?: string): Promise<RateCardPublication[]> {
  const result = await db.query<PublicationRow>(
    `SELECT ${COLUMNS} FROM ratecard_publications
     WHERE $1::text IS NULL OR ratecard = $1
     ORDER BY published_at, publication_id`,
    [ratecard ?? null],
  );
  return result.rows.map(toPublication);
}

/**
 * The published text of every version of a card, by effective_from: what a workflow parses (with
 * parseRateCardText) to rate with exactly the published versions.
 */
export async function loadPublishedRateCardTexts(
  db: Queryable,
  ratecard: string,
): Promise<{ fileName: string; contentHash: string; content: string }[]> {
  const result = await db.query<{ file_name: string; content_hash: string; content: string }>(
    'SELECT file_name, content_hash, content FROM ratecard_publications WHERE ratecard = $1 ORDER BY effective_from',
    [ratecard],
  );
  return result.rows.map((row) => ({ fileName: row.file_name, contentHash: row.content_hash, content: row.content }));
}

/** One published version by its content hash (what a snapshot or invoice recorded). */
export async function publishedRateCardTextByHash(
  db: Queryable,
  ratecard: string,
  contentHash: string,
): Promise<{ fileName: string; contentHash: string; content: string } | undefined> {
  const result = await db.query<{ file_name: string; content_hash: string; content: string }>(
    'SELECT file_name, content_hash, content FROM ratecard_publications WHERE ratecard = $1 AND content_hash = $2',
    [ratecard, contentHash],
  );
  const row = result.rows[0];
  return row === undefined
    ? undefined
    : { fileName: row.file_name, contentHash: row.content_hash, content: row.content };
}

/** Every published version of every card, by card then effective_from. */
export async function loadAllPublishedRateCardTexts(
  db: Queryable,
): Promise<{ ratecard: string; fileName: string; contentHash: string; content: string }[]> {
  const result = await db.query<{ ratecard: string; file_name: string; content_hash: string; content: string }>(
    'SELECT ratecard, file_name, content_hash, content FROM ratecard_publications ORDER BY ratecard, effective_from',
  );
  return result.rows.map((row) => ({
    ratecard: row.ratecard,
    fileName: row.file_name,
    contentHash: row.content_hash,
    content: row.content,
  }));
}
