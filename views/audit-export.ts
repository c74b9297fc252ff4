import type pg from 'pg';
import type { AuditEntry } from '../contracts/audit-entry.ts';
import { auditEntriesAfter } from '../db/queries/audit-log.ts';

export type AuditExportFormat = 'jsonl' | 'csv';

/** The whole audit log, oldest first, one line at a time (read a page at a time: the log has no cap). */
export async function* auditExportLines(pool: pg.Pool, format: AuditExportFormat): AsyncGenerator<string> {
  if (format === 'csv') yield 'seq,at,actor_kind,actor,action,subject,details,prev_hash,hash\n';
  for (let after = 0; ;) {
    const page = await auditEntriesAfter(pool, after, 2_000);
    if (page.length === 0) return;
    for (const entry of page) yield format === 'csv' ? csvLine(entry) : `${JSON.stringify(entry)}\n`;
    after = page.at(-1)?.seq ?? after;
  }
}

function csvLine(entry: AuditEntry): string {
  const fields = [
    entry.seq,
    entry.at,
    entry.actor.kind,
    entry.actor.name,
    entry.action,
    entry.subject,
    JSON.stringify(entry.details),
    entry.prevHash,
    entry.hash,
  ];
  return `${fields.map(csvField).join(',')}\n`;
}

function csvField(value: string | number): string {
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
