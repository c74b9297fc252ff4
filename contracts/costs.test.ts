import { describe, expect, it } from 'vitest';
import { parseCostFileText } from './costs.ts';
import { formatProblem } from './yaml-config.ts';

const FILE = 'costs/2026-10-01.yaml';

const VALID = `effective_from: 2026-10-01T00:00:00Z
note: October unit costs
costs:
  - { sku: llm.tokens, unit: tokens, unit_cost: "0.0000021", currency: USD }
  - { sku: llm.tokens, unit: tokens, dimensions: { region: eu-west-1 }, unit_cost: "0.0000026", currency: USD }
  - sku: storage.gb
    unit: GB-month
    unit_cost: "0.008"
    currency: EUR
`;

function problems(text: string, file = FILE): string[] {
  const parsed = parseCostFileText(text, file);
  return parsed.ok ? [] : parsed.problems.map(formatProblem);
}

describe('parseCostFileText', () => {
  it('accepts a valid version and normalizes it', () => {
    const parsed = parseCostFileText(VALID, FILE);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.version).toMatchObject({
      effective_from: '2026-10-01T00:00:00.000Z',
      note: 'October unit costs',
      file: FILE,
    });
    expect(parsed.version.costs).toEqual([
      { sku: 'llm.tokens', dimensions: {}, unit: 'tokens', unit_cost: '0.0000021', currency: 'USD' },
      {
        sku: 'llm.tokens',
        dimensions: { region: 'eu-west-1' },
        unit: 'tokens',
        unit_cost: '0.0000026',
        currency: 'USD',
      },
      { sku: 'storage.gb', dimensions: {}, unit: 'GB-month', unit_cost: '0.008', currency: 'EUR' },
    ]);
    expect(parsed.version.content_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    {
      name: 'a unit cost written as a YAML number',
      text: VALID.replace('unit_cost: "0.008"', 'unit_cost: 0.008'),
      expected: [
        'costs/2026-10-01.yaml:8:16 costs[2].unit_cost: unit_cost must be a decimal in quotes, e.g. "0.002" (a YAML number would be a float)',
      ],
    },
    {
      name: 'a negative unit cost',
      text: VALID.replace('"0.0000021"', '"-0.1"'),
      expected: [
        'costs/2026-10-01.yaml:4:49 costs[0].unit_cost: unit_cost must be a non-negative decimal like "1000" or "0.002" (at most 20 digits before the point and 12 after)',
      ],
    },
    {
      name: 'an unknown currency',
      text: VALID.replace('currency: EUR', 'currency: EURO'),
      expected: [
        'costs/2026-10-01.yaml:9:15 costs[2].currency: currency is an ISO 4217 code like "USD"',
        'costs/2026-10-01.yaml:9:15 costs[2].currency: currency has no known minor unit (ISO 4217); Tally cannot round it',
      ],
    },
    {
      name: 'a missing unit',
      text: VALID.replace('    unit: GB-month\n', ''),
      expected: ['costs/2026-10-01.yaml:6:5 costs[2].unit: is required'],
    },
    {
      name: 'an unknown field',
      text: VALID.replace('    currency: EUR', '    currency: EUR\n    price: "1"'),
      expected: ['costs/2026-10-01.yaml:10:5 costs[2].price: unknown field "price"'],
    },
    {
      name: 'two entries for the same sku, unit, dimensions and currency',
      text: `${VALID}  - { sku: llm.tokens, unit: tokens, dimensions: { region: eu-west-1 }, unit_cost: "0.1", currency: USD }\n`,
      expected: [
        'costs/2026-10-01.yaml:10:5 costs[3]: costs[1] already gives the cost of llm.tokens (tokens, USD) with the same dimensions; one entry per sku, unit, dimensions and currency',
      ],
    },
    {
      name: 'a file name that disagrees with effective_from',
      text: VALID,
      file: 'costs/2026-11-01.yaml',
      expected: [
        'costs/2026-11-01.yaml:1:17 effective_from: the file name says "2026-11-01" but effective_from is 2026-10-01T00:00:00.000Z; name the file 2026-10-01.yaml',
      ],
    },
  ])('refuses $name with file, line and field', ({ text, file, expected }) => {
    expect(problems(text, file)).toEqual(expected);
  });
});
