import type pg from 'pg';
import { parseContractText } from '../contracts/contract.ts';
import { currentContractTexts } from '../db/queries/contract-publications.ts';
import {
  issuedUsageByPeriod,
  monthToDateUsage,
  prepaidConsumptionByPeriod,
  prepaidGrants,
} from '../db/queries/finops.ts';
import { commitBurndown, type CommitBurndown } from '../domain/commits/burndown.ts';
import { periodOf } from '../domain/period.ts';

/**
 * `tally commits`: every contract in force with a commit, prepaid credit or a ramp, as of `asOf`:
 * closed periods from issued invoices, this period from the usage-alert loop's latest month-to-date
 * valuation, prepaid balances and consumption from the credit ledger.
 */
export async function commitReport(
  pool: pg.Pool,
  options: { asOf: string; customerId?: string },
): Promise<CommitBurndown[]> {
  const period = periodOf(options.asOf).name;
  const [contracts, closed, current, grants, consumed] = await Promise.all([
    currentContractTexts(pool),
    issuedUsageByPeriod(pool),
    monthToDateUsage(pool, period),
    prepaidGrants(pool),
    prepaidConsumptionByPeriod(pool),
  ]);
  const results: CommitBurndown[] = [];
  for (const published of contracts) {
    if (options.customerId !== undefined && published.customerId !== options.customerId) continue;
    const parsed = parseContractText(published.content, published.fileName);
    if (!parsed.ok) continue;
    const contract = parsed.contract;
    const prepaid = grants.filter(
      (grant) => grant.customerId === contract.customer_id && grant.currency === contract.currency,
    );
    if (contract.commit === undefined && prepaid.length === 0 && contract.ramp.length === 0) continue;
    const monthToDate = current.find(
      (entry) => entry.customerId === contract.customer_id && entry.currency === contract.currency,
    );
    results.push(
      commitBurndown(
        {
          customer_id: contract.customer_id,
          currency: contract.currency,
          ...(contract.commit === undefined ? {} : { commit: contract.commit.amount }),
          ramp: contract.ramp.map((step) => ({ period: step.period, usage: step.amount })),
          ...(contract.ends_at === undefined ? {} : { ends_at: contract.ends_at }),
          closed: closed
            .filter((entry) => entry.customerId === contract.customer_id && entry.currency === contract.currency)
            .map((entry) => ({ period: entry.period, usage: entry.usage })),
          ...(monthToDate === undefined
            ? {}
            : { current: { period, usage: monthToDate.usage, as_of: monthToDate.asOf } }),
          prepaid: prepaid.map((grant) => ({
            credit_id: grant.creditId,
            amount: grant.amount,
            remaining: grant.remaining,
            ...(grant.expiresAt === undefined ? {} : { expires_at: grant.expiresAt }),
          })),
          prepaid_consumed: consumed
            .filter((entry) => entry.customerId === contract.customer_id)
            .map((entry) => ({ period: entry.period, usage: entry.consumed })),
        },
        options.asOf,
      ),
    );
  }
  return results;
}
