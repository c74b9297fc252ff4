import type pg from 'pg';

/** One row of the append-only contract change log (migration 0070). */
export interface ContractPublication {
  readonly publicationId: string;
  readonly customerId: string;
  readonly contentHash: string;
  readonly fileName: string;
  readonly ratecard: string;
  readonly startsAt: string | undefined;
  readonly endsAt: string | undefined;
  readonly note: string;
  readonly publishedBy: string;
  readonly publishedAt: string;
}

export interface PublishedContractText {
  readonly contentHash: string;
  readonly content: string;
  readonly fileName: string;
}

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

interface PublicationRow {
  publication_id: string;
  customer_id: string;
  content_hash: string;
  file_name: string;
  ratecard: string;
  starts_at: Date | null;
  ends_at: Date | null;
  note: string;
  published_by: string;
  published_at: Date;
}

const COLUMNS =
  'publication_id, customer_id, content_hash, file_name, ratecard, starts_at, ends_at, note, published_by, published_at';

function toPublication(row: PublicationRow): ContractPublication {
  return {
    publicationId: row.publication_id,
    customerId: row.customer_id,
    contentHash: row.content_hash,
    fileName: row.file_name,
    ratecard: row.ratecard,
    startsAt: row.starts_at?.toISOString(),
    endsAt: row.ends_at?.toISOString(),
    note: row.note,
    publishedBy: row.published_by,
    publishedAt: row.published_at.toISOString(),
  };
}

export interface ContractPublicationInput {
  readonly customerId: string;
  readonly contentHash: string;
  readonly content: string;
  readonly fileName: string;
  readonly ratecard: string;
  readonly startsAt: string | undefined;
  readonly endsAt: string | undefined;
  readonly note: string;
  readonly publishedBy: string;
}

/** Serialises publications of one customer's contract (the caller's transaction holds it). */
export async function lockContractPublications(client: pg.PoolClient, customerId: string): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('contract_publications:' || $1))`, [customerId]);
}

export async function latestContractPublication(
  db: Queryable,
  customerId: string,
): Promise<ContractPublication | undefined> {
  const { rows } = await db.query<PublicationRow>(
    `SELECT ${COLUMNS} FROM contract_publications WHERE customer_id = $1 ORDER BY publication_id DESC LIMIT 1`,
    [customerId],
  );
  return rows[0] === undefined ? undefined : toPublication(rows[0]);
}

export async function insertContractPublication(
  db: Queryable,
  input: ContractPublicationInput,
): Promise<ContractPublication> {
  const { rows } = await db.query<PublicationRow>(
    `INSERT INTO contract_publications (customer_id, content_hash, content, file_name, ratecard, starts_at, ends_at, note, published_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${COLUMNS}`,
    [
      input.customerId,
      input.contentHash,
      input.content,
      input.fileName,
      input.ratecard,
      input.startsAt ?? null,
      input.endsAt ?? null,
      input.note,
      input.publishedBy,
    ],
  );
  const row = rows[0];
  if (row === undefined) throw new Error(`the contract publication of ${input.customerId} returned no row`);
  return toPublication(row);
}

/** The current contract text of a customer (its latest publication). */
export async function currentContractText(
  db: Queryable,
  customerId: string,
): Promise<PublishedContractText | undefined> {
  const { rows } = await db.query<{ content_hash: string; content: string; file_name: string }>(
    `SELECT content_hash, content, file_name FROM contract_publications
      WHERE customer_id = $1 ORDER BY publication_id DESC LIMIT 1`,
    [customerId],
  );
  const row = rows[0];
  return row === undefined
    ? undefined
    : { contentHash: row.content_hash, content: row.content, fileName: row.file_name };
}

/** Every customer's contract in force (its latest publication), by customer id. */
export async function currentContractTexts(
  db: Queryable,
): Promise<(PublishedContractText & { readonly customerId: string })[]> {
  return currentContractTextsPage(db, { after: null, limit: null });
}

/** The current contract texts of customers after `after` in id order, at most `limit` customers (null: all). */
export async function currentContractTextsPage(
  db: Queryable,
  page: { after: string | null; limit: number | null },
): Promise<(PublishedContractText & { readonly customerId: string })[]> {
  const { rows } = await db.query<{ customer_id: string; content_hash: string; content: string; file_name: string }>(
    `SELECT DISTINCT ON (customer_id) customer_id, content_hash, content, file_name FROM contract_publications
      WHERE $1::text IS NULL OR customer_id > $1
      ORDER BY customer_id, publication_id DESC LIMIT $2`,
    [page.after, page.limit],
  );
  return rows.map((row) => ({
    customerId: row.customer_id,
    contentHash: row.content_hash,
    content: row.content,
    fileName: row.file_name,
  }));
}

/** A published contract text of a customer by its hash (what a snapshot recorded). */
export async function contractTextByHash(
  db: Queryable,
  customerId: string,
  contentHash: string,
): Promise<PublishedContractText | undefined> {
  const { rows } = await db.query<{ content_hash: string; content: string; file_name: string }>(
    `SELECT content_hash, content, file_name FROM contract_publications
      WHERE customer_id = $1 AND content_hash = $2 ORDER BY publication_id DESC LIMIT 1`,
    [customerId, contentHash],
  );
  const row = rows[0];
  return row === undefined
    ? undefined
    : { contentHash: row.content_hash, content: row.content, fileName: row.file_name };
}

/** The change log, oldest first; one customer or all. */
export async function listContractPublications(db: Queryable, customerId?: string): Promise<ContractPublication[]> {
  const { rows } = await db.query<PublicationRow>(
    `SELECT ${COLUMNS} FROM contract_publications WHERE $1::text IS NULL OR customer_id = $1
      ORDER BY published_at, publication_id`,
    [customerId ?? null],
  );
  return rows.map(toPublication);
}

/** The highest publication id: the period opener looks at contracts again only when it moved. */
export async function latestContractPublicationId(db: Queryable): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string | null }>(
    'SELECT max(publication_id)::text AS id FROM contract_publications',
  );
  return rows[0]?.id ?? undefined;
}
