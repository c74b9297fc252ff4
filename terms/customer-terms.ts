import type { Contract } from '../contracts/contract.ts';
import type { RateCardVersionRef } from '../contracts/invoice.ts';
import type { RateCardVersion } from '../contracts/ratecard.ts';
import { TallyError } from '../contracts/tally-error.ts';

/** A customer's contract with the versions of its rate card, and the waits it sets: what a period is billed under. */
export interface CustomerTerms {
  readonly contract: Contract;
  /** sha256 of the published contract text. */
  readonly contractHash: string;
  /** The published versions of the contract's rate card, oldest first. */
  readonly versions: readonly RateCardVersion[];
  readonly graceMs: number;
  readonly reviewTimeoutMs: number;
}

/** Terms as a snapshot and an invoice record them: which contract publication and which rate-card versions. */
export interface RecordedTerms {
  readonly contractHash: string;
  readonly ratecardVersions: readonly RateCardVersionRef[];
}

export function recordedTermsOf(terms: CustomerTerms): RecordedTerms {
  return {
    contractHash: terms.contractHash,
    ratecardVersions: terms.versions.map((version) => ({
      ratecard: version.ratecard,
      effective_from: version.effective_from,
      content_hash: version.content_hash,
    })),
  };
}

/** A rate-card file on a worker's disk that disagrees with the change log for a version in force in a period. */
export interface RateCardDrift {
  readonly ratecard: string;
  readonly effectiveFrom: string;
  readonly file: string;
  readonly problem: 'never_published' | 'changed_after_publication' | 'invalid_file';
  readonly detail: string;
}

/** Where billing reads terms from: Postgres's publication logs, never a worker's files. */
export interface TermsSource {
  /** The terms in force now: the customer's latest published contract and its card's published versions. */
  current(customerId: string): Promise<CustomerTerms>;
  /** Exactly the terms a snapshot or an invoice recorded (by content hash). */
  recorded(customerId: string, recorded: RecordedTerms): Promise<CustomerTerms>;
  /**
   * The rate-card files of `ratecard` on this worker's disk whose version would be in force inside
   * [periodStart, periodEnd) and that were never published or changed since: the period must not be
   * billed until a person looks (SPEC §2). Empty when the worker keeps no rate-card files.
   */
  fileDrift(ratecard: string, periodStart: string, periodEnd: string): Promise<RateCardDrift[]>;
  /** Every published rate card's versions (what usage without a contract would cost under each). */
  allPublishedCards(): Promise<ReadonlyMap<string, readonly RateCardVersion[]>>;
  /** One card's published versions, oldest first (empty when none was published). */
  publishedVersions(ratecard: string): Promise<readonly RateCardVersion[]>;
}

/** No published contract covers this customer (SPEC §3): its usage waits for one. */
export class UnknownCustomerError extends TallyError {
  constructor(readonly customerId: string) {
    super('unknown_customer', `no published contract for customer ${customerId} (tally contracts publish)`, {
      permanent: true,
    });
  }
}

/** A rate card the contract names has no published version in force (SPEC §2: billing rates only what was published). */
export class UnpublishedRateCardError extends TallyError {
  constructor(message: string) {
    super('unpublished_ratecard', message, { permanent: true });
  }
}

/** Published content that no longer parses (a rule tightened since): a person must publish a fixed version. */
export class PublishedTermsError extends TallyError {
  constructor(message: string) {
    super('customer_terms_invalid', message, { permanent: true });
  }
}
