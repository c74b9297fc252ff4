import { describe, expect, it } from 'vitest';
import { ProviderTargetSchema } from './provider-sync.ts';

describe('ProviderTargetSchema', () => {
  it.each([
    [{ kind: 'stripe', customer: 'cus_123' }, true],
    [{ kind: 'stripe', customer: 'cus_NffrFeUfNV2Hib' }, true],
    [{ kind: 'ledger' }, true],
    [{ kind: 'ledger', customer: 'ERP-7' }, true],
    [{ kind: 'stripe' }, false],
    [{ kind: 'stripe', customer: 'acme' }, false],
    [{ kind: 'stripe', customer: 'cus_123', extra: 1 }, false],
    [{ kind: 'paddle', customer: 'x' }, false],
  ])('%j valid: %s', (target, valid) => {
    expect(ProviderTargetSchema.safeParse(target).success).toBe(valid);
  });
});
