import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { repositoryRoot } from '../../config/services.ts';
import { listAuditEntries } from '../../db/queries/audit-log.ts';
import { buildContract } from '../builders/rating.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { runTallyAsOperator } from './run-tally.ts';

// Pricing experiments (SPEC §10, issue 19) as Finance runs them against a stack: a candidate card
// simulated over closed periods (nothing written), a live experiment whose variant cohort the next
// close bills on the variant card, and the readout that compares the cohorts.
let testbed: BillingTestbed;
let scratch: string;
beforeAll(async () => {
  testbed = await BillingTestbed.create('pricing_cli');
  scratch = await mkdtemp(path.join(os.tmpdir(), 'tally-pricing-test-'));
});
afterAll(async () => {
  await testbed.close();
  await rm(scratch, { recursive: true, force: true });
});

function tally(...args: string[]) {
  return runTallyAsOperator(testbed, {}, ...args);
}

/**
 * A copy of ratecards/standard named `name`, each version passed through `change` (the parsed YAML
 * document), written as `<scratch>/<name>/<file>`.
 */
async function cardFolder(
  name: string,
  change: (document: ReturnType<typeof parseDocument>, file: string) => void = () => undefined,
  files?: readonly string[],
): Promise<string> {
  const source = path.join(repositoryRoot, 'ratecards', 'standard');
  const folder = path.join(scratch, name);
  await mkdir(folder, { recursive: true });
  for (const file of files ?? (await readdir(source)).filter((entry) => entry.endsWith('.yaml'))) {
    const document = parseDocument(await readFile(path.join(source, file), 'utf8'));
    document.set('ratecard', name);
    change(document, file);
    await writeFile(path.join(folder, file), document.toString({ lineWidth: 0 }));
  }
  return folder;
}

/** Sets the tier prices of price `priceId` (in tier order). */
function setTierPrices(document: ReturnType<typeof parseDocument>, priceId: string, prices: readonly string[]): void {
  const list = document.get('prices') as {
    items: { get(key: string): unknown; setIn(path: unknown[], value: unknown): void }[];
  };
  const price = list.items.find((item) => item.get('id') === priceId);
  if (price === undefined) throw new Error(`no price ${priceId}`);
  prices.forEach((unitPrice, index) => price.setIn(['tiers', index, 'unit_price'], unitPrice));
}

async function closePeriods(customerIds: readonly string[], period: string): Promise<void> {
  await testbed.withWorker(async () => {
    await Promise.all(
      customerIds.map(async (customerId) =>
        (await testbed.startPeriod(testbed.periodInput(customerId, period))).result(),
      ),
    );
  });
}

async function issuedDocument(customerId: string, period: string) {
  const { rows } = await testbed.pool.query<{
    document: {
      total: string;
      subtotal: string;
      lines: { kind: string; sku?: string; line_key: string; amount: string }[];
      ratecard_versions: { ratecard: string; effective_from: string }[];
    };
  }>(`SELECT document FROM invoices WHERE customer_id = $1 AND period = $2 AND status = 'issued'`, [
    customerId,
    period,
  ]);
  const document = rows[0]?.document;
  if (document === undefined) throw new Error(`no issued invoice of ${customerId} ${period}`);
  return document;
}

interface ImpactRow {
  by: string;
  key: string;
  billedRevenue: string;
  candidateRevenue: string;
  revenueChange: string;
  revenueChangePct: string | null;
  billedMargin: string;
  candidateMargin: string;
  marginChange: string;
}

