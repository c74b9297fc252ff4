import { describe, expect, it } from 'vitest';
import { liveInvoiceId, rerunNumberOfInvoice, rerunSuffix } from './period-rerun.ts';

describe('period re-run ids', () => {
  it.each([
    { rerun: undefined, invoiceId: 'inv:acme:2026-10', number: 0, suffix: '' },
    { rerun: 1, invoiceId: 'inv:acme:2026-10:r1', number: 1, suffix: ':rerun:1' },
    { rerun: 12, invoiceId: 'inv:acme:2026-10:r12', number: 12, suffix: ':rerun:12' },
  ])('re-run $rerun: invoice $invoiceId', ({ rerun, invoiceId, number, suffix }) => {
    expect(liveInvoiceId('acme', '2026-10', rerun)).toBe(invoiceId);
    expect(rerunNumberOfInvoice(invoiceId)).toBe(number);
    expect(rerunSuffix(rerun)).toBe(suffix);
  });

  it('reads no re-run from a customer id that merely ends in r and digits', () => {
    // The customer id comes before the period; only a suffix after the period names a re-run.
    expect(rerunNumberOfInvoice('inv:car1:2026-10')).toBe(0);
  });
});
