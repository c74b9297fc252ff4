import { Decimal, formatMoney } from '../../domain/money.ts';
import { recognitionDay } from '../../domain/revenue/index.ts';
import { recognizeCustomerDay, revenueScheduleOfPeriod } from '../../revenue/index.ts';
import { publishedTerms } from '../../terms/index.ts';
import { out, type DemoRun } from '../demo-run.ts';
import { DEMO_PERIOD, DemoError } from '../workspace.ts';
import type { DemoStep } from './demo-step.ts';

const MID_MONTH = `${DEMO_PERIOD}-15`;
const LAST_DAY = `${DEMO_PERIOD}-${String(recognitionDay(`${DEMO_PERIOD}-01`).daysInPeriod)}`;

/**
 * Daily revenue recognition before the close (SPEC §11), as the daily schedule and
 * `tally revenue run --day D` do it: the 15th, then the last day of the month, for every customer.
 * What the last day leaves in Unbilled AR is the month-end accrual, which each invoice settles.
 */
export const revenueRecognitionStep: DemoStep = {
  title: () => `Daily revenue recognition before the close (tally revenue run --day ${MID_MONTH}, then ${LAST_DAY})`,
  async run(run: DemoRun) {
    const { pool } = run.connected;
    const terms = publishedTerms(pool);
    const now = new Date().toISOString();
    for (const day of [MID_MONTH, LAST_DAY]) {
      run.assertRunning();
      const usage = new Map<string, Decimal>();
      let posted = 0;
      for (const customer of run.workspace.customers) {
        const outcome = await recognizeCustomerDay({ pool, terms }, { customerId: customer.customerId, day, now });
        if (outcome.status !== 'recognized') throw new DemoError(`${customer.customerId} ${day}: ${outcome.status}`);
        if (outcome.entryKey !== null) posted += 1;
        usage.set(outcome.currency, (usage.get(outcome.currency) ?? new Decimal(0)).plus(outcome.usageRevenue));
      }
      out(
        `   ${day}: ${posted} entries posted; usage revenue recognized that day ${[...usage]
          .map(([currency, amount]) => `${currency} ${formatMoney(amount, currency)}`)
          .join(', ')}`,
      );
    }
    const accrued = new Map<string, Decimal>();
    for (const customer of run.workspace.customers) {
      const rows = await revenueScheduleOfPeriod(pool, { period: DEMO_PERIOD, customerId: customer.customerId });
      const last = rows.at(-1);
      if (last !== undefined)
        accrued.set(last.currency, (accrued.get(last.currency) ?? new Decimal(0)).plus(last.accrual_position));
    }
    out(
      `   accrued at month end (Unbilled AR, before any invoice): ${[...accrued]
        .map(([currency, amount]) => `${currency} ${formatMoney(amount, currency)}`)
        .join(', ')}`,
    );
  },
};
