import type pg from 'pg';
import type { AdjustmentLine, Invoice, RateCardVersionRef } from '../../contracts/invoice.ts';
import type { BackfillCause, LineAmounts } from '../../domain/backfill/index.ts';
import type { AmountsByCurrency } from '../../domain/money.ts';

/**
 * Backfill plans, runs, their per-customer-period results and the adjustments they write (SPEC §5,
 * migration 0250). Queries only run SQL and map rows; the activities own the transactions.
 */

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/** A closed customer-period a backfill can re-rate: its final live invoice and what it was billed under. */
export interface ClosedPeriod {
  readonly customerId: string;
  readonly period: string;
  readonly invoiceId: string;
  readonly status: 'issued' | 'skipped';
  readonly document: Invoice;
  readonly calculationVersion: string;
  readonly snapshotCreatedAt: string;
  readonly contractHash: string | undefined;
  readonly ratecardVersions: readonly RateCardVersionRef[];
}

export async function closedPeriodsInRange(
  db: Queryable,
  range: { from: string; to: string; customers?: readonly string[] | undefined },
): Promise<ClosedPeriod[]> {
  const { rows } = await db.query<{
    customer_id: string;
    period: string;
    invoice_id: string;
    status: 'issued' | 'skipped';
    document: Invoice;
    calculation_version: string;
    snapshot_created_at: Date;
    contract_hash: string | null;
    ratecard_versions: RateCardVersionRef[] | null;
  }>(
    `SELECT i.customer_id, i.period, i.invoice_id, i.status, i.document, i.calculation_version,
            s.created_at AS snapshot_created_at, s.contract_hash, s.ratecard_versions
       FROM invoices i JOIN period_snapshots s ON s.snapshot_id = i.snapshot_id
      WHERE i.mode = 'live' AND i.status IN ('issued', 'skipped') AND i.period >= $1 AND i.period <= $2
        AND ($3::text[] IS NULL OR i.customer_id = ANY($3::text[]))
      ORDER BY i.customer_id, i.period`,
    [range.from, range.to, range.customers === undefined ? null : [...range.customers]],
  );
  return rows.map((row) => ({
    customerId: row.customer_id,
    period: row.period,
    invoiceId: row.invoice_id,
    status: row.status,
    document: row.document,
    calculationVersion: row.calculation_version,
    snapshotCreatedAt: row.snapshot_created_at.toISOString(),
    contractHash: row.contract_hash ?? undefined,
    ratecardVersions: row.ratecard_versions ?? row.document.ratecard_versions,
  }));
}

/**
 * Every adjustment line of `correctedInvoiceIds` billed or about to be: lines on other live invoices
 * that are not held, voided or left to the legacy biller (issued or draft), and backfill adjustments not on such an invoice yet.
 */
