import { describe, expect, it } from 'vitest';
import { verifyChainPage, type ChainRow } from './audit-chain.ts';

// A toy hash (the real one is sha256 over canonical JSON, contracts/audit-entry.ts): enough to show the links.
interface Row extends ChainRow {
  readonly content: string;
}
const hashOf = (row: Omit<Row, 'hash'>) => `h(${row.seq}|${row.content}|${row.prevHash})`;
const GENESIS = { seq: 0, hash: 'genesis' };

function chain(contents: readonly string[]): Row[] {
  const rows: Row[] = [];
  let previous = GENESIS.hash;
  contents.forEach((content, index) => {
    const unhashed = { seq: index + 1, content, prevHash: previous };
    const row = { ...unhashed, hash: hashOf(unhashed) };
    rows.push(row);
    previous = row.hash;
  });
  return rows;
}

describe('the audit chain', () => {
  it('accepts an intact chain, page by page', () => {
    const rows = chain(['a', 'b', 'c', 'd']);
    const first = verifyChainPage(rows.slice(0, 2), GENESIS, hashOf);
    const second = verifyChainPage(rows.slice(2), first.cursor, hashOf);
    expect([first.breaks, second.breaks]).toEqual([[], []]);
    expect(second.cursor).toEqual({ seq: 4, hash: rows[3]?.hash });
  });

  it('finds an edited row by its hash', () => {
    const rows = chain(['a', 'b', 'c']);
    const edited = rows.map((row) => (row.seq === 2 ? { ...row, content: 'B' } : row));
    expect(verifyChainPage(edited, GENESIS, hashOf).breaks).toEqual([
      expect.objectContaining({ seq: 2, problem: 'edited' }),
    ]);
  });

  it('finds a row edited and re-hashed by its broken link to the next', () => {
    const rows = chain(['a', 'b', 'c']);
    const rehashed = rows.map((row) => {
      if (row.seq !== 2) return row;
      const content = 'B';
      return { ...row, content, hash: hashOf({ ...row, content }) };
    });
    expect(verifyChainPage(rehashed, GENESIS, hashOf).breaks).toEqual([
      expect.objectContaining({ seq: 3, problem: 'relinked' }),
    ]);
  });

  it('finds a removed row by the gap it leaves', () => {
    const rows = chain(['a', 'b', 'c', 'd']).filter((row) => row.seq !== 2);
    expect(verifyChainPage(rows, GENESIS, hashOf).breaks).toEqual([
      expect.objectContaining({ seq: 3, problem: 'missing', detail: 'row 2 is missing' }),
    ]);
  });
});
