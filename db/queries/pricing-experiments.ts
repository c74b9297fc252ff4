import type pg from 'pg';
import {
  ExperimentAssignmentSchema,
  PricingExperimentSchema,
  type AssignmentRule,
  type ExperimentAssignment,
  type PricingExperiment,
} from '../../contracts/pricing-experiment.ts';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

const COLUMNS = `experiment_id, base_ratecard, variant_ratecard, currency, start_period, rule, status, reason, created_by,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at, stopped_by,
  to_char(stopped_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS stopped_at, stop_reason`;

export interface NewPricingExperiment {
  readonly experimentId: string;
  readonly baseRatecard: string;
  readonly variantRatecard: string;
  readonly currency: string;
  readonly startPeriod: string;
  readonly rule: AssignmentRule;
  readonly reason: string;
  readonly createdBy: string;
}

/** Inserts the experiment once; returns false when one with this id exists (the caller compares). */
export async function insertPricingExperiment(db: Queryable, input: NewPricingExperiment): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO pricing_experiments (experiment_id, base_ratecard, variant_ratecard, currency, start_period, rule, reason, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (experiment_id) DO NOTHING`,
    [
      input.experimentId,
      input.baseRatecard,
      input.variantRatecard,
      input.currency,
      input.startPeriod,
      JSON.stringify(input.rule),
      input.reason,
      input.createdBy,
    ],
  );
  return rowCount === 1;
}

export async function findPricingExperiment(
  db: Queryable,
  experimentId: string,
): Promise<PricingExperiment | undefined> {
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT ${COLUMNS} FROM pricing_experiments WHERE experiment_id = $1`,
    [experimentId],
  );
  return rows[0] === undefined ? undefined : PricingExperimentSchema.parse(rows[0]);
}

export async function listPricingExperiments(db: Queryable): Promise<PricingExperiment[]> {
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT ${COLUMNS} FROM pricing_experiments ORDER BY created_at, experiment_id`,
  );
  return rows.map((row) => PricingExperimentSchema.parse(row));
}

/** Serialises creating and stopping experiments (a contract is in at most one running experiment). */
export async function lockPricingExperiments(client: pg.PoolClient): Promise<void> {
  await client.query('LOCK TABLE pricing_experiments IN SHARE ROW EXCLUSIVE MODE');
}

export async function insertExperimentAssignments(
  db: Queryable,
  assignments: readonly ExperimentAssignment[],
): Promise<void> {
  if (assignments.length === 0) return;
  await db.query(
    `INSERT INTO pricing_experiment_assignments (experiment_id, customer_id, arm, contract_hash_before, contract_hash_variant)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
     ON CONFLICT (experiment_id, customer_id) DO NOTHING`,
    [
      assignments.map((entry) => entry.experiment_id),
      assignments.map((entry) => entry.customer_id),
      assignments.map((entry) => entry.arm),
      assignments.map((entry) => entry.contract_hash_before),
      assignments.map((entry) => entry.contract_hash_variant),
    ],
  );
}

export async function experimentAssignments(db: Queryable, experimentId: string): Promise<ExperimentAssignment[]> {
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT experiment_id, customer_id, arm, contract_hash_before, contract_hash_variant
       FROM pricing_experiment_assignments WHERE experiment_id = $1 ORDER BY customer_id`,
    [experimentId],
  );
  return rows.map((row) => ExperimentAssignmentSchema.parse(row));
}

/** The customers already in a running experiment (other than `exceptExperimentId`). */
export async function customersInRunningExperiments(
  db: Queryable,
  exceptExperimentId: string,
): Promise<Map<string, string>> {
  const { rows } = await db.query<{ customer_id: string; experiment_id: string }>(
    `SELECT a.customer_id, a.experiment_id FROM pricing_experiment_assignments a
       JOIN pricing_experiments e USING (experiment_id)
      WHERE e.status = 'running' AND e.experiment_id <> $1`,
    [exceptExperimentId],
  );
  return new Map(rows.map((row) => [row.customer_id, row.experiment_id]));
}

/** Marks a running experiment stopped; false when it was not running. */
export async function markPricingExperimentStopped(
  db: Queryable,
  input: { experimentId: string; stoppedBy: string; reason: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE pricing_experiments SET status = 'stopped', stopped_by = $2, stopped_at = now(), stop_reason = $3
      WHERE experiment_id = $1 AND status = 'running'`,
    [input.experimentId, input.stoppedBy, input.reason],
  );
  return rowCount === 1;
}
