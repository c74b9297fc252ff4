import { z } from 'zod';
import { parseYamlConfig, type ConfigProblem } from './yaml-config.ts';

/**
 * Where anomaly alerts go (SPEC §10): named webhook targets and the routes that pick them by
 * customer, SKU, metric and severity. Every route that matches an anomaly sends it to its target
 * (each target once); a route without a filter matches everything. An anomaly no route matches stays
 * on record (`tally anomalies list`) without an alert.
 *
 * ```yaml
 * targets:
 *   oncall: https://hooks.example.com/oncall
 *   finance: https://hooks.example.com/finance
 * routes:
 *   - { target: oncall, severity: [high] }
 *   - { target: finance, metric: [cogs] }
 *   - { target: finance, customers: [acme], skus: [llm.tokens] }
 * ```
 */

const ANOMALY_SEVERITIES = ['low', 'medium', 'high'] as const;
const ANOMALY_METRICS = ['usage', 'cogs'] as const;

const TargetName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'target names are 1-64 chars of [a-z0-9_-]');

const RouteSchema = z.strictObject({
  target: TargetName,
  customers: z.array(z.string().min(1).max(128)).min(1).optional(),
  skus: z.array(z.string().min(1).max(256)).min(1).optional(),
  metric: z.array(z.enum(ANOMALY_METRICS)).min(1).optional(),
  severity: z.array(z.enum(ANOMALY_SEVERITIES)).min(1).optional(),
});

const AnomalyRoutesSchema = z
  .strictObject({
    targets: z.record(TargetName, z.url({ protocol: /^https?$/, error: 'a target is an http(s) URL' })),
    routes: z.array(RouteSchema).default([]),
  })
  .superRefine((file, context) => {
    file.routes.forEach((route, index) => {
      if (!Object.hasOwn(file.targets, route.target))
        context.addIssue({
          code: 'custom',
          path: ['routes', index, 'target'],
          message: `no target named ${route.target} under targets (${Object.keys(file.targets).join(', ') || 'none'})`,
        });
    });
  });

export type AnomalyRoutes = z.output<typeof AnomalyRoutesSchema>;

export type ParsedAnomalyRoutes =
  { readonly ok: true; readonly routes: AnomalyRoutes } | { readonly ok: false; readonly problems: ConfigProblem[] };

export function parseAnomalyRoutesText(text: string, file: string): ParsedAnomalyRoutes {
  const parsed = parseYamlConfig(text, file, AnomalyRoutesSchema);
  return parsed.ok ? { ok: true, routes: parsed.value } : parsed;
}
