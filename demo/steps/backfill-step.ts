import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { createBackfillActivities } from '../../activities/backfill-activities.ts';
import { signCorrection } from '../../contracts/event-correction.ts';
import { signEvent } from '../../contracts/event-signature.ts';
import type { BackfillPlan } from '../../db/queries/backfills.ts';
import { listInvoices } from '../../db/queries/invoices.ts';
import { describeCause } from '../../domain/backfill/index.ts';
import { Decimal, describeAmountsByCurrency, formatDecimal } from '../../domain/money.ts';
import { amendEvents } from '../../ingest/event-corrections.ts';
import { publishedTerms } from '../../terms/index.ts';
import { textTable } from '../../views/text-table.ts';
import { backfillWorkflowId, type BackfillInput, type BackfillProgress } from '../../workflows/backfill-definitions.ts';
import { indent, out, STEP_TIMEOUT_MS, type DemoRun } from '../demo-run.ts';
import { formatAdjustments } from '../report.ts';
import { lateCustomers } from '../usage-batches.ts';
import { DEMO_NEXT_PERIOD, DEMO_PERIOD, DemoError } from '../workspace.ts';
import type { DemoStep } from './demo-step.ts';

const BACKFILL_REASON = 'demo: a gateway bug double-metered one request and metered another in bytes';

/**
 * Corrections of a closed period and a backfill over it (SPEC §5), on the first late customer (whose
 * next invoice the demo closes): one of its October events is voided, one replaced by the same
 * event at a tenth of the quantity, both signed by the source like events (`tally events amend`);
 * a plan re-rates October and says what it would adjust and why (`tally backfill plan`); the run
 * writes it once (`tally backfill run`); running the same plan again writes nothing, and a fresh
 * plan over the same month finds nothing left to adjust. The adjustments wait for the customer's
 * next invoice: the late-usage step closes it, and the step after it shows them there.
 */
