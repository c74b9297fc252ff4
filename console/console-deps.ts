import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { ConsoleSettings } from '../config/console.ts';
import type { IngestLag } from '../views/ops-overview.ts';
import type { RateCardVersionLoader } from '../views/invoice-lineage.ts';
import type { LoginThrottlePolicy } from '../domain/access/login-throttle.ts';
import type { FinopsSources } from '../finops/executive-view.ts';

/** What the console is built from (console/console-process.ts builds them; tests build their own). */
export interface ConsoleDeps {
  readonly pool: pg.Pool;
  readonly temporal: Client;
  readonly temporalNamespace: string;
  readonly settings: Pick<
    ConsoleSettings,
    'sessionTtlMs' | 'secureCookie' | 'sessionSecret' | 'loginRatePerMinute' | 'temporalUiUrl'
  >;
  /** Rate-card versions by name, for invoice lineage (views/ratecard-versions.ts). */
  readonly loadRateCardVersions: RateCardVersionLoader;
  /** Ingest's consumer lag from JetStream, when NATS is reachable. */
  readonly ingestLag?: () => Promise<IngestLag | undefined>;
  /** Login throttling (tests shorten it). */
  readonly loginThrottle?: LoginThrottlePolicy;
  /**
   * The executive and account views' files: unit costs, rate cards and the product signals (default:
   * the repository's `costs/`, `ratecards/` and `signals/product-signals.yaml`, console/finops-sources.ts).
   */
  readonly finops?: FinopsSources;
  /** Where the server's warnings and errors go (default stderr; tests write them to a file). */
  readonly logStream?: NodeJS.WritableStream;
}
