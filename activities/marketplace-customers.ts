import type pg from 'pg';
import { parseContractText } from '../contracts/contract.ts';
import { currentContractTexts } from '../db/queries/contract-publications.ts';

/**
 * The customers whose contract in force (the latest published) names a marketplace. A published
 * text that no longer parses is skipped and named (its customer's period close reports it as
 * well); the others are still metered.
 */
export function publishedMarketplaceCustomers(
  pool: pg.Pool,
): () => Promise<{ customerIds: string[]; problems: string[] }> {
  return async () => {
    const customerIds: string[] = [];
    const problems: string[] = [];
    for (const text of await currentContractTexts(pool)) {
      const parsed = parseContractText(text.content, text.fileName);
      if (!parsed.ok) problems.push(`${text.customerId}: the published contract no longer parses`);
      else if (parsed.contract.marketplace !== undefined) customerIds.push(parsed.contract.customer_id);
    }
    return { customerIds, problems };
  };
}
