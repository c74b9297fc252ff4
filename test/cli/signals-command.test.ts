import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProductSignals } from '../../config/signals.ts';
import { repositoryRoot } from '../../config/services.ts';
import type { ProductSignals } from '../../contracts/product-signals.ts';
import type { UsageEvent } from '../../contracts/usage-event.ts';
import { buildContract } from '../builders/rating.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { runTallyAsOperator } from './run-tally.ts';

// Product signals as a product team sends them (usage events of the designated SKUs), through the
// close (never billed, never a reason to stop for a person), `tally signals` and the forecast's band.
let testbed: BillingTestbed;
let productSignals: ProductSignals;
beforeAll(async () => {
  testbed = await BillingTestbed.create('signals_cli');
  productSignals = await loadProductSignals(`${repositoryRoot}/signals/product-signals.yaml`);
});
afterAll(async () => {
  await testbed.close();
});

const DAY_MS = 86_400_000;
const customerId = 'signals-cli';

function tally(...args: string[]) {
  return runTallyAsOperator(testbed, {}, ...args);
}

function signalEvent(sku: string, unit: string, at: Date, quantity: string, index: number): UsageEvent {
  return buildUsageEvent({
    customer_id: customerId,
    event_id: `${customerId}-${sku}-${index}`,
    source: 'job-runner',
    timestamp: at.toISOString(),
    unit,
    quantity,
    metadata: { sku },
  });
}

/** Resolves with the workflow's end, or fails as soon as the close opens an exception for a person. */
async function closeWithoutException(period: string): Promise<void> {
  const handle = await testbed.startPeriod(testbed.periodInput(customerId, period));
  let stop = false;
  const exception = (async () => {
    while (!stop) {
      const { rows } = await testbed.pool.query<{ breaches: unknown }>(
        `SELECT breaches FROM review_exceptions WHERE customer_id = $1 AND period = $2`,
        [customerId, period],
      );
      if (rows.length > 0) throw new Error(`the close stopped for a person: ${JSON.stringify(rows[0]?.breaches)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  try {
    await Promise.race([handle.result(), exception]);
  } finally {
    stop = true;
  }
}

describe('product signals', () => {
  it('are stored and reported unpriced but never stop the close; tally signals reads them, and the forecast band widens', async () => {
    await testbed.publishContract(buildContract({ customer_id: customerId, starts_at: '2026-01-01T00:00:00Z' }));
    const today = Date.parse(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
    const events: UsageEvent[] = [];
    // October: tokens every day (the invoice's effective rate), and a signal report in the period.
    for (let day = 1; day <= 31; day += 1) {
      const at = new Date(Date.UTC(2026, 9, day, 9));
      events.push(
        buildUsageEvent({
          customer_id: customerId,
          event_id: `${customerId}-oct-${day}`,
          timestamp: at.toISOString(),
          quantity: '100000',
        }),
      );
    }
    events.push(
      signalEvent('signals.integrations_enabled', 'integrations', new Date(Date.UTC(2026, 9, 20, 9)), '8', 0),
    );
    // The 28 days before today: tokens each day; integrations 8 then 3 for the last 7 days; workflow
    // success 99 % then 90 %.
    for (let back = 28; back >= 1; back -= 1) {
      const at = new Date(today - back * DAY_MS + 9 * 3_600_000);
      const recent = back <= 7;
      events.push(
        buildUsageEvent({
          customer_id: customerId,
          event_id: `${customerId}-recent-${back}`,
          timestamp: at.toISOString(),
          quantity: '100000',
        }),
        signalEvent('signals.integrations_enabled', 'integrations', at, recent ? '3' : '8', back),
        signalEvent('signals.workflow_success_rate', 'percent', at, recent ? '90' : '99', back),
      );
    }
    await testbed.storeEvents(events);

    await testbed.withWorker(() => closeWithoutException('2026-10'), {}, { productSignals });
    const { rows } = await testbed.pool.query<{ document: { unpriced: { sku: string; event_count: number }[] } }>(
      `SELECT document FROM invoices WHERE customer_id = $1 AND period = '2026-10' AND status = 'issued'`,
      [customerId],
    );
    // The invoice says what it did not bill.
    expect(rows[0]?.document.unpriced).toEqual([
      expect.objectContaining({ sku: 'signals.integrations_enabled', event_count: 1 }),
    ]);

    const json = await tally('signals', '--customer', customerId, '--json');
    expect(json.status, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as {
      accounts: {
        customer_id: string;
        outlook: string;
        signals: { kind: string; sku?: string; change_pct?: string }[];
      }[];
    };
    expect(report.accounts).toEqual([
      {
        customer_id: customerId,
        outlook: 'contraction',
        signals: [
          expect.objectContaining({ kind: 'signal_dropped', sku: 'signals.integrations_enabled', change_pct: '-62.5' }),
          expect.objectContaining({ kind: 'signal_dropped', sku: 'signals.workflow_success_rate', change_pct: '-9.1' }),
          expect.objectContaining({ kind: 'signal_below', sku: 'signals.workflow_success_rate' }),
        ],
      },
    ]);
    const table = await tally('signals', '--customer', customerId);
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^customer\s+outlook\s+signal\s+source\s+detail\n/);
    expect(table.stdout).toContain('Integrations enabled fell 62.5 % (8 → 3 integrations');
    const none = await tally('signals', '--customer', 'nobody');
    expect(none.stdout).toMatch(/^no early-warning signals as of \d{4}-\d{2}-\d{2}\n$/);

    const forecast = await tally('forecast', '--horizon', '30d', '--json');
    expect(forecast.status, forecast.stderr).toBe(0);
    const { forecasts } = JSON.parse(forecast.stdout) as {
      forecasts: { currency: string; periods: { signal_effect: { p10: string; p90: string; accounts: number } }[] }[];
    };
    const effects = forecasts.find((entry) => entry.currency === 'USD')?.periods.map((period) => period.signal_effect);
    expect(effects?.length).toBeGreaterThan(0);
    for (const effect of effects ?? []) {
      expect(effect.accounts).toBe(1);
      expect(effect.p10).toMatch(/^-\d+\.\d{2}$/);
      expect(effect.p90).toBe('0.00');
    }
    const printed = await tally('forecast', '--horizon', '30d');
    expect(printed.stdout).toMatch(
      /early-warning signals \(tally signals\) moved the band: \d{4}-\d{2} p10 -\d+\.\d{2} USD, p90 \+0\.00 USD/,
    );
  });
});
