import path from 'node:path';
import { z } from 'zod';
import { parseAnomalyRoutesText, type AnomalyRoutes } from '../contracts/anomaly-routes.ts';
import { CurrencyCode } from '../contracts/config-fields.ts';
import { ConfigFileError } from '../contracts/yaml-config.ts';
import type { CostVersion } from '../contracts/costs.ts';
import { readConfigText } from './config-files.ts';
import { loadCostVersions } from './cost-files.ts';
import { parseEnv } from './parse-env.ts';
import { repositoryRoot } from './services.ts';

/**
 * Daily anomaly detection in the billing worker (SPEC §10): the Temporal Schedule's time, the unit
 * costs COGS is computed from, and the routing file that says where alerts go.
 */
const AnomalyEnvSchema = z.object({
  /** `on`: the worker keeps the daily schedule in place; `off`: none (the detector still runs on demand). */
  TALLY_ANOMALY_SCHEDULE: z.enum(['on', 'off']).default('on'),
  /** UTC time of day the schedule scans the day before, `HH:MM`. */
  TALLY_ANOMALY_SCHEDULE_AT: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a UTC time of day, HH:MM')
    .default('01:30'),
  /** Finance's unit costs (`<effective_from>.yaml`); empty: no COGS series. */
  TALLY_COSTS_DIR: z.string().default(path.join(repositoryRoot, 'costs')),
  /** The currency COGS is summed in. */
  TALLY_COGS_CURRENCY: CurrencyCode.default('USD'),
  /** The routing file (targets and routes); unset: anomalies are recorded, not alerted. */
  TALLY_ANOMALY_ROUTES: z.string().optional(),
});

export interface AnomalyConfig {
  readonly schedule: { readonly enabled: boolean; readonly hour: number; readonly minute: number };
  readonly costsDir: string | undefined;
  readonly cogsCurrency: string;
  readonly routesFile: string | undefined;
}

export function parseAnomalyEnv(env: NodeJS.ProcessEnv = process.env): AnomalyConfig {
  const parsed = parseEnv(AnomalyEnvSchema, env);
  const [hour, minute] = parsed.TALLY_ANOMALY_SCHEDULE_AT.split(':').map((part) => Number.parseInt(part, 10));
  return {
    schedule: { enabled: parsed.TALLY_ANOMALY_SCHEDULE === 'on', hour: hour ?? 1, minute: minute ?? 30 },
    costsDir: parsed.TALLY_COSTS_DIR === '' ? undefined : parsed.TALLY_COSTS_DIR,
    cogsCurrency: parsed.TALLY_COGS_CURRENCY,
    routesFile: parsed.TALLY_ANOMALY_ROUTES,
  };
}

/** Reads and validates the routing file; a bad one is refused with file, line and field. */
async function loadAnomalyRoutes(file: string): Promise<AnomalyRoutes> {
  const read = await readConfigText(file);
  if (!read.ok) throw new ConfigFileError([read.problem], 'cannot use the anomaly routes');
  const parsed = parseAnomalyRoutesText(read.text, file);
  if (!parsed.ok) throw new ConfigFileError(parsed.problems, 'the anomaly routes are invalid');
  return parsed.routes;
}

/** The files the daily run reads on every run (a new cost version or route counts from the next run). */
export function anomalyDependencies(config: AnomalyConfig): {
  costs?: () => Promise<{ versions: CostVersion[]; currency: string }>;
  routes?: () => Promise<AnomalyRoutes>;
} {
  const { costsDir, routesFile } = config;
  return {
    ...(costsDir === undefined
      ? {}
      : { costs: async () => ({ versions: await loadCostVersions(costsDir), currency: config.cogsCurrency }) }),
    ...(routesFile === undefined ? {} : { routes: () => loadAnomalyRoutes(routesFile) }),
  };
}
