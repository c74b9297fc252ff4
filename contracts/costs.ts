import { createHash } from 'node:crypto';
import { z } from 'zod';
import { CurrencyCode, decimalText, InstantText, MetadataKeyText } from './config-fields.ts';
import { fileStemFor, instantFromFileStem } from './ratecard.ts';
import { parseYamlConfig, type ConfigProblem, type YamlPositions } from './yaml-config.ts';

/**
 * Unit costs (SPEC §10): Finance-owned YAML in `costs/<effective_from>.yaml`, versioned like rate
 * cards. A version is in force from its `effective_from` until the next one; each entry says what one
 * unit of a SKU (optionally narrowed by dimensions) costs in a currency. A cost is a rate, not an
 * amount billed: it may carry more decimals than the currency's minor unit.
 */

const CostEntrySchema = z.strictObject({
  sku: z.string().min(1).max(256),
  dimensions: z.record(MetadataKeyText, z.string().min(1).max(256)).default({}),
  unit: z.string().min(1, 'unit is 1-32 characters').max(32, 'unit is 1-32 characters'),
  unit_cost: decimalText('unit_cost'),
  currency: CurrencyCode,
});

const CostFileShape = z.strictObject({
  effective_from: InstantText,
  note: z.string().max(2000).optional(),
  costs: z.array(CostEntrySchema).min(1, 'a cost version lists at least one cost'),
});

/** The file's shape with its cross-entry rules: one entry per sku, unit, dimensions and currency. */
const CostFileSchema = CostFileShape.superRefine((file, context) => {
  const seen = new Map<string, number>();
  file.costs.forEach((entry, index) => {
    if (Object.hasOwn(entry.dimensions, 'sku'))
      context.addIssue({
        code: 'custom',
        path: ['costs', index, 'dimensions', 'sku'],
        message: "sku is matched by the entry's own sku field, not as a dimension",
      });
    const key = costEntryKey(entry);
    const first = seen.get(key);
    if (first === undefined) seen.set(key, index);
    else
      context.addIssue({
        code: 'custom',
        path: ['costs', index],
        message: `costs[${first}] already gives the cost of ${entry.sku} (${entry.unit}, ${entry.currency}) with the same dimensions; one entry per sku, unit, dimensions and currency`,
      });
  });
});

export interface CostEntry {
  readonly sku: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly unit: string;
  /** Cost of one unit, a decimal string. */
  readonly unit_cost: string;
  readonly currency: string;
}

/** One version of the unit costs, as loaded and validated. */
export interface CostVersion {
  /** UTC, `YYYY-MM-DDTHH:MM:SS.sssZ`. */
  readonly effective_from: string;
  readonly note?: string;
  readonly costs: readonly CostEntry[];
  /** sha256 (hex) of the file's bytes. */
  readonly content_hash: string;
  readonly file: string;
}

export type ParsedCostVersion =
  | { readonly ok: true; readonly version: CostVersion; readonly positions: YamlPositions }
  | { readonly ok: false; readonly problems: ConfigProblem[] };

function costEntryKey(entry: { sku: string; unit: string; currency: string; dimensions: Record<string, string> }) {
  const dimensions = Object.entries(entry.dimensions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([entry.sku, entry.unit, entry.currency, dimensions]);
}

/**
 * Parses one cost version file (`costs/<effective_from>.yaml`). Every problem comes back with file,
 * line and field; the file's name must say the same instant as its `effective_from`.
 */
export function parseCostFileText(text: string, filePath: string): ParsedCostVersion {
  const parsed = parseYamlConfig(text, filePath, CostFileSchema);
  if (!parsed.ok) return parsed;
  const file = parsed.value;
  const base = filePath.split(/[\\/]/).at(-1) ?? '';
  const stem = base.endsWith('.yaml') ? base.slice(0, -'.yaml'.length) : base;
  const problems: ConfigProblem[] = [];
  if (!base.endsWith('.yaml'))
    problems.push(parsed.positions.problemAt([], 'cost files are named <effective_from>.yaml'));
  if (instantFromFileStem(stem) !== file.effective_from)
    problems.push(
      parsed.positions.problemAt(
        ['effective_from'],
        `the file name says ${JSON.stringify(stem)} but effective_from is ${file.effective_from}; name the file ${fileStemFor(file.effective_from)}.yaml`,
      ),
    );
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    version: {
      effective_from: file.effective_from,
      ...(file.note !== undefined ? { note: file.note } : {}),
      costs: file.costs,
      content_hash: createHash('sha256').update(text, 'utf8').digest('hex'),
      file: filePath,
    },
    positions: parsed.positions,
  };
}
