import { readdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { loadContractFile } from '../config/config-files.ts';
import { ConfigFileError, formatProblem } from '../contracts/yaml-config.ts';
import { listContractPublications } from '../db/queries/contract-publications.ts';
import { publishContractFiles, publishedTerms } from '../terms/index.ts';
import { printTable, withDatabase } from './services.ts';

const out = (text: string): void => {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
};

/** The contract files named: each file, or every `.yaml` in a folder. */
async function contractFiles(targets: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const target of targets) {
    if ((await stat(target).catch(() => undefined))?.isDirectory()) {
      for (const name of (await readdir(target)).sort())
        if (name.endsWith('.yaml')) files.push(path.join(target, name));
    } else files.push(target);
  }
  return files;
}

/** Sales' and Finance's customer terms (SPEC §3): validated files, published into the append-only log billing reads. */
export function registerContractsCommands(program: Command): void {
  const contracts = program.command('contracts');

  contracts
    .command('validate')
    .argument('<paths...>', 'contract files, or folders of them')
    .description('check contract files; lists each problem with file:line field and exits non-zero')
    .option('--json', 'machine-readable output')
    .action(async (targets: string[], options: { json?: boolean }) => {
      const results = [];
      for (const file of await contractFiles(targets)) {
        try {
          const contract = await loadContractFile(file);
          results.push({ file, customer_id: contract.customer_id, problems: [] });
        } catch (error) {
          if (!(error instanceof ConfigFileError)) throw error;
          results.push({ file, customer_id: undefined, problems: error.problems });
        }
      }
      const problems = results.flatMap((result) => result.problems);
      if (options.json) out(JSON.stringify({ ok: problems.length === 0, contracts: results }, null, 2));
      else {
        for (const result of results.filter((candidate) => candidate.problems.length === 0))
          out(`${result.file}: ${result.customer_id} valid`);
        for (const problem of problems) process.stderr.write(`${formatProblem(problem)}\n`);
      }
      if (problems.length > 0) {
        if (!options.json)
          process.stderr.write(
            `tally: ${problems.length} problem${problems.length === 1 ? '' : 's'}; nothing is published\n`,
          );
        process.exitCode = 1;
      }
    });

  contracts
    .command('publish')
    .argument('<paths...>', 'contract files, or folders of them (one file per customer)')
    .description(
      "record contracts in the append-only log billing reads (hash, note, who, when); a newer publication supersedes a customer's contract",
    )
    .option('--note <text>', 'why (e.g. the signed order form)')
    .option('--by <name>', 'who publishes (default: the OS user)')
    .action(async (targets: string[], options: { note?: string; by?: string }) => {
      const files = await contractFiles(targets);
      await withDatabase(async (pool) => {
        const published = await publishContractFiles(pool, files, {
          publishedBy: options.by ?? os.userInfo().username,
          actor: { kind: 'process', name: `cli:${os.userInfo().username}` },
          ...(options.note === undefined ? {} : { note: options.note }),
        });
        for (const { file, contract, status, publication } of published) {
          out(
            status === 'published'
              ? `published ${contract.customer_id} from ${file} (sha256 ${publication.contentHash}) by ${publication.publishedBy} at ${publication.publishedAt}`
              : `${contract.customer_id}: ${file} is the contract in force already (sha256 ${publication.contentHash}); nothing to do`,
          );
        }
      });
    });

  contracts
    .command('history')
    .argument('[customer]', 'one customer (default: all)')
    .description('every published contract version with its hash, note, who and when')
    .option('--json', 'machine-readable output')
    .action(async (customerId: string | undefined, options: { json?: boolean }) => {
      await withDatabase(async (pool) => {
        const rows = await listContractPublications(pool, customerId);
        if (options.json) return void out(JSON.stringify(rows, null, 2));
        if (rows.length === 0) return void out('no contracts published yet (tally contracts publish FILE)');
        printTable(
          rows.map((row) => ({
            customer: row.customerId,
            ratecard: row.ratecard,
            starts: row.startsAt ?? '-',
            ends: row.endsAt ?? '-',
            sha256: row.contentHash.slice(0, 12),
            by: row.publishedBy,
            at: row.publishedAt,
            note: row.note,
          })),
          ['customer', 'ratecard', 'starts', 'ends', 'sha256', 'by', 'at', 'note'],
        );
      });
    });

  contracts
    .command('show')
    .argument('<customer>', 'the customer')
    .description('the contract in force for a customer, as published')
    .option('--json', 'machine-readable output')
    .action(async (customerId: string, options: { json?: boolean }) => {
      await withDatabase(async (pool) => {
        const terms = await publishedTerms(pool).current(customerId);
        if (options.json)
          return void out(JSON.stringify({ ...terms.contract, content_hash: terms.contractHash }, null, 2));
        out(JSON.stringify(terms.contract, null, 2));
        out(
          `sha256 ${terms.contractHash}; rate card ${terms.contract.ratecard}: ${terms.versions.length} published versions`,
        );
      });
    });
}
