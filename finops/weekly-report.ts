import type pg from 'pg';
import { dailyUsageTotals, listAnomalies, type AnomalyRecord } from '../db/queries/anomalies.ts';
import { latestIssuedInvoices } from '../db/queries/finops.ts';
import { dayNumber, dayText } from '../domain/anomalies/utc-days.ts';
import type { CommitBurndown } from '../domain/commits/burndown.ts';
import type { MarginRow } from '../domain/costs/margin.ts';
import { Decimal, formatMoney } from '../domain/money.ts';
import { commitReport } from './commit-report.ts';
import { contractsInForce, dailyUsageRevenue } from './forecast-report.ts';
import { marginReport } from './margin-report.ts';

/**
 * The weekly review (SPEC §10, `tally report weekly --week YYYY-Www`): cohort consumption (usage
 * revenue per cohort and day of the week), commit utilization, gross margin by SKU of the week's
 * billing period, and the week's anomalies with the actions taken. One self-contained HTML file
 * (inline SVG charts, no scripts, nothing fetched) and the figures for the terminal summary.
 */

export interface WeeklyReview {
  readonly week: string;
  readonly days: readonly string[];
  /** Per currency and cohort, usage revenue per day of the week. */
  readonly cohorts: readonly { currency: string; cohort: string; daily: string[]; total: string }[];
  readonly commits: readonly CommitBurndown[];
  readonly marginPeriod: string;
  readonly margin: readonly MarginRow[];
  readonly anomalies: readonly (AnomalyRecord & {
    deliveries: { target: string; deliveredAt: string | undefined }[];
  })[];
}

/** Monday to Sunday (UTC) of ISO week `YYYY-Www`; undefined for a week that does not exist. */
export function isoWeekDays(week: string): string[] | undefined {
  const match = /^(\d{4})-W(\d{2})$/.exec(week);
  if (match === null) return undefined;
  const year = Number.parseInt(match[1] as string, 10);
  const number = Number.parseInt(match[2] as string, 10);
  // Week 1 holds January 4th; its Monday starts the ISO year.
  const january4 = Date.UTC(year, 0, 4);
  const mondayOfWeek1 = january4 - ((new Date(january4).getUTCDay() + 6) % 7) * 86_400_000;
  const monday = mondayOfWeek1 + (number - 1) * 7 * 86_400_000;
  const days = Array.from({ length: 7 }, (_, index) =>
    new Date(monday + index * 86_400_000).toISOString().slice(0, 10),
  );
  // The week must belong to the year it names (week 53 exists only in long years).
  const thursday = days[3] ?? '';
  if (number < 1 || thursday.slice(0, 4) !== String(year)) return undefined;
  return days;
}

export async function weeklyReview(
  pool: pg.Pool,
  options: { week: string; days: readonly string[]; costsDir: string; ratecardsDir: string },
): Promise<WeeklyReview> {
  const first = options.days[0] ?? '';
  const last = options.days[6] ?? '';
  const firstNumber = dayNumber(first) ?? 0;
  const [invoices, contracts, usage, anomalies] = await Promise.all([
    latestIssuedInvoices(pool),
    contractsInForce(pool),
    dailyUsageTotals(pool, { fromDay: first, toDay: last }, []),
    listAnomalies(pool, { from: first, to: last }),
  ]);
  const cohorts = new Map<string, { currency: string; cohort: string; daily: Decimal[] }>();
  for (const account of dailyUsageRevenue(invoices, usage, contracts, firstNumber, 7)) {
    const key = `${account.currency}\u0000${account.terms.cohort}`;
    const entry = cohorts.get(key) ?? {
      currency: account.currency,
      cohort: account.terms.cohort,
      daily: Array.from({ length: 7 }, () => new Decimal(0)),
    };
    account.daily.forEach((value, index) => (entry.daily[index] = (entry.daily[index] ?? new Decimal(0)).plus(value)));
    cohorts.set(key, entry);
  }
  const marginPeriod = first.slice(0, 7);
  const margin = await marginReport(pool, {
    period: marginPeriod,
    costsDir: options.costsDir,
    ratecardsDir: options.ratecardsDir,
  });
  const commits = await commitReport(pool, { asOf: `${dayText(firstNumber + 7)}T00:00:00.000Z` });
  return {
    week: options.week,
    days: options.days,
    cohorts: [...cohorts.values()]
      .sort((a, b) => (a.currency + a.cohort < b.currency + b.cohort ? -1 : 1))
      .map((entry) => ({
        currency: entry.currency,
        cohort: entry.cohort,
        daily: entry.daily.map((value) => formatMoney(value, entry.currency)),
        total: formatMoney(
          entry.daily.reduce((sum, value) => sum.plus(value), new Decimal(0)),
          entry.currency,
        ),
      })),
    commits,
    marginPeriod,
    margin: margin.rows.filter((row) => row.by === 'sku'),
    anomalies,
  };
}