export async function adjustmentsOf(
  db: Queryable,
  customerId: string,
  correctedInvoiceIds: readonly string[],
): Promise<Map<string, Pick<AdjustmentLine, 'line_key' | 'amount'>[]>> {
  const byInvoice = new Map<string, Pick<AdjustmentLine, 'line_key' | 'amount'>[]>();
  const add = (invoiceId: string, line: Pick<AdjustmentLine, 'line_key' | 'amount'>) => {
    const lines = byInvoice.get(invoiceId) ?? [];
    lines.push(line);
    byInvoice.set(invoiceId, lines);
  };
  const onInvoices = new Set<string>();
  const { rows } = await db.query<{ adjusting: string; corrected: string; line_key: string; amount: string }>(
    `SELECT i.invoice_id AS adjusting, l->>'corrects_invoice_id' AS corrected, l->>'line_key' AS line_key, l->>'amount' AS amount
       FROM invoices i, jsonb_array_elements(i.document->'lines') l
      WHERE i.customer_id = $1 AND i.mode = 'live' AND i.status NOT IN ('held', 'voided', 'legacy') AND l->>'kind' = 'adjustment'
        AND l->>'corrects_invoice_id' = ANY($2::text[]) AND l->>'corrects_invoice_id' <> i.invoice_id`,
    [customerId, [...correctedInvoiceIds]],
  );
  for (const row of rows) {
    add(row.corrected, { line_key: row.line_key, amount: row.amount });
    onInvoices.add(`${row.adjusting}\u0000${row.line_key}`);
  }
  // A backfill's lines count from the moment they are written: pending, or claimed by a draft that
  // has not saved them yet (never twice: a line already on its invoice was counted above).
  const pending = await db.query<{ corrected: string; adjusting: string | null; held: boolean; line: AdjustmentLine }>(
    `SELECT a.corrected_invoice_id AS corrected, a.adjusting_invoice_id AS adjusting,
            coalesce(i.status IN ('held', 'voided', 'legacy'), false) AS held, a.line
       FROM backfill_adjustments a LEFT JOIN invoices i ON i.invoice_id = a.adjusting_invoice_id
      WHERE a.customer_id = $1 AND a.corrected_invoice_id = ANY($2::text[])`,
    [customerId, [...correctedInvoiceIds]],
  );
  for (const row of pending.rows) {
    if (row.adjusting !== null && (row.held || onInvoices.has(`${row.adjusting}\u0000${row.line.line_key}`))) continue;
    add(row.corrected, { line_key: row.line.line_key, amount: row.line.amount });
  }
  return byInvoice;
}

/** Late events of a closed customer-period no invoice and no backfill has billed yet, in key order. */
export async function unbilledLateEvents(
  db: Queryable,
  input: { customerId: string; periodStart: string; periodEnd: string },
): Promise<{ source: string; eventId: string }[]> {
  const { rows } = await db.query<{ source: string; event_id: string }>(
    `SELECT e.source, e.event_id FROM usage_events e
      WHERE e.customer_id = $1 AND e.late AND e.event_time >= $2 AND e.event_time < $3
        AND NOT EXISTS (SELECT 1 FROM late_event_adjustments a WHERE a.source = e.source AND a.event_id = e.event_id)
      ORDER BY e.source, e.event_id`,
    [input.customerId, input.periodStart, input.periodEnd],
  );
  return rows.map((row) => ({ source: row.source, eventId: row.event_id }));
}

/** Late events in a range of customer-periods, claimed or not: a plan is stale once this grows. */
export async function lateEventCount(
  db: Queryable,
  input: { start: string; end: string; customers?: readonly string[] | undefined },
): Promise<number> {
  const { rows } = await db.query<{ count: string }>(
    `SELECT count(*)::text AS count FROM usage_events
      WHERE late AND event_time >= $1 AND event_time < $2 AND ($3::text[] IS NULL OR customer_id = ANY($3::text[]))`,
    [input.start, input.end, input.customers === undefined ? null : [...input.customers]],
  );
  return Number.parseInt(rows[0]?.count ?? '0', 10);
}

/** The newest accepted correction's sequence number ('0' when none): a plan is stale once it moves. */
export async function lastCorrectionSeq(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ seq: string | null }>(
    `SELECT max(correction_seq)::text AS seq FROM event_corrections WHERE status = 'accepted'`,
  );
  return rows[0]?.seq ?? '0';
}

/** Accepted corrections of events of a customer-period (by where the event was or now is), oldest first. */
export async function correctionsOfPeriod(
  db: Queryable,
  input: { customerId: string; periodStart: string; periodEnd: string; since: string },
): Promise<{ correctionSeq: string; action: 'void' | 'replace'; source: string; eventId: string }[]> {
  const { rows } = await db.query<{ seq: string; action: 'void' | 'replace'; source: string; event_id: string }>(
    `SELECT correction_seq::text AS seq, action, source, event_id FROM event_corrections
      WHERE status = 'accepted' AND customer_id = $1 AND amended_at > $4
        AND ((original_event_time >= $2 AND original_event_time < $3)
          OR (replacement_event_time >= $2 AND replacement_event_time < $3))
      ORDER BY correction_seq`,
    [input.customerId, input.periodStart, input.periodEnd, input.since],
  );
  return rows.map((row) => ({ correctionSeq: row.seq, action: row.action, source: row.source, eventId: row.event_id }));
}