export const correctionsBackfillStep: DemoStep = {
  title: () => `Corrections of closed ${DEMO_PERIOD} events, and a backfill over ${DEMO_PERIOD}`,
  async run(run: DemoRun) {
    const { pool, temporal, taskQueue } = run.connected;
    const [customer] = lateCustomers(run.workspace);
    if (customer === undefined) throw new DemoError('internal: no late customer');
    const customerId = customer.customerId;

    // 1. Amend: void one event, replace another (same source and id, a tenth of the quantity).
    const [voided, replaced] = await octoberEvents(pool, customerId, 2);
    if (voided === undefined || replaced === undefined)
      throw new DemoError(`${customerId} has fewer than two ${DEMO_PERIOD} token events to correct`);
    const keyOf = (source: string): string => {
      const key = run.workspace.sourceKeys[source];
      if (key === undefined) throw new DemoError(`no signing key for source ${source}`);
      return key;
    };
    const replacement = signEvent(
      { ...replaced.event, quantity: formatDecimal(new Decimal(replaced.event.quantity).divToInt(10)) },
      keyOf(replaced.event.source),
    );
    const lines = [
      signCorrection(
        {
          schema_version: 1,
          action: 'void',
          source: voided.event.source,
          event_id: voided.event.event_id,
          reason: 'double-metered by gateway bug #812',
        },
        keyOf(voided.event.source),
      ),
      signCorrection(
        {
          schema_version: 1,
          action: 'replace',
          source: replaced.event.source,
          event_id: replaced.event.event_id,
          reason: 'quantity was in bytes, not tokens',
          event: replacement,
        },
        keyOf(replaced.event.source),
      ),
    ];
    const outcomes = await amendEvents(pool, {
      file: 'demo-corrections.jsonl',
      text: `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`,
      keys: run.workspace.sourceKeys,
      amendedBy: 'demo',
    });
    for (const outcome of outcomes) {
      if (outcome.status !== 'accepted')
        throw new DemoError(`correction line ${outcome.line} was rejected: ${outcome.reason}: ${outcome.detail}`);
      out(
        `   correction #${outcome.correctionSeq}: ${outcome.action} ${outcome.source}:${outcome.eventId} accepted (the original event stays in the raw history)`,
      );
    }
    out(
      `   ${voided.event.quantity} tokens voided, ${replaced.event.quantity} → ${replacement.quantity} tokens replaced; ${DEMO_PERIOD} is closed: they take effect at the next backfill over it`,
    );

    // 2. Plan: what the run will write, per customer-period, and why; nothing else is written.
    const backfills = createBackfillActivities({ pool, terms: publishedTerms(pool) });
    const planOnce = () =>
      backfills.planBackfill({
        from: DEMO_PERIOD,
        to: DEMO_PERIOD,
        customers: [customerId],
        reason: BACKFILL_REASON,
        createdBy: 'demo',
        now: new Date().toISOString(),
        concurrency: 2,
      });
    const plan = await planOnce();
    out(`\n   plan ${plan.planId} (like tally backfill plan --from ${DEMO_PERIOD} --to ${DEMO_PERIOD}):`);
    out(indent(formatPlanItems(plan)));
    if (nothingToAdjust(plan)) throw new DemoError(`the plan over the corrected ${DEMO_PERIOD} adjusts nothing`);

    // 3. Run it: workflow backfill:<plan>, one child per customer-period, each adjustment written once.
    const first = await runPlan(temporal.client, taskQueue, plan.planId);
    out(`   ${describeRun(first)}`);
    if (first.state !== 'completed' || first.adjusted !== plan.items.filter(adjusts).length)
      throw new DemoError(`the backfill did not write what its plan said: ${describeRun(first)}`);
    const written = await adjustmentRows(pool, plan.planId);

    // 4. Again: the same plan run twice, and a fresh plan over the same month, adjust nothing more.
    const second = await runPlan(temporal.client, taskQueue, plan.planId);
    const rewritten = await adjustmentRows(pool, plan.planId);
    out(
      `   the same plan run again: ${second.state}, ${rewritten.count} adjustment lines as before (${written.count}), Δ ${rewritten.total} unchanged`,
    );
    if (rewritten.count !== written.count || rewritten.total !== written.total)
      throw new DemoError(`running plan ${plan.planId} again wrote more adjustments`);
    const again = await planOnce();
    out(`   a new plan over ${DEMO_PERIOD}: ${describeAmountsByCurrency(again.adjustmentTotals)} left to adjust`);
    if (!nothingToAdjust(again))
      throw new DemoError(
        `a second backfill over ${DEMO_PERIOD} would adjust ${describeAmountsByCurrency(again.adjustmentTotals)} more`,
      );
    out(
      `   the ${written.count} adjustment lines (${written.total}) wait for ${customerId}'s next invoice (${DEMO_NEXT_PERIOD}, closed in the next step)`,
    );
    run.found.backfill = { planId: plan.planId, customerId, lines: written.count, total: written.total };
  },
};

/** After the next invoices are issued: the backfill's adjustments are on them, once, pointing at what they correct. */
export const backfillBilledStep: DemoStep = {
  title: () => `The backfill's adjustments on ${DEMO_NEXT_PERIOD}`,
  async run(run: DemoRun) {
    const { pool } = run.connected;
    const backfill = run.found.backfill;
    if (backfill === undefined) throw new DemoError('internal: the backfill step has not run');
    const invoices = (
      await listInvoices(pool, { period: DEMO_NEXT_PERIOD, status: 'issued', customerId: backfill.customerId })
    ).filter((invoice) => invoice.customerId === backfill.customerId);
    const ours = invoices.map((invoice) => ({
      ...invoice,
      document: {
        ...invoice.document,
        lines: invoice.document.lines.filter(
          (line) => line.kind === 'adjustment' && line.line_key.endsWith(`:backfill:${backfill.planId}`),
        ),
      },
    }));
    const lines = ours.flatMap((invoice) => invoice.document.lines);
    const numbers = new Map(
      (run.found.octoberInvoices ?? []).map((invoice) => [invoice.invoiceId, invoice.invoiceNumber ?? undefined]),
    );
    out(indent(formatAdjustments(ours, (invoiceId) => numbers.get(invoiceId))));
    const total = formatDecimal(lines.reduce((sum, line) => sum.plus(line.amount), new Decimal(0)));
    out(`   ${lines.length} lines, ${total} in all: the plan's adjustment, billed once`);
    if (lines.length !== backfill.lines || !new Decimal(total).eq(backfill.total))
      throw new DemoError(
        `${backfill.customerId}'s ${DEMO_NEXT_PERIOD} invoice carries ${lines.length} backfill lines (${total}), the backfill wrote ${backfill.lines} (${backfill.total})`,
      );
  },
};

