import { existsSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { loadRateCardFolder } from '../config/config-files.ts';
import { durationMs } from '../contracts/config-fields.ts';
import { parseContractText, type Contract } from '../contracts/contract.ts';
import { parseRateCardText, sortVersions, type RateCardVersion } from '../contracts/ratecard.ts';
import { contractTextByHash, currentContractText } from '../db/queries/contract-publications.ts';
import {
  loadAllPublishedRateCardTexts,
  loadPublishedRateCardTexts,
  publishedRateCardTextByHash,
} from '../db/queries/ratecard-publications.ts';
import {
  PublishedTermsError,
  UnknownCustomerError,
  UnpublishedRateCardError,
  type CustomerTerms,
  type RateCardDrift,
  type RecordedTerms,
  type TermsSource,
} from './customer-terms.ts';

/**
 * Terms from the publication logs in Postgres (SPEC §2, §3): the customer's latest published contract
 * and the published versions of its rate card. Texts are parsed once per content hash (a close reads
 * its terms in several steps). `ratecardsDir`, when the worker keeps Finance's rate-card files, is
 * read only to find files that disagree with the log (fileDrift); nothing is ever rated from it.
 */
export function publishedTerms(pool: pg.Pool, options: { readonly ratecardsDir?: string } = {}): TermsSource {
  const contracts = new Map<string, Contract>();
  const versions = new Map<string, RateCardVersion>();

  function parseContract(
    customerId: string,
    text: { contentHash: string; content: string; fileName: string },
  ): Contract {
    const cached = contracts.get(text.contentHash);
    if (cached !== undefined) return cached;
    const parsed = parseContractText(text.content, text.fileName);
    if (!parsed.ok) {
      throw new PublishedTermsError(
        `the published contract of ${customerId} (${text.fileName}, sha256 ${text.contentHash}) no longer parses: ${parsed.problems.map((problem) => problem.message).join('; ')}`,
      );
    }
    if (parsed.contract.customer_id !== customerId) {
      throw new PublishedTermsError(
        `${text.fileName} was published for ${customerId} but is the contract of ${parsed.contract.customer_id}`,
      );
    }
    contracts.set(text.contentHash, parsed.contract);
    return parsed.contract;
  }

  function parseVersion(text: { contentHash: string; content: string; fileName: string }): RateCardVersion {
    const cached = versions.get(text.contentHash);
    if (cached !== undefined) return cached;
    const parsed = parseRateCardText(text.content, text.fileName);
    if (!parsed.ok) {
      throw new PublishedTermsError(
        `the published rate-card version ${text.fileName} (sha256 ${text.contentHash}) no longer parses: ${parsed.problems.map((problem) => problem.message).join('; ')}`,
      );
    }
    versions.set(text.contentHash, parsed.version);
    return parsed.version;
  }

  function terms(contract: Contract, contractHash: string, cardVersions: readonly RateCardVersion[]): CustomerTerms {
    return {
      contract,
      contractHash,
      versions: cardVersions,
      graceMs: durationMs(contract.grace),
      reviewTimeoutMs: durationMs(contract.review?.timeout ?? '72h'),
    };
  }

  return {
    async current(customerId) {
      const text = await currentContractText(pool, customerId);
      if (text === undefined) throw new UnknownCustomerError(customerId);
      const contract = parseContract(customerId, text);
      const published = (await loadPublishedRateCardTexts(pool, contract.ratecard)).map(parseVersion);
      if (published.length === 0) {
        throw new UnpublishedRateCardError(
          `rate card ${contract.ratecard} of ${customerId}'s contract has no published version (tally ratecards publish)`,
        );
      }
      return terms(contract, text.contentHash, published);
    },

    async recorded(customerId, recorded: RecordedTerms) {
      const text = await contractTextByHash(pool, customerId, recorded.contractHash);
      if (text === undefined) {
        throw new PublishedTermsError(`no published contract of ${customerId} has sha256 ${recorded.contractHash}`);
      }
      const cardVersions: RateCardVersion[] = [];
      for (const ref of recorded.ratecardVersions) {
        const version = await publishedRateCardTextByHash(pool, ref.ratecard, ref.content_hash);
        if (version === undefined) {
          throw new PublishedTermsError(
            `no published version of rate card ${ref.ratecard} has sha256 ${ref.content_hash} (in force from ${ref.effective_from})`,
          );
        }
        cardVersions.push(parseVersion(version));
      }
      return terms(parseContract(customerId, text), text.contentHash, sortVersions(cardVersions));
    },

    async fileDrift(ratecard, periodStart, periodEnd) {
      if (options.ratecardsDir === undefined) return [];
      const folderPath = path.join(options.ratecardsDir, ratecard);
      // No folder for this card on this worker: nothing on disk to disagree with the log.
      if (!existsSync(folderPath)) return [];
      const folder = await loadRateCardFolder(folderPath);
      const onDisk = new Map(folder.versions.map((version) => [version.effective_from, version]));
      const published = new Map(
        (await loadPublishedRateCardTexts(pool, ratecard)).map((text) => {
          const version = parseVersion(text);
          return [version.effective_from, version] as const;
        }),
      );
      // The versions that would be in force inside the period, files and log together: the last one
      // starting at or before the period's start, and every one starting inside it.
      const starts = [...new Set([...onDisk.keys(), ...published.keys()])].sort();
      const startMs = Date.parse(periodStart);
      const endMs = Date.parse(periodEnd);
      const atStart = starts.filter((start) => Date.parse(start) <= startMs).at(-1);
      const relevant = starts.filter(
        (start) => start === atStart || (Date.parse(start) > startMs && Date.parse(start) < endMs),
      );
      const drift: RateCardDrift[] = [];
      for (const start of relevant) {
        const file = onDisk.get(start);
        if (file === undefined) continue; // only in the log: the log is what counts
        const publication = published.get(start);
        if (publication === undefined) {
          drift.push({
            ratecard,
            effectiveFrom: start,
            file: file.file,
            problem: 'never_published',
            detail: `rate card ${ratecard} version ${start.slice(0, 10)} (${file.file}, in force from ${start}) was never published`,
          });
        } else if (publication.content_hash !== file.content_hash) {
          drift.push({
            ratecard,
            effectiveFrom: start,
            file: file.file,
            problem: 'changed_after_publication',
            detail: `rate card ${ratecard} version ${start.slice(0, 10)}: ${file.file} no longer matches what was published (file sha256 ${file.content_hash}, published ${publication.content_hash})`,
          });
        }
      }
      // A file that does not parse may be a version in force: say so rather than guess. One whose name
      // dates it after the period cannot be (a draft of next quarter's prices blocks nothing now).
      for (const problem of folder.problems) {
        const namedStart = instantOfFileName(problem.file);
        if (namedStart !== undefined && namedStart >= endMs) continue;
        drift.push({
          ratecard,
          effectiveFrom: '',
          file: problem.file,
          problem: 'invalid_file',
          detail: `rate card ${ratecard}: ${problem.file}:${problem.line}:${problem.column} ${problem.field}: ${problem.message}`,
        });
      }
      return drift;
    },

    async publishedVersions(ratecard) {
      return (await loadPublishedRateCardTexts(pool, ratecard)).map(parseVersion);
    },

    async allPublishedCards() {
      const cards = new Map<string, RateCardVersion[]>();
      for (const text of await loadAllPublishedRateCardTexts(pool)) {
        const list = cards.get(text.ratecard) ?? [];
        list.push(parseVersion(text));
        cards.set(text.ratecard, list);
      }
      return cards;
    },
  };
}

/** The instant a rate-card file's name gives (`2026-10-16.yaml`, `2026-10-16T12:00:00Z.yaml`), if it gives one. */
function instantOfFileName(file: string): number | undefined {
  const stem = path.basename(file, '.yaml');
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(stem) ? `${stem}T00:00:00Z` : stem);
  return Number.isNaN(ms) ? undefined : ms;
}