/** Whether any accepted correction names this customer (the close reads the corrected event set only then). */
export async function customerHasCorrections(db: Queryable, customerId: string): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM event_corrections WHERE status = 'accepted' AND customer_id = $1 LIMIT 1`,
    [customerId],
  );
  return rows.length > 0;
}

export interface BackfillPlanItem {
  readonly customerId: string;
  readonly period: string;
  readonly correctedInvoiceId: string;
  readonly currency: string;
  readonly issuedTotal: string;
  readonly billed: LineAmounts;
  readonly rerated: LineAmounts;
  readonly reratedTotal: string;
  readonly adjustmentTotal: string;
  readonly causes: readonly BackfillCause[];
  /** The unbilled late events the re-rating includes (the run claims exactly these). */
  readonly lateEvents: readonly { source: string; eventId: string }[];
  readonly eventFingerprint: string;
}

/** What a plan was computed from; a run compares it with what is in force then (SPEC §5: stale plans are refused). */
export interface BackfillPlanInputs {
  readonly terms: Readonly<Record<string, { contractHash: string; ratecardVersions: readonly RateCardVersionRef[] }>>;
  readonly lastCorrectionSeq: string;
  readonly lateEventCount: number;
}

export interface BackfillPlan {
  readonly planId: string;
  readonly from: string;
  readonly to: string;
  readonly customers: readonly string[] | undefined;
  readonly calculationVersion: string;
  readonly reason: string;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly inputs: BackfillPlanInputs;
  readonly inputsFingerprint: string;
  /** Per currency (a plan may cover customers billed in several): the items' issued, re-rated and adjustment totals. */
  readonly issuedTotals: AmountsByCurrency;
  readonly reratedTotals: AmountsByCurrency;
  readonly adjustmentTotals: AmountsByCurrency;
  readonly items: readonly BackfillPlanItem[];
}

export async function insertBackfillPlan(client: pg.PoolClient, plan: BackfillPlan): Promise<void> {
  await client.query(
    `INSERT INTO backfill_plans (plan_id, period_from, period_to, customers, calculation_version, reason, created_by,
       created_at, inputs, inputs_fingerprint, issued_totals, rerated_totals, adjustment_totals)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [
      plan.planId,
      plan.from,
      plan.to,
      plan.customers === undefined ? null : [...plan.customers],
      plan.calculationVersion,
      plan.reason,
      plan.createdBy,
      plan.createdAt,
      JSON.stringify(plan.inputs),
      plan.inputsFingerprint,
      JSON.stringify(plan.issuedTotals),
      JSON.stringify(plan.reratedTotals),
      JSON.stringify(plan.adjustmentTotals),
    ],
  );
  // One statement per 500 items: unnest keeps it to a handful of round trips for a month of customers.
  for (let start = 0; start < plan.items.length; start += 500) {
    const chunk = plan.items.slice(start, start + 500);
    await client.query(
      `INSERT INTO backfill_plan_items (plan_id, customer_id, period, corrected_invoice_id, currency, issued_total, billed,
         rerated, rerated_total, adjustment_total, causes, late_event_count, event_fingerprint)
       SELECT $1, item->>'customerId', item->>'period', item->>'correctedInvoiceId', item->>'currency',
              (item->>'issuedTotal')::numeric, item->'billed', item->'rerated', (item->>'reratedTotal')::numeric,
              (item->>'adjustmentTotal')::numeric, jsonb_build_object('causes', item->'causes', 'lateEvents', item->'lateEvents'),
              jsonb_array_length(item->'lateEvents'), item->>'eventFingerprint'
         FROM jsonb_array_elements($2::jsonb) item`,
      [plan.planId, JSON.stringify(chunk)],
    );
  }
}