interface StoredEvent {
  readonly event: {
    readonly schema_version: 1;
    readonly event_id: string;
    readonly source: string;
    readonly customer_id: string;
    readonly timestamp: string;
    readonly unit: string;
    readonly quantity: string;
    readonly metadata: Record<string, string>;
  };
}

/** The customer's first token events of the demo month, as signed events carry them. */
async function octoberEvents(pool: pg.Pool, customerId: string, limit: number): Promise<StoredEvent[]> {
  const { rows } = await pool.query<{
    source: string;
    event_id: string;
    event_time: string;
    unit: string;
    quantity: string;
    metadata: Record<string, string>;
  }>(
    `SELECT source, event_id, to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS event_time,
            unit, quantity::text AS quantity, metadata
       FROM usage_events
      WHERE customer_id = $1 AND period = $2 AND sku = 'llm.tokens' AND NOT late
      ORDER BY event_time, source, event_id LIMIT $3`,
    [customerId, DEMO_PERIOD, limit],
  );
  return rows.map((row) => ({
    event: {
      schema_version: 1,
      event_id: row.event_id,
      source: row.source,
      customer_id: customerId,
      timestamp: row.event_time,
      unit: row.unit,
      quantity: row.quantity,
      metadata: row.metadata,
    },
  }));
}

/** Whether a plan adjusts nothing, in any currency. */
function nothingToAdjust(plan: BackfillPlan): boolean {
  return Object.values(plan.adjustmentTotals).every((total) => new Decimal(total).isZero());
}

function adjusts(item: BackfillPlan['items'][number]): boolean {
  return !new Decimal(item.adjustmentTotal).isZero();
}

function formatPlanItems(plan: BackfillPlan): string {
  return textTable(
    ['customer', 'period', 'issued', 're-rated', 'adjustment', 'currency', 'why'],
    plan.items.map((item) => [
      item.customerId,
      item.period,
      item.issuedTotal,
      item.reratedTotal,
      item.adjustmentTotal,
      item.currency,
      item.causes.map(describeCause).join('; ') || '-',
    ]),
    { rightAligned: [2, 3, 4] },
  );
}

/** Runs (or runs again) a plan as `tally backfill run` does, and waits for the run's result. */
async function runPlan(client: Client, taskQueue: string, planId: string): Promise<BackfillProgress> {
  const input: BackfillInput = {
    backfillId: planId,
    planId,
    startedBy: 'demo',
    concurrency: 2,
    stepTimeoutMs: STEP_TIMEOUT_MS,
  };
  const handle = await client.workflow.start('backfillWorkflow', {
    taskQueue,
    workflowId: backfillWorkflowId(planId),
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
  return (await handle.result()) as BackfillProgress;
}

function describeRun(progress: BackfillProgress): string {
  return `run backfill:${progress.backfillId}: ${progress.state}, ${progress.done}/${progress.total} customer-periods, ${progress.adjusted} adjusted, Δ ${describeAmountsByCurrency(progress.adjustmentTotals)}, ${progress.failures.length} failures`;
}

/** The adjustment lines a backfill wrote (pending or billed) and their sum. */
async function adjustmentRows(pool: pg.Pool, backfillId: string): Promise<{ count: number; total: string }> {
  const { rows } = await pool.query<{ n: number; total: string | null }>(
    'SELECT count(*)::int AS n, sum(amount)::text AS total FROM backfill_adjustments WHERE backfill_id = $1',
    [backfillId],
  );
  return { count: rows[0]?.n ?? 0, total: formatDecimal(new Decimal(rows[0]?.total ?? '0')) };
}