describe('tally pricing simulate', () => {
  const customerId = 'pricing-sim';
  beforeAll(async () => {
    await testbed.publishContract(buildContract({ customer_id: customerId, starts_at: '2026-01-01T00:00:00Z' }));
    // 800,000 tokens in us-east-1 on 1–2 October (the 2026-10-01 version): 800 packages of 1,000 at 0.010.
    await testbed.storeEvents(
      [1, 2].map((index) =>
        buildUsageEvent({
          customer_id: customerId,
          event_id: `${customerId}-${index}`,
          timestamp: `2026-10-0${index}T09:00:00.000Z`,
          quantity: '400000',
        }),
      ),
    );
    await closePeriods([customerId], '2026-10');
  });

  it('re-rating under the current card gives the invoice the close issued, to the cent, and writes nothing', async () => {
    const invoice = await issuedDocument(customerId, '2026-10');
    const before = await testbed.pool.query<{ count: string }>(
      `SELECT (SELECT count(*) FROM invoices) + (SELECT count(*) FROM ratecard_publications) + (SELECT count(*) FROM audit_log) AS count`,
    );
    const current = await cardFolder('standard');
    const run = await tally(
      'pricing',
      'simulate',
      '--ratecard',
      current,
      '--from',
      '2026-10',
      '--to',
      '2026-10',
      '--json',
    );
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { customerPeriods: number; rows: ImpactRow[] };
    const mine = report.rows.find((row) => row.by === 'customer' && row.key === customerId);
    // Revenue as tally margin counts it: every line before credits, the invoice's subtotal (no credits here).
    expect(mine).toMatchObject({
      billedRevenue: invoice.subtotal,
      candidateRevenue: invoice.subtotal,
      revenueChange: '0.00',
      marginChange: '0.00',
    });
    for (const row of report.rows) expect([row.revenueChange, row.marginChange]).toEqual(['0.00', '0.00']);
    const after = await testbed.pool.query<{ count: string }>(
      `SELECT (SELECT count(*) FROM invoices) + (SELECT count(*) FROM ratecard_publications) + (SELECT count(*) FROM audit_log) AS count`,
    );
    expect(after.rows[0]?.count).toBe(before.rows[0]?.count);
  });

  it('a card 10 % cheaper on US tokens shows the hand-checked impact by customer, SKU, cohort and in total', async () => {
    const cheaper = await cardFolder('standard-minus-10', (document, file) =>
      setTierPrices(
        document,
        'tokens-us',
        file === '2026-10-01.yaml' ? ['0.009', '0.0072', '0.0045'] : ['0.0081', '0.0063', '0.0036'],
      ),
    );
    const run = await tally(
      'pricing',
      'simulate',
      '--ratecard',
      cheaper,
      '--from',
      '2026-10',
      '--to',
      '2026-10',
      '--customers',
      customerId,
      '--json',
    );
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { customerPeriods: number; rows: ImpactRow[] };
    expect(report.customerPeriods).toBe(1);
    const table = report.rows.map((row) => [
      row.by,
      row.key,
      row.billedRevenue,
      row.candidateRevenue,
      row.revenueChange,
      row.revenueChangePct,
      row.marginChange,
    ]);
    // Tokens: 800 packages × 0.010 = 8.00 → × 0.009 = 7.20 (−0.80, −10.0 %); COGS 800,000 × 0.0000021 = 1.68 on both sides.
    // The launch discount is 10 % of tokens: −0.80 → −0.72. Fee 500.00 unchanged. Revenue 507.20 → 506.48 (−0.72, −0.1 %).
    expect(table).toEqual([
      ['customer', customerId, '507.20', '506.48', '-0.72', '-0.1', '-0.72'],
      ['sku', 'llm.tokens', '8.00', '7.20', '-0.80', '-10.0', '-0.80'],
      ['cohort', '2026-01', '507.20', '506.48', '-0.72', '-0.1', '-0.72'],
      ['total', 'all', '507.20', '506.48', '-0.72', '-0.1', '-0.72'],
    ]);

    const text = await tally(
      'pricing',
      'simulate',
      '--ratecard',
      cheaper,
      '--from',
      '2026-10',
      '--to',
      '2026-10',
      '--cohort',
      '2026-01',
    );
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/By SKU \(usage lines\)\nsku\s+currency\s+billed\s+candidate\s+change\s+change %/);
    expect(text.stdout).toMatch(/llm\.tokens\s+USD\s+8\.00\s+7\.20\s+-0\.80\s+-10\.0/);
    expect(text.stdout).toContain('re-rated under standard-minus-10 (2026-10-01, 2026-10-16); nothing written');
  });

  it('refuses a bad candidate card with its file, line and field', async () => {
    const bad = await cardFolder('standard-bad', (document, file) => {
      if (file === '2026-10-16.yaml') document.setIn(['prices', 0, 'tiers', 1, 'unit_price'], 'cheap');
    });
    const run = await tally(
      'pricing',
      'simulate',
      '--ratecard',
      bad,
      '--from',
      '2026-10',
      '--to',
      '2026-10',
      '--customers',
      customerId,
    );
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('the candidate rate card standard-bad is invalid');
    expect(run.stderr).toMatch(/standard-bad\/2026-10-16\.yaml:\d+:\d+ prices\[0\]\.tiers\[1\]\.unit_price: /);
    const unnamed = await tally(
      'pricing',
      'simulate',
      '--ratecard',
      await cardFolder('standard-other'),
      '--from',
      '2026-10',
      '--to',
      '2026-10',
    );
    expect(unnamed.status).not.toBe(0);
    expect(unnamed.stderr).toContain('was billed on rate card standard-other; name the customers');
  });
});

