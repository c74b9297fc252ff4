import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { CustomerTerms } from '../activities/customer-terms.ts';
import type { ConsoleSettings } from '../config/console.ts';
import type { IngestLag } from '../views/ops-overview.ts';
import type { LoginThrottlePolicy } from '../domain/access/login-throttle.ts';

/** What the console is built from (console/console-process.ts builds them; tests build their own). */
export interface ConsoleDeps {
  readonly pool: pg.Pool;
  readonly temporal: Client;
  readonly temporalNamespace: string;
  readonly settings: Pick<
    ConsoleSettings,
    'sessionTtlMs' | 'secureCookie' | 'sessionSecret' | 'loginRatePerMinute' | 'temporalUiUrl'
  >;
  /** A customer's rate-card versions, for invoice lineage (the billing worker's terms). */
  readonly loadTerms: (customerId: string) => Promise<Pick<CustomerTerms, 'versions'>>;
  /** Ingest's consumer lag from JetStream, when NATS is reachable. */
  readonly ingestLag?: () => Promise<IngestLag | undefined>;
  /** Login throttling (tests shorten it). */
  readonly loginThrottle?: LoginThrottlePolicy;
}
