import type pg from 'pg';
import Stripe from 'stripe';
import type { ProviderTarget } from '../contracts/provider-sync.ts';
import type { BillingProvider } from './billing-provider.ts';
import { LedgerBillingProvider } from './ledger-provider.ts';
import { MarketplaceBilledProvider } from './marketplace-billed-provider.ts';
import { ProviderError } from './provider-error.ts';
import {
  createStripeClient,
  StripeBillingProvider,
  type StripeClientOptions,
  type StripeProviderOptions,
} from './stripe-provider.ts';

export { LedgerBillingProvider } from './ledger-provider.ts';
export { StripeBillingProvider } from './stripe-provider.ts';
/** The providers of one process, chosen per contract by `target.kind`. */
export interface BillingProviders {
  forTarget(target: ProviderTarget): BillingProvider;
}

export interface BillingProvidersOptions {
  readonly pool: pg.Pool;
  /** A Stripe client or how to build one; without it, Stripe targets fail with `provider_not_configured`. */
  readonly stripe?: Stripe | StripeClientOptions;
  readonly stripeProvider?: Omit<StripeProviderOptions, 'stripe' | 'pool'>;
}

export function createBillingProviders(options: BillingProvidersOptions): BillingProviders {
  const ledger = new LedgerBillingProvider({ pool: options.pool });
  const marketplace = new MarketplaceBilledProvider({ pool: options.pool });
  const stripeClient =
    options.stripe === undefined
      ? undefined
      : options.stripe instanceof Stripe
        ? options.stripe
        : createStripeClient(options.stripe);
  const stripe =
    stripeClient === undefined
      ? undefined
      : new StripeBillingProvider({ ...options.stripeProvider, stripe: stripeClient, pool: options.pool });
  return {
    forTarget(target) {
      if (target.kind === 'ledger') return ledger;
      if (target.kind === 'marketplace') return marketplace;
      if (stripe === undefined) {
        throw new ProviderError(
          'stripe',
          'provider_not_configured',
          `the contract syncs to Stripe customer ${target.customer}, but this process has no Stripe API key (set STRIPE_API_KEY)`,
        );
      }
      return stripe;
    },
  };
}