interface PlanRow {
  plan_id: string;
  period_from: string;
  period_to: string;
  customers: string[] | null;
  calculation_version: string;
  reason: string;
  created_by: string;
  created_at: Date;
  inputs: BackfillPlanInputs;
  inputs_fingerprint: string;
  issued_totals: AmountsByCurrency;
  rerated_totals: AmountsByCurrency;
  adjustment_totals: AmountsByCurrency;
}

interface PlanItemRow {
  customer_id: string;
  period: string;
  corrected_invoice_id: string;
  currency: string;
  issued_total: string;
  billed: LineAmounts;
  rerated: LineAmounts;
  rerated_total: string;
  adjustment_total: string;
  causes: { causes: BackfillCause[]; lateEvents: { source: string; eventId: string }[] };
  event_fingerprint: string;
}

function itemFromRow(row: PlanItemRow): BackfillPlanItem {
  return {
    customerId: row.customer_id,
    period: row.period,
    correctedInvoiceId: row.corrected_invoice_id,
    currency: row.currency,
    issuedTotal: row.issued_total,
    billed: row.billed,
    rerated: row.rerated,
    reratedTotal: row.rerated_total,
    adjustmentTotal: row.adjustment_total,
    causes: row.causes.causes,
    lateEvents: row.causes.lateEvents,
    eventFingerprint: row.event_fingerprint,
  };
}

/** A plan without its items (a run reads those a page at a time). */
export async function loadBackfillPlanHeader(
  db: Queryable,
  planId: string,
): Promise<Omit<BackfillPlan, 'items'> | undefined> {
  const { rows } = await db.query<PlanRow>('SELECT * FROM backfill_plans WHERE plan_id = $1', [planId]);
  const row = rows[0];
  if (row === undefined) return undefined;
  return {
    planId: row.plan_id,
    from: row.period_from,
    to: row.period_to,
    customers: row.customers ?? undefined,
    calculationVersion: row.calculation_version,
    reason: row.reason,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    inputs: row.inputs,
    inputsFingerprint: row.inputs_fingerprint,
    issuedTotals: row.issued_totals,
    reratedTotals: row.rerated_totals,
    adjustmentTotals: row.adjustment_totals,
  };
}

export async function loadBackfillPlan(db: Queryable, planId: string): Promise<BackfillPlan | undefined> {
  const header = await loadBackfillPlanHeader(db, planId);
  if (header === undefined) return undefined;
  const items = await db.query<PlanItemRow>(
    'SELECT * FROM backfill_plan_items WHERE plan_id = $1 ORDER BY customer_id, period',
    [planId],
  );
  return { ...header, items: items.rows.map(itemFromRow) };
}

export async function countBackfillPlanItems(db: Queryable, planId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM backfill_plan_items WHERE plan_id = $1',
    [planId],
  );
  return rows[0]?.n ?? 0;
}

/** A customer-period of a plan, as a run's cursor names it. */
export interface BackfillItemKey {
  readonly customerId: string;
  readonly period: string;
}

/**
 * Up to `limit` customer-periods of a plan after `after` (from the first when null), in the order of
 * the table's primary key (customer, period): the same pages however often they are read. `next` is
 * the last one returned when more follow, null on the last page.
 */
export async function backfillPlanItemPage(
  db: Queryable,
  input: { planId: string; after: BackfillItemKey | null; limit: number },
): Promise<{ items: (BackfillItemKey & { currency: string })[]; next: BackfillItemKey | null }> {
  const { rows } = await db.query<{ customer_id: string; period: string; currency: string }>(
    `SELECT customer_id, period, currency FROM backfill_plan_items
      WHERE plan_id = $1 AND ($2::text IS NULL OR (customer_id, period) > ($2::text, $3::text))
      ORDER BY customer_id, period LIMIT $4`,
    [input.planId, input.after?.customerId ?? null, input.after?.period ?? null, input.limit + 1],
  );
  const items = rows
    .slice(0, input.limit)
    .map((row) => ({ customerId: row.customer_id, period: row.period, currency: row.currency }));
  const last = items.at(-1);
  return {
    items,
    next: rows.length > input.limit && last !== undefined ? { customerId: last.customerId, period: last.period } : null,
  };
}

