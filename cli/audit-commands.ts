import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Command } from 'commander';
import { AccessError, verifyAuditLog } from '../access/index.ts';
import { migrate } from '../db/migrate.ts';
import { listAuditEntries } from '../db/queries/audit-log.ts';
import { auditExportLines, type AuditExportFormat } from '../views/audit-export.ts';
import { printTable, withDatabase } from './services.ts';

/** The hash-chained audit log: list, verify (exit 1 on any break), export. */
export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit');

  audit
    .command('list')
    .description('audit entries, newest first')
    .option('--actor <name>', 'one actor only')
    .option('--action <action>', 'one action only, e.g. exception_decided')
    .option('--subject <subject>', 'one subject only, e.g. exception:exc:…')
    .option('--limit <n>', 'entries', '50')
    .option('--json', 'machine-readable output')
    .action(async (options: { actor?: string; action?: string; subject?: string; limit: string; json?: boolean }) => {
      await withDatabase(async (pool) => {
        await migrate(pool);
        const entries = await listAuditEntries(pool, {
          ...(options.actor ? { actor: options.actor } : {}),
          ...(options.action ? { action: options.action } : {}),
          ...(options.subject ? { subject: options.subject } : {}),
          limit: Math.min(10_000, Math.max(1, Number.parseInt(options.limit, 10) || 50)),
        });
        if (options.json) return void process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
        printTable(
          entries.map((entry) => ({
            seq: entry.seq,
            at: entry.at,
            actor: entry.actor.kind === 'process' ? `${entry.actor.name} (process)` : entry.actor.name,
            action: entry.action,
            subject: entry.subject,
            details: JSON.stringify(entry.details),
          })),
          ['seq', 'at', 'actor', 'action', 'subject', 'details'],
        );
      });
    });

  audit
    .command('verify')
    .description('recompute every hash and link of the audit log; exit 1 when a row was edited or removed')
    .option('--expect-head <seq:hash>', 'a head printed by an earlier verify: also detects rows removed from the end')
    .option('--json', 'machine-readable output')
    .action(async (options: { expectHead?: string; json?: boolean }) => {
      const expectHead = options.expectHead === undefined ? undefined : parseHead(options.expectHead);
      await withDatabase(async (pool) => {
        await migrate(pool);
        const result = await verifyAuditLog(pool, expectHead ? { expectHead } : {});
        if (options.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        else if (result.ok)
          process.stdout.write(
            `audit log intact: ${result.rows} entries; head ${result.head ? `${result.head.seq}:${result.head.hash}` : '(empty)'} (keep it to detect later removals: --expect-head)\n`,
          );
        else {
          process.stdout.write(`audit log BROKEN: ${result.breaks.length} problem(s) in ${result.rows} entries\n`);
          for (const problem of result.breaks)
            process.stdout.write(`  #${problem.seq} ${problem.problem}: ${problem.detail}\n`);
        }
        if (!result.ok) process.exitCode = 1;
      });
    });

  audit
    .command('export')
    .description('the whole audit log, oldest first, as JSON Lines or CSV')
    .option('--format <format>', 'jsonl | csv', 'jsonl')
    .option('--output <file>', 'write to a file instead of stdout')
    .action(async (options: { format: string; output?: string }) => {
      if (options.format !== 'jsonl' && options.format !== 'csv')
        throw new AccessError('bad_request', '--format is jsonl or csv');
      await withDatabase(async (pool) => {
        await migrate(pool);
        const out = options.output === undefined ? process.stdout : createWriteStream(options.output);
        const write = async (text: string) => {
          if (!out.write(text)) await once(out, 'drain');
        };
        for await (const line of auditExportLines(pool, options.format as AuditExportFormat)) await write(line);
        if (out !== process.stdout) {
          out.end();
          await once(out, 'finish');
        }
      });
    });
}

function parseHead(text: string): { seq: number; hash: string } {
  const match = /^(\d+):([0-9a-f]{64})$/.exec(text);
  if (match === null)
    throw new AccessError('bad_request', '--expect-head is SEQ:HASH as printed by `tally audit verify`');
  return { seq: Number.parseInt(match[1] as string, 10), hash: match[2] as string };
}
