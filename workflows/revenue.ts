import {
  ActivityFailure,
  continueAsNew,
  executeChild,
  patched,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { RevenueActivities } from '../activities/index.ts';
import {
  revenueDayWorkflowId,
  type RevenueDayInput,
  type RevenueDayProgress,
  type RevenueDaySummary,
  type RevenueLauncherInput,
} from './revenue-definitions.ts';

/**
 * Daily revenue recognition (SPEC §11). The daily Temporal Schedule starts
 * `revenueLauncherWorkflow`, which starts the previous UTC day's `revenueDayWorkflow` under a
 * deterministic id: 1 list the customers whose contract covers the day's period → 2 recognize each
 * customer's day (idempotent per customer and day: a rerun posts nothing new) → 3 reconcile the
 * day's period and the one before (differences become `reconciliation` exceptions, once).
 *
 * Steps 1 and 2 go a page of customers at a time, and a run whose history passed its budget
 * continues as new after a page (carrying the counts), so the history stays bounded however many
 * customers there are (Temporal ends a workflow at 50,000 events or 50 MB).
 */

/** The paged day (steps 1 and 2 by page, continue-as-new between pages); runs started before it keep the single list. */
const PAGED_DAY = 'revenue-day-paged';
const DEFAULT_PAGE_SIZE = 200;
const DEFAULT_HISTORY_BUDGET = 10_000;
/** Failures listed in a summary (and carried between runs); more are counted in its last line. */
const LISTED_FAILURES = 200;

/** Customers recognized at once: each is a few queries and one transaction. */
const BATCH = 8;
const DAY_MS = 86_400_000;

/** Started by the daily schedule: recognizes the day that ended before it started, once. */
export async function revenueLauncherWorkflow(
  input: RevenueLauncherInput,
): Promise<RevenueDaySummary | { readonly alreadyRunning: string }> {
  const now = Date.now();
  const day = new Date(now - (now % DAY_MS) - DAY_MS).toISOString().slice(0, 10);
  const workflowId = revenueDayWorkflowId(input.taskQueue, day);
  try {
    return await executeChild(revenueDayWorkflow, {
      workflowId,
      args: [{ day, ...(input.stepTimeoutMs === undefined ? {} : { stepTimeoutMs: input.stepTimeoutMs }) }],
    });
  } catch (error) {
    // The day is still being recognized (a manual trigger on top of the schedule): that run does the work.
    if (error instanceof WorkflowExecutionAlreadyStartedError) return { alreadyRunning: workflowId };
    throw error;
  }
}

/** One day's recognition for every customer; one customer's failure never holds the others. */
export async function revenueDayWorkflow(input: RevenueDayInput): Promise<RevenueDaySummary> {
  const stepTimeoutMs = input.stepTimeoutMs ?? 120_000;
  const database = proxyActivities<RevenueActivities>({
    startToCloseTimeout: stepTimeoutMs,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10 },
  });
  if (patched(PAGED_DAY)) return await pagedRevenueDay(input, database);
  // 1. The customers whose contract covers the day's period.
  const { customerIds, problems } = await database.listRecognitionCustomers({ day: input.day });
  const counts = new DayCounts(undefined, Number.POSITIVE_INFINITY);
  for (const problem of problems) counts.fail(problem);
  // 2. Each customer's day, a few at a time.
  await recognizeCustomers(database, input.day, customerIds, counts);
  // 3. The daily reconciliation check: the day's period and the one before, differences as exceptions.
  const reconciliation = await database.reconcileRecentPeriods({ day: input.day });
  return { day: input.day, ...counts.summary(), customers: customerIds.length, reconciliation };
}

type RevenueDatabase = ReturnType<typeof proxyActivities<RevenueActivities>>;

/** Steps 1 and 2 a page at a time from where the run before stopped; step 3 in the run that lists the last page. */
async function pagedRevenueDay(input: RevenueDayInput, database: RevenueDatabase): Promise<RevenueDaySummary> {
  const pageSize = input.pageSize ?? DEFAULT_PAGE_SIZE;
  const budget = input.historyBudget ?? DEFAULT_HISTORY_BUDGET;
  const counts = new DayCounts(input.resume, LISTED_FAILURES);
  let after = input.resume?.after ?? null;
  let customers = input.resume?.customers ?? 0;
  for (;;) {
    // 1. A page of the customers whose contract covers the day's period (or the one before).
    const page = await database.listRecognitionCustomerPage({ day: input.day, after, limit: pageSize });
    for (const problem of page.problems) counts.fail(problem);
    customers += page.customerIds.length;
    // 2. Each customer's day, a few at a time.
    await recognizeCustomers(database, input.day, page.customerIds, counts);
    if (page.next === null) break;
    after = page.next;
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength >= budget) {
      const resume: RevenueDayProgress = { after, customers, ...counts.progress() };
      return await continueAsNew<typeof revenueDayWorkflow>({ ...input, resume });
    }
  }
  // 3. The daily reconciliation check: the day's period and the one before, differences as exceptions.
  const reconciliation = await database.reconcileRecentPeriods({ day: input.day });
  return { day: input.day, ...counts.summary(), customers, reconciliation };
}

/** Each customer's day, `BATCH` at a time; one customer's failure never holds the others. */
async function recognizeCustomers(
  database: RevenueDatabase,
  day: string,
  customerIds: readonly string[],
  counts: DayCounts,
): Promise<void> {
  for (let start = 0; start < customerIds.length; start += BATCH) {
    const batch = customerIds.slice(start, start + BATCH);
    const outcomes = await Promise.all(
      batch.map((customerId) =>
        database.recognizeCustomerDay({ customerId, day }).then(
          (outcome) => ({ customerId, outcome }),
          (error: unknown) => ({ customerId, error }),
        ),
      ),
    );
    for (const result of outcomes) {
      if ('error' in result) {
        const cause = result.error instanceof ActivityFailure ? result.error.cause : result.error;
        counts.fail(`${result.customerId}: ${cause instanceof Error ? cause.message : String(cause)}`);
      } else if (result.outcome.status === 'recognized') {
        if (result.outcome.entryKey === null) counts.unchanged += 1;
        else counts.posted += 1;
      } else {
        counts.skipped += 1;
      }
    }
  }
}

/** What a day's customers came to; failures listed up to a limit and counted beyond it. */
class DayCounts {
  posted: number;
  unchanged: number;
  skipped: number;
  private readonly failures: string[];
  private failed: number;

  constructor(
    from: Omit<RevenueDayProgress, 'after' | 'customers'> | undefined,
    private readonly listedFailures: number,
  ) {
    this.posted = from?.posted ?? 0;
    this.unchanged = from?.unchanged ?? 0;
    this.skipped = from?.skipped ?? 0;
    this.failures = [...(from?.failures ?? [])];
    this.failed = from?.failed ?? 0;
  }

  fail(line: string): void {
    this.failed += 1;
    if (this.failures.length < this.listedFailures) this.failures.push(line);
  }

  progress(): Omit<RevenueDayProgress, 'after' | 'customers'> {
    const { posted, unchanged, skipped, failed } = this;
    return { posted, unchanged, skipped, failures: [...this.failures], failed };
  }

  /** The summary's counts; failures beyond the listed ones as its last line. */
  summary(): Pick<RevenueDaySummary, 'posted' | 'unchanged' | 'skipped' | 'failures'> {
    const { posted, unchanged, skipped, failures, failed } = this.progress();
    const more = failed - failures.length;
    return { posted, unchanged, skipped, failures: more > 0 ? [...failures, `… and ${more} more`] : failures };
  }
}
