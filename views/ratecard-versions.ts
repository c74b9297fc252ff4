import type pg from 'pg';
import { loadRateCard } from '../config/config-files.ts';
import { parseRateCardText, type RateCardVersion } from '../contracts/ratecard.ts';
import { loadPublishedRateCardTexts } from '../db/queries/ratecard-publications.ts';
import type { RateCardVersionLoader } from './invoice-lineage.ts';

/**
 * Rate-card versions for reading invoices: what was published (SPEC §2: billing rates only the
 * change log's content), so a page needs neither the customer's contract file nor a worker's disk;
 * a card never published falls back to Finance's files under `ratecardsDir`.
 */
export function publishedRateCardVersions(pool: pg.Pool, ratecardsDir: string): RateCardVersionLoader {
  return async (ratecard) => {
    const published = await loadPublishedRateCardTexts(pool, ratecard).catch(() => []);
    if (published.length === 0) return loadRateCard(ratecardsDir, ratecard);
    const versions: RateCardVersion[] = [];
    for (const text of published) {
      const parsed = parseRateCardText(text.content, text.fileName);
      if (parsed.ok) versions.push(parsed.version);
    }
    return versions;
  };
}
