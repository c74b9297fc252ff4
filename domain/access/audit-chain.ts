/**
 * Verifies a run of the hash-chained audit log (pure: the hash function is passed in). Rows come in
 * sequence order, possibly in pages: `resume` carries the last good row into the next page.
 *
 * - edited row: its stored hash differs from the hash of its content (or a later row's `prev_hash`
 *   no longer matches it);
 * - removed row: a gap in the sequence, or a `prev_hash` that names no row before it;
 * - removed rows at the end: only visible against a head recorded earlier (`expectHead`).
 */
export interface ChainRow {
  readonly seq: number;
  readonly prevHash: string;
  readonly hash: string;
}

export type ChainBreak =
  | { readonly seq: number; readonly problem: 'edited'; readonly detail: string }
  | { readonly seq: number; readonly problem: 'missing'; readonly detail: string }
  | { readonly seq: number; readonly problem: 'relinked'; readonly detail: string };

export interface ChainCursor {
  readonly seq: number;
  readonly hash: string;
}

export function verifyChainPage<Row extends ChainRow>(
  rows: readonly Row[],
  resume: ChainCursor,
  hashOf: (row: Row) => string,
): { readonly cursor: ChainCursor; readonly breaks: ChainBreak[] } {
  const breaks: ChainBreak[] = [];
  let cursor = resume;
  for (const row of rows) {
    if (row.seq !== cursor.seq + 1)
      breaks.push({
        seq: row.seq,
        problem: 'missing',
        detail:
          row.seq - cursor.seq === 2
            ? `row ${cursor.seq + 1} is missing`
            : `rows ${cursor.seq + 1}–${row.seq - 1} are missing`,
      });
    else if (row.prevHash !== cursor.hash)
      breaks.push({
        seq: row.seq,
        problem: 'relinked',
        detail: `prev_hash ${row.prevHash.slice(0, 12)}… does not match row ${cursor.seq}'s hash ${cursor.hash.slice(0, 12)}…`,
      });
    const recomputed = hashOf(row);
    if (recomputed !== row.hash)
      breaks.push({
        seq: row.seq,
        problem: 'edited',
        detail: `content hashes to ${recomputed.slice(0, 12)}…, the row says ${row.hash.slice(0, 12)}…`,
      });
    cursor = { seq: row.seq, hash: row.hash };
  }
  return { cursor, breaks };
}
