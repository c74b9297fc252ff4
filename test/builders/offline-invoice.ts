import path from 'node:path';
import { loadRateCard } from '../../config/config-files.ts';
import { repositoryRoot } from '../../config/services.ts';
import type { Contract } from '../../contracts/contract.ts';
import type { UsageEvent } from '../../contracts/usage-event.ts';
import { billingPeriod } from '../../domain/period.ts';
import { aggregateEvents, creditBalancesFromContract, ratePeriod } from '../../domain/rating/index.ts';
import { CALCULATION_VERSION } from '../../domain/calculation-version.ts';

/**
 * The invoice the offline `tally rate` path computes for the contract's customer from its events
 * among `events`, under the repository's rate cards: what a legacy biller that agrees with Tally charges.
 */
export async function offlineInvoice(contract: Contract, events: readonly UsageEvent[], period: string) {
  const versions = await loadRateCard(path.join(repositoryRoot, 'ratecards'), contract.ratecard);
  const { aggregates, counters } = aggregateEvents(
    events.filter((event) => event.customer_id === contract.customer_id),
    versions,
    billingPeriod(period),
  );
  return ratePeriod({
    customerId: contract.customer_id,
    period: billingPeriod(period),
    contract,
    versions,
    aggregates,
    counters,
    credits: creditBalancesFromContract(contract),
    calculationVersion: CALCULATION_VERSION,
  });
}
