import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ConfigId, RateCardName } from './config-fields.ts';
import { NON_NEGATIVE_DECIMAL_PATTERN } from './patterns.ts';
import { PERIOD_NAME_PATTERN } from './period-name.ts';

/**
 * A live pricing experiment (SPEC §10) as `pricing_experiments` stores it and the CLI prints it: which
 * contracts of the base card move to the variant card from which period, by which rule. Checked when
 * a row is read (convention 2: our own rows too).
 */

const AssignmentRuleSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('hash'),
    seed: z.string().min(1).max(128),
    /** The share of eligible contracts in the variant, a decimal in [0, 1]. */
    variant_share: z
      .string()
      .regex(NON_NEGATIVE_DECIMAL_PATTERN)
      .refine((text) => /^(0(\.\d+)?|1(\.0+)?)$/.test(text), 'variant_share is a decimal from 0 to 1'),
  }),
  z.strictObject({ kind: z.literal('list'), variant_customers: z.array(z.string().min(1)).min(1) }),
]);
export type AssignmentRule = z.infer<typeof AssignmentRuleSchema>;

export const PricingExperimentSchema = z.strictObject({
  experiment_id: ConfigId,
  base_ratecard: RateCardName,
  variant_ratecard: RateCardName,
  currency: z.string().length(3),
  start_period: z.string().regex(PERIOD_NAME_PATTERN),
  rule: AssignmentRuleSchema,
  status: z.enum(['running', 'stopped']),
  reason: z.string(),
  created_by: z.string(),
  created_at: z.string(),
  stopped_by: z.string().nullable(),
  stopped_at: z.string().nullable(),
  stop_reason: z.string().nullable(),
});
export type PricingExperiment = z.infer<typeof PricingExperimentSchema>;

export const ExperimentAssignmentSchema = z.strictObject({
  experiment_id: z.string(),
  customer_id: z.string(),
  arm: z.enum(['variant', 'control']),
  /** The contract publication in force when the contract was assigned, and the one the experiment published (variant only). */
  contract_hash_before: z.string(),
  contract_hash_variant: z.string().nullable(),
});
export type ExperimentAssignment = z.infer<typeof ExperimentAssignmentSchema>;

/**
 * The first 13 hex digits (52 bits) of sha256(`<seed>\0<customer id>`): the number a contract's arm is
 * drawn from (domain/pricing-experiments assignment.ts). Anyone can recompute it from the recorded seed.
 */
export function assignmentHashHex(seed: string, customerId: string): string {
  return createHash('sha256').update(`${seed}\u0000${customerId}`, 'utf8').digest('hex').slice(0, 13);
}
