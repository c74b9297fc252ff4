import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildContract } from '../builders/rating.ts';
import { runTallyAsOperator } from './run-tally.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';

// Finance's shadow journey through the `tally` command: import a legacy export, run the shadow
// period, read the report, see the exception in the review queue, ask for readiness.
let testbed: BillingTestbed;
beforeAll(async () => {
  testbed = await BillingTestbed.create('shadow_cli');
});
afterAll(async () => {
  await testbed.close();
});

function tally(...args: string[]) {
  return runTallyAsOperator(testbed, {}, ...args);
}

const HEADER = 'customer_id,period,price_id,quantity,amount,currency';

describe('tally shadow', () => {
  it('imports (a repeat is a no-op, a newer file a new version, a bad file nothing), runs, reports, queues the exception, and says not ready', async () => {
    await testbed.publishContract(
      buildContract({
        customer_id: 'shcli',
        starts_at: '2026-01-01T00:00:00Z',
        provider: { kind: 'ledger', customer: 'shcli' },
      }),
    );
    const directory = await mkdtemp(path.join(os.tmpdir(), 'tally-shadow-ops-'));
    const file = path.join(directory, 'legacy.csv');
    await writeFile(file, `${HEADER}\nshcli,2026-10,platform,,500.00,USD\n`);

    const first = await tally('shadow', 'import', file, '--source', 'cli');
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain('cli 2026-10: version 1 imported, 1 lines');
    const again = await tally('shadow', 'import', file, '--source', 'cli');
    expect(again.stdout).toContain('cli 2026-10: unchanged (version 1 already holds these 1 lines)');
    const bad = path.join(directory, 'bad.csv');
    await writeFile(bad, `${HEADER}\nshcli,2026-10,platform,,500,USD\n`);
    const refused = await tally('shadow', 'import', bad, '--source', 'cli');
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain(`${bad}:2: amount: 500 does not have exactly 2 decimal digits for USD`);
    await writeFile(file, `${HEADER}\nshcli,2026-10,platform,,450.00,USD\n`);
    const newer = await tally('shadow', 'import', file, '--source', 'cli');
    expect(newer.stdout).toContain('cli 2026-10: version 2 imported, 1 lines (supersedes version 1, kept)');

    const ran = await testbed.withWorker(() => tally('shadow', 'run', '--source', 'cli', '--period', '2026-10'));
    expect(ran.status, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(/shcli\s+(diff|only_new)\s+USD\s+450\.00/);
    expect(ran.stdout).toContain('wait in the review queue');

    const report = await tally('shadow', 'report', '--source', 'cli', '--json');
    const parsed = JSON.parse(report.stdout);
    expect(parsed).toMatchObject({ period: '2026-10', run: { legacyImportId: 'cli:2026-10:v2' } });
    expect(parsed.customers[0]).toMatchObject({ customer_id: 'shcli', exception: true, exception_state: 'open' });
    const lines = await tally('shadow', 'report', '--source', 'cli', '--customer', 'shcli');
    expect(lines.stdout).toMatch(/platform\s+diff/);

    const queue = await tally('review', 'list');
    expect(queue.stdout).toMatch(/exc:shadow:cli:2026-10:\S+:shcli\s+shcli\s+2026-10\s+shadow_variance\s+open/);

    const readiness = await tally('shadow', 'readiness', '--source', 'cli', '--periods', '1');
    expect(readiness.status).toBe(1);
    expect(readiness.stdout).toContain('cli: NOT READY');
    expect(readiness.stdout).toMatch(/2026-10: not ready .*\n\s+shcli: \w+, variance -?\d+\.\d{2} USD \(/);
  }, 120_000);
});