export async function loadBackfillPlanItem(
  db: Queryable,
  key: { planId: string; customerId: string; period: string },
): Promise<BackfillPlanItem | undefined> {
  const { rows } = await db.query<PlanItemRow>(
    'SELECT * FROM backfill_plan_items WHERE plan_id = $1 AND customer_id = $2 AND period = $3',
    [key.planId, key.customerId, key.period],
  );
  return rows[0] === undefined ? undefined : itemFromRow(rows[0]);
}

export interface BackfillRunRecord {
  readonly backfillId: string;
  readonly planId: string;
  readonly startedBy: string;
  readonly startedAt: string;
  readonly status: 'running' | 'completed' | 'cancelled' | 'refused';
  readonly finishedAt: string | undefined;
  readonly results: Record<string, unknown> | undefined;
}

/** Records a run once (a retried or repeated start finds the first record). */
export async function recordBackfillRunStart(
  db: Queryable,
  run: { backfillId: string; planId: string; startedBy: string },
): Promise<void> {
  await db.query(
    `INSERT INTO backfill_runs (backfill_id, plan_id, started_by, status) VALUES ($1, $2, $3, 'running')
     ON CONFLICT (backfill_id) DO UPDATE SET status = 'running', finished_at = NULL
       WHERE backfill_runs.status IN ('cancelled', 'refused')`,
    [run.backfillId, run.planId, run.startedBy],
  );
}

export async function recordBackfillRunEnd(
  db: Queryable,
  run: { backfillId: string; status: 'completed' | 'cancelled' | 'refused'; results: Record<string, unknown> },
): Promise<void> {
  await db.query(
    `UPDATE backfill_runs SET status = $2, finished_at = coalesce(finished_at, now()), results = $3 WHERE backfill_id = $1`,
    [run.backfillId, run.status, JSON.stringify(run.results)],
  );
}

export async function loadBackfillRun(db: Queryable, backfillId: string): Promise<BackfillRunRecord | undefined> {
  const { rows } = await db.query<{
    backfill_id: string;
    plan_id: string;
    started_by: string;
    started_at: Date;
    status: BackfillRunRecord['status'];
    finished_at: Date | null;
    results: Record<string, unknown> | null;
  }>('SELECT * FROM backfill_runs WHERE backfill_id = $1', [backfillId]);
  const row = rows[0];
  if (row === undefined) return undefined;
  return {
    backfillId: row.backfill_id,
    planId: row.plan_id,
    startedBy: row.started_by,
    startedAt: row.started_at.toISOString(),
    status: row.status,
    finishedAt: row.finished_at?.toISOString(),
    results: row.results ?? undefined,
  };
}

export async function listBackfillPlans(
  db: Queryable,
  limit = 50,
): Promise<(Omit<BackfillPlan, 'items' | 'inputs'> & { items: number; run: string | undefined })[]> {
  const { rows } = await db.query<PlanRow & { items: string; run_status: string | null }>(
    `SELECT p.*, (SELECT count(*) FROM backfill_plan_items i WHERE i.plan_id = p.plan_id)::text AS items,
            r.status AS run_status
       FROM backfill_plans p LEFT JOIN backfill_runs r ON r.plan_id = p.plan_id
      ORDER BY p.created_at DESC LIMIT $1`,
    [limit],
  );
  return rows.map((row) => ({
    planId: row.plan_id,
    from: row.period_from,
    to: row.period_to,
    customers: row.customers ?? undefined,
    calculationVersion: row.calculation_version,
    reason: row.reason,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    inputsFingerprint: row.inputs_fingerprint,
    issuedTotals: row.issued_totals,
    reratedTotals: row.rerated_totals,
    adjustmentTotals: row.adjustment_totals,
    items: Number.parseInt(row.items, 10),
    run: row.run_status ?? undefined,
  }));
}

