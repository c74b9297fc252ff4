import type { CostEntry, CostVersion } from '../../contracts/costs.ts';

/** What a unit cost is looked up for: one SKU's usage in one unit and currency, with its dimensions. */
export interface CostedUsage {
  readonly sku: string;
  readonly unit: string;
  readonly currency: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

/**
 * The cost version in force at `instant` (UTC ISO text): the latest whose effective_from is at or
 * before it; undefined before the first version. `versions` sorted by effective_from.
 */
export function costVersionAt(versions: readonly CostVersion[], instant: string): CostVersion | undefined {
  let found: CostVersion | undefined;
  for (const version of versions) {
    if (version.effective_from <= instant) found = version;
    else break;
  }
  return found;
}

/**
 * The entry that prices `usage` in `version`: same sku, unit and currency, every dimension of the
 * entry equal to the usage's, and of those the one with the most dimension keys (an entry without
 * dimensions is the SKU's default). Undefined when none matches: the usage is uncosted.
 *
 * Example: entries `llm.tokens` (0.0000021) and `llm.tokens {region: eu-west-1}` (0.0000026); usage
 * in eu-west-1 costs 0.0000026 per token, usage in us-east-1 0.0000021.
 */
export function unitCostFor(version: CostVersion, usage: CostedUsage): CostEntry | undefined {
  let best: CostEntry | undefined;
  let bestKeys = -1;
  for (const entry of version.costs) {
    if (entry.sku !== usage.sku || entry.unit !== usage.unit || entry.currency !== usage.currency) continue;
    const keys = Object.entries(entry.dimensions);
    if (!keys.every(([key, value]) => usage.dimensions[key] === value)) continue;
    if (keys.length > bestKeys) {
      best = entry;
      bestKeys = keys.length;
    }
  }
  return best;
}
