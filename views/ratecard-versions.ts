import type pg from 'pg';
import { publishedTerms } from '../terms/index.ts';
import type { RateCardVersionLoader } from './invoice-lineage.ts';

/**
 * Rate-card versions for reading invoices: what was published (SPEC §2: billing rates only the
 * change log's content), so a page needs neither the customer's contract file nor a worker's disk.
 */
export function publishedRateCardVersions(pool: pg.Pool): RateCardVersionLoader {
  const terms = publishedTerms(pool);
  return async (ratecard) => [...(await terms.publishedVersions(ratecard))];
}
