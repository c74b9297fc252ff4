import { z } from 'zod';
import { durationMsFromEnv, parseEnv } from './parse-env.ts';

/**
 * Revenue recognition's settings shared by the billing worker (the daily schedule) and `tally
 * revenue run` (the same step by hand), so both accrue the same way.
 */
export const RevenueEnvSchema = z.object({
  /**
   * The month-end accrual's latency window: usage stored up to this long after a period's end is in
   * its accrual; usage stored later trues it up (SPEC §11). `24h` by default.
   */
  TALLY_REVENUE_ACCRUAL_LATENCY: durationMsFromEnv.default(86_400_000),
});

export interface RevenueConfig {
  readonly accrualLatencyMs: number;
}

export function parseRevenueEnv(env: Record<string, string | undefined> = process.env): RevenueConfig {
  return { accrualLatencyMs: parseEnv(RevenueEnvSchema, env).TALLY_REVENUE_ACCRUAL_LATENCY };
}
