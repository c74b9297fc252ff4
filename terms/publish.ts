import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { loadRateCardFile, loadRateCardFolder, readConfigText } from '../config/config-files.ts';
import { parseContractText, type Contract } from '../contracts/contract.ts';
import { contentHash, type RateCardVersion } from '../contracts/ratecard.ts';
import { TallyError } from '../contracts/tally-error.ts';
import { ConfigFileError } from '../contracts/yaml-config.ts';
import { withTransaction } from '../db/pool.ts';
import {
  insertContractPublication,
  latestContractPublication,
  lockContractPublications,
  type ContractPublication,
} from '../db/queries/contract-publications.ts';
import { publishRateCardVersion, type RateCardPublication } from '../db/queries/ratecard-publications.ts';
import { appendAuditEntry } from '../db/queries/audit-log.ts';
import type { AuditActor } from '../contracts/audit-entry.ts';

/**
 * Publishing Finance's files into the append-only logs billing reads (SPEC §2, §3): `tally ratecards
 * publish`, `tally contracts publish`, the demo and the tests all publish through here. A file is
 * validated whole before anything of it is recorded; publishing what is already current is a no-op.
 * Each publication and its audit-log entry commit together.
 */

export interface PublishOptions {
  /** Who publishes, as the logs record it (`published_by`). */
  readonly publishedBy: string;
  readonly note?: string;
  /** Who acts, for the audit log (default: the process, named by `publishedBy`). */
  readonly actor?: AuditActor;
}

function actorOf(options: PublishOptions): AuditActor {
  return options.actor ?? { kind: 'process', name: options.publishedBy };
}

class PublicationRefusedError extends TallyError {
  constructor(code: string, message: string) {
    super(code, message, { permanent: true });
  }
}

export interface PublishedRateCard {
  readonly file: string;
  readonly version: RateCardVersion;
  readonly status: 'published' | 'already_published';
  readonly publication: RateCardPublication;
}

/**
 * Publishes rate-card version files. Each file's whole folder is validated first (a version that
 * breaks the card's history is never published); a version published before with other content is
 * refused: a published version is never edited, only superseded.
 */
export async function publishRateCardFiles(
  pool: pg.Pool,
  files: readonly string[],
  options: PublishOptions,
): Promise<PublishedRateCard[]> {
  const checked = new Set<string>();
  for (const file of files) {
    const folder = path.dirname(path.resolve(file));
    if (checked.has(folder)) continue;
    checked.add(folder);
    const loaded = await loadRateCardFolder(folder);
    if (loaded.problems.length > 0)
      throw new ConfigFileError(loaded.problems, `nothing published: rate card ${loaded.ratecard} is invalid`);
  }
  const loaded = await Promise.all(files.map(async (file) => ({ file, ...(await loadRateCardFile(file)) })));
  const results: PublishedRateCard[] = [];
  for (const { file, version, text } of loaded) {
    const outcome = await withTransaction(pool, async (client) => {
      const published = await publishRateCardVersion(client, {
        ratecard: version.ratecard,
        effectiveFrom: version.effective_from,
        contentHash: version.content_hash,
        content: text,
        fileName: `${version.ratecard}/${path.basename(file)}`,
        note: options.note ?? version.note ?? '',
        publishedBy: options.publishedBy,
      });
      if (published.status === 'published') {
        await appendAuditEntry(client, {
          actor: actorOf(options),
          action: 'ratecard_published',
          subject: `ratecard:${version.ratecard}@${published.publication.effectiveFrom}`,
          details: {
            content_hash: version.content_hash,
            file: published.publication.fileName,
            note: published.publication.note,
            published_by: options.publishedBy,
          },
        });
      }
      return published;
    });
    if (outcome.status === 'changed') {
      throw new PublicationRefusedError(
        'published_version_changed',
        `${file}: ${version.ratecard} (in force from ${version.effective_from}) was published on ${outcome.publication.publishedAt} with sha256 ${outcome.publication.contentHash}, and this file differs (sha256 ${version.content_hash}). A published version is never edited: put the change in a new file with a later effective_from.`,
      );
    }
    results.push({ file, version, status: outcome.status, publication: outcome.publication });
  }
  return results;
}

/** Every version file of every card under `root` (`<root>/<ratecard>/*.yaml`). */
export async function publishRateCardRoot(
  pool: pg.Pool,
  root: string,
  options: PublishOptions,
): Promise<PublishedRateCard[]> {
  const files: string[] = [];
  for (const card of (await readdir(root)).sort()) {
    const folder = path.join(root, card);
    if (!(await stat(folder)).isDirectory()) continue;
    for (const name of (await readdir(folder)).sort()) if (name.endsWith('.yaml')) files.push(path.join(folder, name));
  }
  return publishRateCardFiles(pool, files, options);
}

export interface PublishedContract {
  readonly file: string;
  readonly contract: Contract;
  readonly status: 'published' | 'unchanged';
  readonly publication: ContractPublication;
}

/**
 * Publishes contract files, one customer each. The customer's latest publication is its contract
 * in force; publishing the same text again changes nothing, publishing another text supersedes it
 * (both stay in the log).
 */
export async function publishContractFiles(
  pool: pg.Pool,
  files: readonly string[],
  options: PublishOptions,
): Promise<PublishedContract[]> {
  const texts: { file: string; text: string }[] = [];
  for (const file of files) {
    const read = await readConfigText(file);
    if (!read.ok) throw new ConfigFileError([read.problem], 'nothing published');
    texts.push({ file, text: read.text });
  }
  return publishContractTexts(pool, texts, options);
}

/** Publishes contract texts (validated whole first: a bad one publishes nothing). */
export async function publishContractTexts(
  pool: pg.Pool,
  texts: readonly { readonly file: string; readonly text: string }[],
  options: PublishOptions,
): Promise<PublishedContract[]> {
  const parsed = texts.map(({ file, text }) => {
    const result = parseContractText(text, file);
    if (!result.ok) throw new ConfigFileError(result.problems, 'nothing published: the contract is invalid');
    return { file, text, contract: result.contract };
  });
  const seen = new Set<string>();
  for (const { file, contract } of parsed) {
    if (seen.has(contract.customer_id))
      throw new PublicationRefusedError(
        'contract_published_twice',
        `${file}: ${contract.customer_id} has two contract files in one publication; publish one`,
      );
    seen.add(contract.customer_id);
  }
  const results: PublishedContract[] = [];
  for (const { file, text, contract } of parsed) {
    const hash = contentHash(text);
    results.push(
      await withTransaction(pool, async (client) => {
        await lockContractPublications(client, contract.customer_id);
        const latest = await latestContractPublication(client, contract.customer_id);
        if (latest?.contentHash === hash) return { file, contract, status: 'unchanged' as const, publication: latest };
        const publication = await insertContractPublication(client, {
          customerId: contract.customer_id,
          contentHash: hash,
          content: text,
          fileName: path.basename(file),
          ratecard: contract.ratecard,
          startsAt: contract.starts_at,
          endsAt: contract.ends_at,
          note: options.note ?? '',
          publishedBy: options.publishedBy,
        });
        await appendAuditEntry(client, {
          actor: actorOf(options),
          action: 'contract_published',
          subject: `contract:${contract.customer_id}`,
          details: {
            content_hash: hash,
            file: publication.fileName,
            note: publication.note,
            published_by: options.publishedBy,
          },
        });
        return { file, contract, status: 'published' as const, publication };
      }),
    );
  }
  return results;
}