describe('tally pricing experiment and readout', () => {
  const variant = ['exp-v1', 'exp-v2', 'exp-v3'];
  const control = ['exp-c1', 'exp-c2', 'exp-c3'];
  // Thousands of tokens in November per customer (October: 800 each).
  const november = [1000, 900, 800];

  it('bills the variant cohort on the variant card at the next close, and the readout compares the cohorts', async () => {
    for (const customerId of [...variant, ...control]) {
      await testbed.publishContract(buildContract({ customer_id: customerId, starts_at: '2026-01-01T00:00:00Z' }));
      await testbed.storeEvents([
        buildUsageEvent({
          customer_id: customerId,
          event_id: `${customerId}-oct`,
          timestamp: '2026-10-02T09:00:00.000Z',
          quantity: '800000',
        }),
      ]);
    }
    // October is still open when the experiment is created: it must bill as the base card would.

    // The variant: from November, US tokens at 0.006 per 1,000 in the first tier.
    const variantCard = await cardFolder(
      'standard-exp',
      (document) => {
        document.set('effective_from', '2026-11-01T00:00:00Z');
        setTierPrices(document, 'tokens-us', ['0.006', '0.005', '0.003']);
      },
      ['2026-10-16.yaml'],
    );
    await rm(path.join(variantCard, '2026-11-01.yaml'), { force: true });
    await cp(path.join(variantCard, '2026-10-16.yaml'), path.join(variantCard, '2026-11-01.yaml'));
    await rm(path.join(variantCard, '2026-10-16.yaml'));
    const create = [
      'pricing',
      'experiment',
      'create',
      'tokens-cut',
      '--base',
      'standard',
      '--variant',
      variantCard,
      '--start',
      '2026-11',
      '--customers',
      variant.join(','),
      '--reason',
      'does a cheaper first tier grow usage?',
      '--by',
      'fin',
    ];
    const created = await tally(...create, '--json');
    expect(created.status, created.stderr).toBe(0);
    const state = JSON.parse(created.stdout) as {
      status: string;
      assignments: { customer_id: string; arm: string; onVariant: boolean }[];
    };
    expect(state.status).toBe('created');
    const arms = new Map(state.assignments.map((entry) => [entry.customer_id, entry]));
    for (const id of variant) expect(arms.get(id)).toMatchObject({ arm: 'variant', onVariant: true });
    for (const id of control) expect(arms.get(id)).toMatchObject({ arm: 'control', onVariant: false });

    // Idempotent: the same command again changes nothing; another definition under the id is refused.
    const publications = async () =>
      (await testbed.pool.query<{ count: string }>('SELECT count(*) FROM contract_publications')).rows[0]?.count;
    const before = await publications();
    const again = await tally(...create);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain('experiment tokens-cut already existed: nothing else changed');
    expect(await publications()).toBe(before);
    const other = await tally(...create.map((arg) => (arg === variant.join(',') ? 'exp-v1' : arg)));
    expect(other.status).not.toBe(0);
    expect(other.stderr).toContain('exists with another definition');
    const audit = await listAuditEntries(testbed.pool, { subject: 'pricing_experiment:tokens-cut', limit: 5 });
    expect(audit.map((entry) => [entry.action, entry.actor.name])).toEqual([['pricing_experiment_created', 'cli:fin']]);

    await closePeriods([...variant, ...control], '2026-10');
    const october = await issuedDocument('exp-v1', '2026-10');
    // On the variant card's copy of the base card's October history: the base card's prices.
    expect(october.ratecard_versions.map((ref) => ref.ratecard)).toEqual(['standard-exp', 'standard-exp']);
    expect(october.lines.find((line) => line.line_key === 'usage:tokens-us')?.amount).toBe('8.00'); // 800 × 0.010
    expect(october.subtotal).toBe((await issuedDocument('exp-c1', '2026-10')).subtotal);

    for (const [index, customerId] of [...variant, ...control].entries())
      await testbed.storeEvents([
        buildUsageEvent({
          customer_id: customerId,
          event_id: `${customerId}-nov`,
          timestamp: '2026-11-03T09:00:00.000Z',
          quantity: String(november[index % 3]! * 1000),
        }),
      ]);
    await closePeriods([...variant, ...control], '2026-11');

    // The variant cohort billed on the variant card, the control on the base card.
    const v1 = await issuedDocument('exp-v1', '2026-11');
    expect(v1.ratecard_versions.map((ref) => ref.ratecard)).toEqual(expect.arrayContaining(['standard-exp']));
    expect(v1.lines.find((line) => line.line_key === 'usage:tokens-us')?.amount).toBe('6.00'); // 1,000 × 0.006
    const c1 = await issuedDocument('exp-c1', '2026-11');
    expect(c1.ratecard_versions.every((ref) => ref.ratecard === 'standard')).toBe(true);
    expect(c1.lines.find((line) => line.line_key === 'usage:tokens-us')?.amount).toBe('9.00'); // 1,000 × 0.009

    const readout = await tally('pricing', 'readout', 'tokens-cut', '--period', '2026-11', '--json');
    expect(readout.status, readout.stderr).toBe(0);
    const report = JSON.parse(readout.stdout) as {
      baselinePeriod: string;
      arms: { arm: string; measured: number; revenue: string; usagePerCustomer: Record<string, string> }[];
      effects: { metric: string; effect: string; lower: string; upper: string }[];
      recommendation: string;
    };
    expect(report.baselinePeriod).toBe('2026-10');
    // Revenue per customer: fee 500 + tokens − 10 % of tokens. Variant: 6.00, 5.40, 4.80 of tokens → 1,514.58;
    // control: 9.00, 8.10, 7.20 → 1,521.87.
    expect(report.arms.map((arm) => [arm.arm, arm.measured, arm.revenue, arm.usagePerCustomer['llm.tokens']])).toEqual([
      ['variant', 3, '1514.58', '900000'],
      ['control', 3, '1521.87', '900000'],
    ]);
    // Margin changes vs October (505.52 each): variant −2.22, −2.55, −2.88; control +0.48, −0.12, −0.72:
    // effect −2.55 − (−0.12) = −2.43, the whole interval below zero → kill.
    const margin = report.effects.find((effect) => effect.metric === 'margin');
    expect(margin?.effect).toBe('-2.43');
    expect(margin?.upper.startsWith('-')).toBe(true);
    expect(report.recommendation).toBe('kill');

    const text = await tally('pricing', 'readout', 'tokens-cut', '--period', '2026-11');
    expect(text.status, text.stderr).toBe(0);
    // One currency (the heading line's): its code in every amount column's heading and on the sentence's figures.
    expect(text.stdout).toMatch(
      /^cohort\s+customers\s+invoiced\s+measured\s+revenue USD\s+revenue\/customer USD\s+margin\/customer USD\s+commit used %/m,
    );
    expect(text.stdout).toMatch(/^metric\s+effect USD\s+lower USD\s+upper USD\s+std error USD\s+df$/m);
    expect(text.stdout).toMatch(
      /recommendation: kill \(margin effect per customer -2\.43 USD, 95 % interval \[-\d+\.\d{2} USD, -\d+\.\d{2} USD\]: wholly below zero\)/,
    );

    const stopped = await tally(
      'pricing',
      'experiment',
      'stop',
      'tokens-cut',
      '--reason',
      'readout says kill',
      '--by',
      'fin',
    );
    expect(stopped.status, stopped.stderr).toBe(0);
    const shown = JSON.parse((await tally('pricing', 'experiment', 'show', 'tokens-cut', '--json')).stdout) as {
      experiment: { status: string; stop_reason: string };
      assignments: { customer_id: string; onVariant: boolean }[];
    };
    expect(shown.experiment).toMatchObject({ status: 'stopped', stop_reason: 'readout says kill' });
    expect(shown.assignments.every((entry) => !entry.onVariant)).toBe(true);
    const { rows } = await testbed.pool.query<{ content: string }>(
      `SELECT content FROM contract_publications WHERE customer_id = 'exp-v1' ORDER BY publication_id DESC LIMIT 1`,
    );
    expect(rows[0]?.content).toMatch(/^ratecard: standard$/m);
  }, 300_000);
});
