import type pg from 'pg';
import { AUDIT_GENESIS_HASH, auditEntryHash, type AuditEntry } from '../contracts/audit-entry.ts';
import { auditEntriesAfter } from '../db/queries/audit-log.ts';
import { verifyChainPage, type ChainBreak, type ChainCursor } from '../domain/access/audit-chain.ts';

export interface AuditVerification {
  readonly ok: boolean;
  readonly rows: number;
  readonly head: ChainCursor | undefined;
  readonly breaks: readonly ChainBreak[];
}

const PAGE_ROWS = 5_000;

/**
 * Walks the whole audit log in sequence order, a page at a time (no retention cap: it may be long),
 * recomputing every hash and link. `expectHead` (a `seq:hash` recorded earlier, e.g. printed by an
 * earlier verify and kept elsewhere) also catches rows removed from the end, which no chain can show.
 */
export async function verifyAuditLog(
  pool: pg.Pool,
  options: { expectHead?: ChainCursor; onProgress?: (rows: number) => void } = {},
): Promise<AuditVerification> {
  let cursor: ChainCursor = { seq: 0, hash: AUDIT_GENESIS_HASH };
  const breaks: ChainBreak[] = [];
  let rows = 0;
  let expectedSeen = options.expectHead === undefined;
  for (;;) {
    const page = await auditEntriesAfter(pool, cursor.seq, PAGE_ROWS);
    if (page.length === 0) break;
    const checked = verifyChainPage<AuditEntry>(page, cursor, (entry) => auditEntryHash(entry));
    breaks.push(...checked.breaks);
    if (options.expectHead !== undefined) {
      const recorded = page.find((entry) => entry.seq === options.expectHead?.seq);
      if (recorded !== undefined) {
        expectedSeen = true;
        if (recorded.hash !== options.expectHead.hash)
          breaks.push({
            seq: recorded.seq,
            problem: 'edited',
            detail: `the recorded head says ${options.expectHead.hash.slice(0, 12)}…, the row says ${recorded.hash.slice(0, 12)}…`,
          });
      }
    }
    rows += page.length;
    cursor = checked.cursor;
    options.onProgress?.(rows);
  }
  if (!expectedSeen && options.expectHead !== undefined)
    breaks.push({
      seq: options.expectHead.seq,
      problem: 'missing',
      detail: `row ${options.expectHead.seq} of the recorded head is gone (the log ends at ${cursor.seq})`,
    });
  return { ok: breaks.length === 0, rows, head: rows === 0 ? undefined : cursor, breaks };
}