export interface BackfillItemResult {
  readonly outcome: 'adjusted' | 'unchanged';
  readonly adjustmentTotal: string;
}

export async function findBackfillItemResult(
  db: Queryable,
  key: { backfillId: string; customerId: string; period: string },
): Promise<BackfillItemResult | undefined> {
  const { rows } = await db.query<{ outcome: 'adjusted' | 'unchanged'; adjustment_total: string }>(
    'SELECT outcome, adjustment_total FROM backfill_item_results WHERE backfill_id = $1 AND customer_id = $2 AND period = $3',
    [key.backfillId, key.customerId, key.period],
  );
  const row = rows[0];
  return row === undefined ? undefined : { outcome: row.outcome, adjustmentTotal: row.adjustment_total };
}

export async function insertBackfillItemResult(
  client: pg.PoolClient,
  key: { backfillId: string; customerId: string; period: string },
  result: BackfillItemResult,
): Promise<void> {
  await client.query(
    `INSERT INTO backfill_item_results (backfill_id, customer_id, period, outcome, adjustment_total) VALUES ($1, $2, $3, $4, $5)`,
    [key.backfillId, key.customerId, key.period, result.outcome, result.adjustmentTotal],
  );
}

export async function insertBackfillAdjustments(
  client: pg.PoolClient,
  rows: readonly {
    backfillId: string;
    customerId: string;
    period: string;
    originalLineKey: string;
    line: AdjustmentLine;
  }[],
): Promise<void> {
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO backfill_adjustments (backfill_id, customer_id, period, original_line_key, corrected_invoice_id, line, amount)
     SELECT r->>'backfillId', r->>'customerId', r->>'period', r->>'originalLineKey', r->'line'->>'corrects_invoice_id',
            r->'line', (r->'line'->>'amount')::numeric
       FROM jsonb_array_elements($1::jsonb) r`,
    [JSON.stringify(rows)],
  );
}

/** Claims for a backfill the late events its plan re-rated (those no invoice claimed meanwhile). */
export async function claimLateEventsForBackfill(
  client: pg.PoolClient,
  input: { backfillId: string; correctedInvoiceId: string; events: readonly { source: string; eventId: string }[] },
): Promise<number> {
  if (input.events.length === 0) return 0;
  const result = await client.query(
    `INSERT INTO late_event_adjustments (source, event_id, corrected_invoice_id, backfill_id)
     SELECT e->>'source', e->>'eventId', $2, $1 FROM jsonb_array_elements($3::jsonb) e
     ON CONFLICT (source, event_id) DO NOTHING`,
    [input.backfillId, input.correctedInvoiceId, JSON.stringify(input.events)],
  );
  return result.rowCount ?? 0;
}

/**
 * Results of a run so far: how many customer-periods, adjusted, and the Δ total per currency (each
 * result in the currency of its plan item: a USD adjustment and a EUR one are never added).
 */
export async function backfillRunTotals(
  db: Queryable,
  backfillId: string,
): Promise<{ done: number; adjusted: number; adjustmentTotals: AmountsByCurrency }> {
  const { rows } = await db.query<{ currency: string; done: string; adjusted: string; total: string }>(
    `SELECT i.currency, count(*)::text AS done, count(*) FILTER (WHERE r.outcome = 'adjusted')::text AS adjusted,
            sum(r.adjustment_total)::text AS total
       FROM backfill_item_results r
       JOIN backfill_runs b ON b.backfill_id = r.backfill_id
       JOIN backfill_plan_items i ON i.plan_id = b.plan_id AND i.customer_id = r.customer_id AND i.period = r.period
      WHERE r.backfill_id = $1
      GROUP BY i.currency ORDER BY i.currency`,
    [backfillId],
  );
  return {
    done: rows.reduce((sum, row) => sum + Number.parseInt(row.done, 10), 0),
    adjusted: rows.reduce((sum, row) => sum + Number.parseInt(row.adjusted, 10), 0),
    adjustmentTotals: Object.fromEntries(rows.map((row) => [row.currency, row.total])),
  };
}

/**
 * The customer's next invoice claims the backfill adjustments of its earlier periods that no live
 * invoice holds (once: a claimed row belongs to that invoice until it is held). Returns every line
 * this invoice claimed, so a retried rating gets the same lines.
 */
export async function claimBackfillAdjustments(
  db: Queryable,
  input: { customerId: string; beforePeriod: string; adjustingInvoiceId: string },
): Promise<AdjustmentLine[]> {
  await db.query(
    `UPDATE backfill_adjustments SET adjusting_invoice_id = $3
      WHERE customer_id = $1 AND period < $2 AND adjusting_invoice_id IS NULL`,
    [input.customerId, input.beforePeriod, input.adjustingInvoiceId],
  );
  const { rows } = await db.query<{ line: AdjustmentLine }>(
    `SELECT line FROM backfill_adjustments WHERE adjusting_invoice_id = $1 ORDER BY period, line->>'line_key'`,
    [input.adjustingInvoiceId],
  );
  return rows.map((row) => row.line);
}

/**
 * A held invoice, or a draft left to the legacy biller, gives back the backfill adjustments it had
 * claimed: the next invoice Tally issues bills them.
 */
export async function releaseBackfillAdjustments(db: Queryable, adjustingInvoiceId: string): Promise<void> {
  await db.query(
    `UPDATE backfill_adjustments a SET adjusting_invoice_id = NULL FROM invoices i
      WHERE a.adjusting_invoice_id = $1 AND i.invoice_id = a.adjusting_invoice_id AND i.status IN ('held', 'legacy')`,
    [adjustingInvoiceId],
  );
}

/** Per customer-period of a run: what its child wrote (the console's backfill detail). */
export async function backfillItemResults(
  db: Queryable,
  backfillId: string,
): Promise<{ customerId: string; period: string; outcome: BackfillItemResult['outcome']; adjustmentTotal: string }[]> {
  const { rows } = await db.query<{
    customer_id: string;
    period: string;
    outcome: BackfillItemResult['outcome'];
    adjustment_total: string;
  }>(
    `SELECT customer_id, period, outcome, adjustment_total::text AS adjustment_total FROM backfill_item_results
      WHERE backfill_id = $1 ORDER BY customer_id, period`,
    [backfillId],
  );
  return rows.map((row) => ({
    customerId: row.customer_id,
    period: row.period,
    outcome: row.outcome,
    adjustmentTotal: row.adjustment_total,
  }));
}

/** The adjustment lines a run wrote, and the invoice that bills each (none yet: pending). */
export async function backfillAdjustmentLines(
  db: Queryable,
  backfillId: string,
): Promise<
  {
    customerId: string;
    period: string;
    /** The corrected invoice's currency: the line's amount is in it. */
    currency: string;
    line: AdjustmentLine;
    adjustingInvoiceId: string | undefined;
  }[]
> {
  const { rows } = await db.query<{
    customer_id: string;
    period: string;
    currency: string;
    line: AdjustmentLine;
    adjusting_invoice_id: string | null;
  }>(
    `SELECT a.customer_id, a.period, i.currency, a.line, a.adjusting_invoice_id
       FROM backfill_adjustments a JOIN invoices i ON i.invoice_id = a.corrected_invoice_id
      WHERE a.backfill_id = $1 ORDER BY a.customer_id, a.period, a.line->>'line_key'`,
    [backfillId],
  );
  return rows.map((row) => ({
    customerId: row.customer_id,
    period: row.period,
    currency: row.currency,
    line: row.line,
    adjustingInvoiceId: row.adjusting_invoice_id ?? undefined,
  }));
}
