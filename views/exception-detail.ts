import type pg from 'pg';
import {
  dailyUsage,
  exceptionsOfCustomer,
  invoicesOfCustomer,
  type ExceptionSummary,
  type InvoiceSummary,
} from '../db/queries/console-views.ts';
import { findReviewException, type ReviewExceptionRecord } from '../db/queries/review-exceptions.ts';
import { billingPeriod, previousPeriod } from '../domain/period.ts';

/**
 * Usage by day of a customer's period against the previous three (SPEC §9): per sku and unit, one
 * series per period of the quantity on each day of the month (decimal strings; days without usage
 * are "0"), so a reviewer sees at a glance whether this month's spike is real.
 */
export interface UsageByDay {
  readonly periods: readonly string[];
  readonly meters: readonly {
    readonly sku: string;
    readonly unit: string;
    readonly series: readonly { readonly period: string; readonly quantities: readonly string[] }[];
  }[];
}

export interface ExceptionDetail {
  readonly exception: ReviewExceptionRecord;
  readonly usageByDay: UsageByDay;
  /** The customer's invoices, newest first (the exception's own included). */
  readonly invoices: readonly InvoiceSummary[];
  /** The customer's other exceptions with their decisions, newest first. */
  readonly earlierExceptions: readonly ExceptionSummary[];
}

export async function exceptionDetail(pool: pg.Pool, exceptionId: string): Promise<ExceptionDetail | undefined> {
  const exception = await findReviewException(pool, exceptionId);
  if (exception === undefined) return undefined;
  const [usageByDay, invoices, exceptions] = await Promise.all([
    customerUsageByDay(pool, exception.customerId, exception.period, 3),
    invoicesOfCustomer(pool, exception.customerId),
    exceptionsOfCustomer(pool, exception.customerId),
  ]);
  return {
    exception,
    usageByDay,
    invoices,
    earlierExceptions: exceptions.filter((other) => other.exceptionId !== exceptionId),
  };
}

async function customerUsageByDay(
  pool: pg.Pool,
  customerId: string,
  periodName: string,
  previous: number,
): Promise<UsageByDay> {
  const periods = [billingPeriod(periodName)];
  for (let index = 0; index < previous; index++) periods.push(previousPeriod(periods.at(-1) ?? periods[0]!));
  const oldest = periods.at(-1) ?? periods[0]!;
  const rows = await dailyUsage(pool, customerId, oldest.start, periods[0]!.end);
  const meters = new Map<string, { sku: string; unit: string; byPeriod: Map<string, string[]> }>();
  for (const row of rows) {
    const key = `${row.sku}\u0000${row.unit}`;
    let meter = meters.get(key);
    if (meter === undefined) {
      meter = { sku: row.sku, unit: row.unit, byPeriod: new Map() };
      meters.set(key, meter);
    }
    const period = row.day.slice(0, 7);
    let days = meter.byPeriod.get(period);
    if (days === undefined) {
      days = Array.from({ length: daysIn(period) }, () => '0');
      meter.byPeriod.set(period, days);
    }
    days[Number.parseInt(row.day.slice(8, 10), 10) - 1] = row.quantity;
  }
  return {
    periods: periods.map((period) => period.name),
    meters: [...meters.values()].map((meter) => ({
      sku: meter.sku,
      unit: meter.unit,
      series: periods.map((period) => ({
        period: period.name,
        quantities: meter.byPeriod.get(period.name) ?? Array.from({ length: daysIn(period.name) }, () => '0'),
      })),
    })),
  };
}

function daysIn(period: string): number {
  const { start, end } = billingPeriod(period);
  return Math.round((Date.parse(end) - Date.parse(start)) / 86_400_000);
}
