import { afterAll, describe, expect, it } from 'vitest';
import { createBillingProviders, LedgerBillingProvider, StripeBillingProvider } from '../../providers/index.ts';
import { buildIssuedInvoice } from '../builders/issued-invoice-builder.ts';
import { FakeStripeServer } from '../harness/fake-stripe-server.ts';
import { testPool } from '../harness/services.ts';

const pool = testPool(4);
afterAll(async () => {
  await pool.end();
});

describe('createBillingProviders', () => {
  it('routes each contract target to its provider', async () => {
    const fake = await FakeStripeServer.start();
    try {
      fake.addCustomer({ id: 'cus_routed' });
      const providers = createBillingProviders({ pool, stripe: { ...fake.clientOptions(), maxNetworkRetries: 0 } });
      expect(providers.forTarget({ kind: 'ledger' })).toBeInstanceOf(LedgerBillingProvider);
      const stripe = providers.forTarget({ kind: 'stripe', customer: 'cus_routed' });
      expect(stripe).toBeInstanceOf(StripeBillingProvider);
      const result = await stripe.syncInvoice(buildIssuedInvoice(), { kind: 'stripe', customer: 'cus_routed' });
      expect(result.status).toBe('open');
      expect(fake.invoices({ customer: 'cus_routed' })).toHaveLength(1);
    } finally {
      await fake.close();
    }
  });

  it('fails a Stripe target permanently when no Stripe key is configured', () => {
    const providers = createBillingProviders({ pool });
    expect(() => providers.forTarget({ kind: 'stripe', customer: 'cus_x' })).toThrow(
      expect.objectContaining({ code: 'provider_not_configured', retryable: false }),
    );
  });
});
