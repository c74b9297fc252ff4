import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MarketplaceTestbed } from '../harness/marketplaces/marketplace-testbed.ts';
import { runTallyAsOperator } from './run-tally.ts';

// `tally marketplace export | submit | status` as finance and ops run them, on the test stack,
// reporting to the emulators.

const at = (time: string): string => `2026-10-14T${time}:00.000Z`;
let bed: MarketplaceTestbed;
beforeAll(async () => {
  bed = await MarketplaceTestbed.create('mkt_cli');
  await bed.addCustomer('cli-aws', 'aws');
  await bed.addCustomer('cli-azure', 'azure');
  for (const customer of ['cli-aws', 'cli-azure'])
    await bed.billing.storeEvents(
      bed.events(customer, [
        [at('09:10'), 'llm.tokens', '2500'],
        [at('09:20'), 'batch.jobs', '1'],
        [at('10:10'), 'llm.tokens', '300'],
        [at('10:15'), 'storage.gb', '7'],
      ]),
    );
  bed.setNow(at('11:10'));
}, 120_000);
afterAll(async () => {
  await bed.close();
});

function tally(...args: string[]) {
  return runTallyAsOperator(bed.billing, { env: bed.workerEnv() }, ...args);
}

describe('tally marketplace', () => {
  it('exports what would be sent, submits it, and shows status and parity against the rated usage', async () => {
    const preview = await tally('marketplace', 'export', '--period', '2026-10', '--as-of', at('11:10'), '--json');
    expect(preview.status, preview.stderr).toBe(0);
    const rows = JSON.parse(preview.stdout) as {
      customerId: string;
      status: string;
      sentQuantity: string;
      record: unknown;
    }[];
    expect(rows.filter((row) => row.customerId === 'cli-aws').map((row) => [row.status, row.sentQuantity])).toEqual([
      ['preview', '1'],
      ['preview', '2'],
      ['preview', '0'],
      ['preview', '0'],
    ]);
    expect(rows.find((row) => row.customerId === 'cli-azure' && row.sentQuantity === '2.5')?.record).toEqual({
      resourceId: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
      planId: 'gold',
      dimension: 'tokens',
      quantity: '2.5',
      effectiveStartTime: '2026-10-14T09:00:00Z',
    });
    // A preview writes nothing.
    expect(bed.aws.server.requests).toHaveLength(0);

    const submit = await tally('marketplace', 'submit', '--as-of', at('11:10'), '--json');
    expect(submit.status, `${submit.stdout}\n${submit.stderr}`).toBe(0);
    expect(JSON.parse(submit.stdout)).toMatchObject({ sealed: 8, failures: [] });
    expect(bed.aws.records.size).toBe(4);
    expect(bed.azure.events.size).toBe(3);

    const csv = await tally('marketplace', 'export', '--period', '2026-10', '--as-of', at('11:10'), '--csv');
    const lines = csv.stdout.trim().split('\n');
    expect(lines[0]).toBe(
      'customer_id,marketplace,dimension,hour,part,record_key,unit_size,hour_quantity,late_quantity,carry_in,carry_out,sent_quantity,status,reason,record',
    );
    expect(lines).toHaveLength(9);
    expect(lines.filter((line) => line.includes(',accepted,'))).toHaveLength(7);
    expect(lines.filter((line) => line.includes(',omitted,'))).toHaveLength(1);

    const status = await tally('marketplace', 'status', '--period', '2026-10', '--json');
    expect(status.status, status.stderr).toBe(0);
    const parsed = JSON.parse(status.stdout) as {
      hours: { customerId: string; hour: string; sent: number; accepted: number; pending: number; omitted: number }[];
      parity: {
        customerId: string;
        dimension: string;
        rated: string;
        sent: string;
        accepted: string;
        carried: string;
        gap: string;
        balanced: boolean;
      }[];
    };
    expect(
      parsed.hours.map((row) => [row.customerId, row.hour, row.sent, row.accepted, row.pending, row.omitted]),
    ).toEqual([
      ['cli-aws', at('09:00'), 2, 2, 0, 0],
      ['cli-aws', at('10:00'), 2, 2, 0, 0],
      ['cli-azure', at('09:00'), 2, 2, 0, 0],
      ['cli-azure', at('10:00'), 1, 1, 0, 1],
    ]);
    expect(
      parsed.parity.map((row) => [
        row.customerId,
        row.dimension,
        row.rated,
        row.sent,
        row.accepted,
        row.carried,
        row.balanced,
      ]),
    ).toEqual([
      ['cli-aws', 'jobs', '1', '1', '1', '0', true],
      ['cli-aws', 'tokens', '2.8', '2', '2', '0.8', true],
      ['cli-azure', 'jobs', '1', '1', '1', '0', true],
      ['cli-azure', 'tokens', '2.8', '2.8', '2.8', '0', true],
    ]);
    const table = await tally('marketplace', 'status', '--period', '2026-10');
    expect(table.stdout).toContain('parity');
  });

  it('refuses a malformed period with a clear message and a non-zero exit', async () => {
    const bad = await tally('marketplace', 'status', '--period', '2026-13');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('2026-13');
    expect(bad.stderr).toMatch(/YYYY-MM/);
  });
});
