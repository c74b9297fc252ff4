import type pg from 'pg';
import { loadJournalEntries } from '../db/queries/journal.ts';
import { recognitionSettlementsOfPeriod, recognizedDaysOfPeriod } from '../db/queries/revenue-recognition.ts';
import { revenueSchedule, type RevenueScheduleRow } from '../domain/revenue/index.ts';

/** `tally revenue schedule`: the period's recognized days, accruals and settlements, with their entries. */
export async function revenueScheduleOfPeriod(
  pool: pg.Pool,
  input: { period: string; customerId?: string },
): Promise<RevenueScheduleRow[]> {
  const days = await recognizedDaysOfPeriod(pool, input);
  const settlements = await recognitionSettlementsOfPeriod(pool, input);
  const keys = [...days, ...settlements].flatMap((row) => (row.entry_key === null ? [] : [row.entry_key]));
  const entries = keys.length === 0 ? [] : await loadJournalEntries(pool, { entryKeys: keys });
  const byKey = new Map(entries.map((entry) => [entry.entry_key, entry]));
  const entryOf = (key: string | null) => (key === null ? null : (byKey.get(key) ?? null));
  const accruals = await loadJournalEntries(pool, {
    servicePeriod: input.period,
    entryTypes: ['revenue_accrued', 'accrual_trued_up', 'accrual_reversed'],
    ...(input.customerId === undefined ? {} : { customerId: input.customerId }),
  });
  return revenueSchedule(
    days.map((day) => ({ ...day, entry: entryOf(day.entry_key) })),
    settlements.map((settlement) => ({ ...settlement, entry: entryOf(settlement.entry_key) })),
    accruals,
  );
}
