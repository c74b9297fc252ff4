import { describe, expect, it } from 'vitest';
import type { ProductSignal } from '../../contracts/product-signals.ts';
import { dayNumber, dayText } from '../anomalies/utc-days.ts';
import { commitBurndown } from '../commits/burndown.ts';
import { earlyWarningSignals, type EarlyWarningInput, type SignalDay } from './early-warning.ts';

const INTEGRATIONS: ProductSignal = {
  sku: 'signals.integrations_enabled',
  unit: 'integrations',
  label: 'Integrations enabled',
  higher_is: 'better',
  change_pct: '25',
};
const SUCCESS_RATE: ProductSignal = {
  sku: 'signals.workflow_success_rate',
  unit: 'percent',
  label: 'Workflow success rate',
  higher_is: 'better',
  change_pct: '5',
  alert_below: '95',
};

const AS_OF = '2026-11-29';

/** `values[i]` on the i-th of the 28 days before AS_OF (oldest first); undefined: nothing reported that day. */
function days(customerId: string, signal: ProductSignal, values: readonly (string | undefined)[]): SignalDay[] {
  const first = (dayNumber(AS_OF) ?? 0) - values.length;
  return values.flatMap((value, index) =>
    value === undefined
      ? []
      : [{ customer_id: customerId, sku: signal.sku, unit: signal.unit, day: dayText(first + index), value }],
  );
}

function input(overrides: Partial<EarlyWarningInput>): EarlyWarningInput {
  return {
    as_of_day: AS_OF,
    period: '2026-11',
    burndowns: [],
    quota_hits: [],
    product_signals: [INTEGRATIONS, SUCCESS_RATE],
    product_days: [],
    ...overrides,
  };
}

const steady = (value: string, count = 28) => Array.from({ length: count }, () => value);

describe('earlyWarningSignals', () => {
  it('the worked example: integrations 8 for 21 days then 5 for 7 fell 37.5 %, a contraction risk', () => {
    const [account] = earlyWarningSignals(
      input({ product_days: days('acme', INTEGRATIONS, [...steady('8', 21), ...steady('5', 7)]) }),
    );
    expect(account).toEqual({
      customer_id: 'acme',
      outlook: 'contraction',
      signals: [
        {
          kind: 'signal_dropped',
          source: 'product',
          outlook: 'contraction',
          sku: 'signals.integrations_enabled',
          recent: '5',
          baseline: '8',
          change_pct: '-37.5',
          detail: 'Integrations enabled fell 37.5 % (8 → 5 integrations, the last 7 days against the 21 before)',
        },
      ],
    });
  });

  it.each([
    ['a steady account', steady('8'), []],
    ['a change under the threshold (8 → 7: −12.5 %)', [...steady('8', 21), ...steady('7', 7)], []],
    ['a rise of 50 % (expansion)', [...steady('8', 21), ...steady('12', 7)], ['signal_rose:expansion']],
    // Only 5 baseline days reported: too little to compare with; nothing recent: nothing to read.
    ['a short baseline', [...steady('8', 5), ...Array<undefined>(16).fill(undefined), ...steady('2', 7)], []],
    ['nothing in the last 7 days', [...steady('8', 21), ...Array<undefined>(7).fill(undefined)], []],
  ])('integrations: %s', (_, values, expected) => {
    const accounts = earlyWarningSignals(input({ product_days: days('acme', INTEGRATIONS, values) }));
    expect(accounts.flatMap((account) => account.signals.map((signal) => `${signal.kind}:${signal.outlook}`))).toEqual(
      expected,
    );
  });

  it('a workflow success rate under its floor is a signal even without a change; the day value is the mean of its reports', () => {
    const reports = days('acme', SUCCESS_RATE, steady('94.5'));
    // Two reports on the last day, 90 and 99: the day's value is 94.5, like the others.
    const last = reports.at(-1) as SignalDay;
    const [account] = earlyWarningSignals(
      input({ product_days: [...reports.slice(0, -1), { ...last, value: '90' }, { ...last, value: '99' }] }),
    );
    expect(account?.signals.map((signal) => [signal.kind, signal.recent, signal.change_pct])).toEqual([
      ['signal_below', '94.5', '0.0'],
    ]);
  });

  it('higher_is worse turns a rise into a contraction risk', () => {
    const errors: ProductSignal = {
      ...INTEGRATIONS,
      sku: 'signals.errors',
      unit: 'errors',
      label: 'Errors',
      higher_is: 'worse',
    };
    const [account] = earlyWarningSignals(
      input({
        product_signals: [errors],
        product_days: days('acme', errors, [...steady('10', 21), ...steady('20', 7)]),
      }),
    );
    expect(account?.signals.map((signal) => [signal.kind, signal.outlook])).toEqual([['signal_rose', 'contraction']]);
  });

  it('commit burn alerts and quota hits of this period; 50 and 75 % and other periods are ordinary', () => {
    const burndown = commitBurndown(
      {
        customer_id: 'slow',
        currency: 'USD',
        commit: '1000.00',
        ramp: [],
        closed: [],
        current: { period: '2026-11', usage: '100.00', as_of: '2026-11-29T00:00:00.000Z' },
        prepaid: [],
        prepaid_consumed: [],
      },
      '2026-11-29T00:00:00.000Z',
    );
    const accounts = earlyWarningSignals(
      input({
        burndowns: [burndown],
        quota_hits: [
          { customer_id: 'fast', period: '2026-11', basis: 'commit', threshold_pct: 90 },
          { customer_id: 'fast', period: '2026-11', basis: 'commit', threshold_pct: 100 },
          { customer_id: 'fast', period: '2026-11', basis: 'prepaid', threshold_pct: 75 },
          { customer_id: 'old', period: '2026-10', basis: 'commit', threshold_pct: 100 },
          { customer_id: 'prepaid', period: '2026-11', basis: 'prepaid', threshold_pct: 90 },
        ],
      }),
    );
    expect(
      accounts.map((account) => [account.customer_id, account.outlook, account.signals.map((s) => s.kind)]),
    ).toEqual([
      ['fast', 'expansion', ['commit_reached']],
      ['prepaid', 'expansion', ['prepaid_nearly_used']],
      ['slow', 'contraction', ['commit_shortfall']],
    ]);
  });

  it('signals that disagree make a mixed outlook', () => {
    const [account] = earlyWarningSignals(
      input({
        quota_hits: [{ customer_id: 'acme', period: '2026-11', basis: 'commit', threshold_pct: 100 }],
        product_days: days('acme', SUCCESS_RATE, [...steady('99', 21), ...steady('90', 7)]),
      }),
    );
    expect(account?.outlook).toBe('mixed');
    expect(account?.signals.map((signal) => signal.kind)).toEqual(['commit_reached', 'signal_dropped', 'signal_below']);
  });
});
