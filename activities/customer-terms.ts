import path from 'node:path';
import { durationMs } from '../contracts/config-fields.ts';
import { loadContractFile, loadRateCard, ParsedTextCache } from '../config/config-files.ts';
import type { Contract } from '../contracts/contract.ts';
import type { RateCardVersion } from '../contracts/ratecard.ts';
import { TallyError } from '../contracts/tally-error.ts';

/** A customer's contract with the versions of its rate card, and the waits it sets. */
export interface CustomerTerms {
  readonly contract: Contract;
  readonly versions: readonly RateCardVersion[];
  readonly graceMs: number;
  readonly reviewTimeoutMs: number;
}

export class CustomerTermsError extends TallyError {
  constructor(message: string) {
    super('customer_terms_invalid', message, { permanent: true });
  }
}

/**
 * Reads terms from Finance's files: `<contractsDir>/<customer_id>.yaml` and
 * `<ratecardsDir>/<ratecard>/*.yaml`. Every call reads the files again, so a published rate-card
 * version is seen by the next step that needs it; the invoice records the hashes it used. Texts seen
 * before are not parsed again (a period close loads the terms in six steps).
 */
export function fileTermsLoader(directories: {
  contractsDir: string;
  ratecardsDir: string;
}): (customerId: string) => Promise<CustomerTerms> {
  const cache = new ParsedTextCache();
  return async (customerId) => {
    if (!/^[A-Za-z0-9._:-]{1,128}$/.test(customerId))
      throw new CustomerTermsError(`not a customer id: ${JSON.stringify(customerId)}`);
    const contract = await loadContractFile(path.join(directories.contractsDir, `${customerId}.yaml`), cache);
    if (contract.customer_id !== customerId) {
      throw new CustomerTermsError(`${customerId}.yaml is the contract of ${contract.customer_id}`);
    }
    const versions = await loadRateCard(directories.ratecardsDir, contract.ratecard, cache);
    return {
      contract,
      versions,
      graceMs: durationMs(contract.grace),
      reviewTimeoutMs: durationMs(contract.review?.timeout ?? '72h'),
    };
  };
}
