import { loadCostVersions } from '../config/cost-files.ts';
import { DailyUsageAggregator } from '../domain/anomalies/daily-series.ts';
import { detectAnomalies, type Anomaly } from '../domain/anomalies/detector.ts';
import { dayNumber, dayText } from '../domain/anomalies/utc-days.ts';
import { EventFileError, scanEventFile } from './event-file.ts';

export interface AnomalyScanOptions {
  readonly eventsFile: string;
  readonly costsDir?: string;
  /** The currency COGS is summed in (cost entries of other currencies are not used). */
  readonly currency: string;
  /** `YYYY-MM-DD`, UTC; default: the file's first and last day. */
  readonly from?: string;
  readonly to?: string;
  readonly onProgress?: (eventsRead: number) => void;
}

export interface AnomalyScan {
  readonly anomalies: Anomaly[];
  readonly from: string;
  readonly to: string;
  readonly events: number;
  readonly duplicates: number;
  readonly series: number;
  /** Events whose SKU has no unit cost in the currency (not in COGS); 0 without costs. */
  readonly uncostedEvents: number;
}

/**
 * `tally anomalies scan`: the daily detector over a file, no services. The whole file is refused,
 * every bad line listed, when any line is bad (as `tally rate` does); exact repeats count once.
 */
export async function scanAnomalies(options: AnomalyScanOptions): Promise<AnomalyScan> {
  const costs =
    options.costsDir === undefined
      ? undefined
      : { versions: await loadCostVersions(options.costsDir), currency: options.currency };
  const aggregator = new DailyUsageAggregator(costs);
  let events = 0;
  let duplicates = 0;
  const scan = await scanEventFile(options.eventsFile, {
    onEvent: (event, _line, duplicate) => {
      if (duplicate) {
        duplicates += 1;
        return;
      }
      events += 1;
      if (options.onProgress !== undefined && events % 100_000 === 0) options.onProgress(events);
      aggregator.add(event);
    },
  });
  if (scan.problemCount > 0)
    throw new EventFileError(options.eventsFile, scan.problems, scan.badLines, scan.problemCount);
  const fileRange = aggregator.dayRange();
  const fromDay = options.from === undefined ? fileRange?.first : dayNumber(options.from);
  const toDay = options.to === undefined ? fileRange?.last : dayNumber(options.to);
  if (fromDay === undefined || toDay === undefined || fileRange === undefined)
    return {
      anomalies: [],
      from: options.from ?? '',
      to: options.to ?? '',
      events,
      duplicates,
      series: 0,
      uncostedEvents: aggregator.uncostedEvents,
    };
  // Days outside the file count as zero; what comes before `from` is baseline only.
  const series = aggregator.toSeries(Math.min(fileRange.first, fromDay), Math.max(fileRange.last, toDay));
  return {
    anomalies: detectAnomalies(series, { fromDay, toDay }),
    from: dayText(fromDay),
    to: dayText(toDay),
    events,
    duplicates,
    series: series.length,
    uncostedEvents: aggregator.uncostedEvents,
  };
}
