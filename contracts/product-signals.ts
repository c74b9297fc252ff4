import { z } from 'zod';
import { decimalText } from './config-fields.ts';
import { parseYamlConfig, type ConfigProblem } from './yaml-config.ts';

/**
 * Product signals (SPEC §10's early warning): usage events of designated SKUs that report how a
 * customer uses the product (integrations enabled, workflow success rate), not what it consumes.
 * They travel as signed usage events like any other, are stored and scored with them, and are never
 * billed: no rate card prices them, and the close does not stop for a person over them
 * (docs/decisions/finops.md, "Early-warning signals").
 *
 * ```yaml
 * signals:
 *   - sku: signals.integrations_enabled
 *     unit: integrations
 *     label: Integrations enabled
 *     higher_is: better        # better | worse: which way is good for the account
 *     change_pct: "25"         # the last 7 days' mean against the 21 days before, either way
 *   - sku: signals.workflow_success_rate
 *     unit: percent
 *     label: Workflow success rate
 *     higher_is: better
 *     change_pct: "5"
 *     alert_below: "95"        # optional: the last 7 days' mean under this is a signal on its own
 * ```
 */

const ProductSignalSchema = z.strictObject({
  sku: z.string().min(1).max(256),
  unit: z.string().min(1, 'unit is 1-32 characters').max(32, 'unit is 1-32 characters'),
  label: z.string().min(1).max(120),
  higher_is: z.enum(['better', 'worse']).default('better'),
  change_pct: decimalText('change_pct'),
  alert_below: decimalText('alert_below').optional(),
  alert_above: decimalText('alert_above').optional(),
});

const ProductSignalsFileSchema = z
  .strictObject({ signals: z.array(ProductSignalSchema).default([]) })
  .superRefine((file, context) => {
    const seen = new Map<string, number>();
    file.signals.forEach((signal, index) => {
      const first = seen.get(signal.sku);
      if (first === undefined) seen.set(signal.sku, index);
      else
        context.addIssue({
          code: 'custom',
          path: ['signals', index, 'sku'],
          message: `signals[${first}] already designates ${signal.sku}; one entry per sku`,
        });
    });
  });

export type ProductSignal = z.output<typeof ProductSignalSchema>;
export type ProductSignals = z.output<typeof ProductSignalsFileSchema>;

export type ParsedProductSignals =
  { readonly ok: true; readonly signals: ProductSignals } | { readonly ok: false; readonly problems: ConfigProblem[] };

export function parseProductSignalsText(text: string, file: string): ParsedProductSignals {
  const parsed = parseYamlConfig(text, file, ProductSignalsFileSchema);
  return parsed.ok ? { ok: true, signals: parsed.value } : parsed;
}

/** Whether usage of `sku` in `unit` is a designated product signal (the same SKU in another unit is not: a mistake shows). */
export function isProductSignal(signals: ProductSignals | undefined, sku: string, unit: string): boolean {
  return signals?.signals.some((signal) => signal.sku === sku && signal.unit === unit) ?? false;
}
