import { describe, expect, it } from 'vitest';
import { liveInvoiceId, rerunSuffix } from './period-rerun.ts';

describe('period re-run ids', () => {
  it.each([
    { rerun: undefined, invoiceId: 'inv:acme:2026-10', suffix: '' },
    { rerun: 1, invoiceId: 'inv:acme:2026-10:r1', suffix: ':rerun:1' },
    { rerun: 12, invoiceId: 'inv:acme:2026-10:r12', suffix: ':rerun:12' },
  ])('re-run $rerun: invoice $invoiceId', ({ rerun, invoiceId, suffix }) => {
    expect(liveInvoiceId('acme', '2026-10', rerun)).toBe(invoiceId);
    expect(rerunSuffix(rerun)).toBe(suffix);
  });
});