const escape = (text: string): string => text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);

/** Horizontal bars: one per label, scaled to the largest value (values are decimal strings). */
function barChart(title: string, bars: readonly { label: string; value: string; note?: string }[]): string {
  const max = bars.reduce((top, bar) => Decimal.max(top, new Decimal(bar.value).abs()), new Decimal(0));
  const rowHeight = 22;
  const width = 640;
  const labelWidth = 220;
  const rows = bars
    .map((bar, index) => {
      const share = max.isZero() ? 0 : new Decimal(bar.value).abs().dividedBy(max).toDecimalPlaces(4).toNumber();
      const length = Math.round(share * (width - labelWidth - 120));
      const y = index * rowHeight;
      return `<text x="0" y="${y + 15}" font-size="12">${escape(bar.label)}</text><rect x="${labelWidth}" y="${y + 4}" width="${length}" height="14" fill="#3b6ea5"/><text x="${labelWidth + length + 6}" y="${y + 15}" font-size="12">${escape(bar.value)}${bar.note === undefined ? '' : ` ${escape(bar.note)}`}</text>`;
    })
    .join('');
  return `<figure><figcaption>${escape(title)}</figcaption><svg role="img" aria-label="${escape(title)}" width="${width}" height="${Math.max(bars.length, 1) * rowHeight + 4}" xmlns="http://www.w3.org/2000/svg">${rows}</svg></figure>`;
}

function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '<p>None.</p>';
  return `<table><thead><tr>${headers.map((header) => `<th>${escape(header)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((row) => `<tr>${row.map((cell) => `<td>${escape(cell)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

export function weeklyReviewHtml(review: WeeklyReview, generatedAt: string): string {
  const cohortChart = barChart(
    'Usage revenue by cohort this week',
    review.cohorts.map((cohort) => ({ label: `${cohort.cohort} (${cohort.currency})`, value: cohort.total })),
  );
  const commitChart = barChart(
    'Commit utilization this period (%)',
    review.commits
      .filter((entry) => entry.commit !== undefined)
      .map((entry) => ({
        label: entry.customer_id,
        value: entry.commit?.utilization_pct ?? '0',
        note: entry.alerts.length > 0 ? `(${entry.alerts.join(', ')})` : '',
      })),
  );
  const marginChart = barChart(
    `Gross margin by SKU, ${review.marginPeriod}`,
    review.margin.map((row) => ({
      label: `${row.key} (${row.currency})`,
      value: row.margin,
      note: row.margin_pct === null ? '' : `(${row.margin_pct} %)`,
    })),
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tally weekly review ${escape(review.week)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;font-size:.9rem}figcaption{font-weight:600;margin:.5rem 0}</style>
</head><body>
<h1>Weekly review ${escape(review.week)}</h1>
<p>${escape(review.days[0] ?? '')} to ${escape(review.days[6] ?? '')} (UTC), generated ${escape(generatedAt)}.</p>
<h2>Cohort consumption</h2>
${cohortChart}
${table(
  ['cohort', 'currency', ...review.days, 'week'],
  review.cohorts.map((cohort) => [cohort.cohort, cohort.currency, ...cohort.daily, cohort.total]),
)}
<h2>Commit utilization</h2>
${commitChart}
${table(
  ['customer', 'commit', 'utilization %', 'prepaid left', 'burndown date', 'alerts'],
  review.commits.map((entry) => [
    entry.customer_id,
    entry.commit === undefined ? '—' : `${entry.commit.consumed} / ${entry.commit.amount} ${entry.currency}`,
    entry.commit?.utilization_pct ?? '—',
    entry.prepaid?.remaining ?? '—',
    entry.prepaid?.burndown_on ?? '—',
    entry.alerts.join(', ') || 'none',
  ]),
)}
<h2>Gross margin by SKU (${escape(review.marginPeriod)})</h2>
${marginChart}
${table(
  ['sku', 'currency', 'revenue', 'cogs', 'margin', 'margin %'],
  review.margin.map((row) => [row.key, row.currency, row.revenue, row.cogs, row.margin, row.margin_pct ?? '—']),
)}
<h2>Anomalies of the week</h2>
${table(
  ['day', 'customer', 'sku', 'kind', 'value', 'expected', 'severity', 'alerted to', 'status', 'action'],
  review.anomalies.map((anomaly) => [
    anomaly.day,
    anomaly.customerId ?? '(COGS)',
    anomaly.sku,
    anomaly.kind,
    anomaly.value,
    anomaly.expected,
    anomaly.severity,
    anomaly.deliveries.map((delivery) => delivery.target).join(', ') || '—',
    anomaly.status,
    [anomaly.action, anomaly.note].filter((text) => text !== undefined).join(': ') || '—',
  ]),
)}
</body></html>
`;
}
