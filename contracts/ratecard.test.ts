import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkRateCardHistory, fileStemFor, parseRateCardText, type LocatedRateCardVersion } from './ratecard.ts';
import { formatProblem } from './yaml-config.ts';

const FILE = 'ratecards/standard/2026-10-01.yaml';

/** A valid card; each case below breaks one line of it. */
const VALID = `ratecard: standard
effective_from: 2026-10-01T00:00:00Z
currency: USD
note: Launch prices
prices:
  - id: tokens-us
    sku: llm.tokens
    unit: tokens
    dimensions: { region: us-east-1 }
    aggregation: sum
    package_size: "1000"
    package_rounding: up
    model: graduated
    tiers:
      - { up_to: "1000", unit_price: "0.10", flat_fee: "0" }
      - { up_to: "10000", unit_price: "0.05" }
      - { up_to: null, unit_price: "0.01" }
  - id: users
    sku: app.active_users
    unit: users
    aggregation: unique_count
    unique_by: user_id
    model: per_unit
    unit_price: "2.00"
fees:
  - { id: platform, description: Platform fee, amount: "500.00" }
discounts:
  - { id: launch-10, percent: "10", applies_to: [tokens-us] }
`;

function problems(text: string, file = FILE): string[] {
  const parsed = parseRateCardText(text, file);
  return parsed.ok ? [] : parsed.problems.map(formatProblem);
}

describe('parseRateCardText', () => {
  it('accepts the spec example and normalizes it', () => {
    const parsed = parseRateCardText(VALID, FILE);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.version).toMatchObject({
      ratecard: 'standard',
      effective_from: '2026-10-01T00:00:00.000Z',
      currency: 'USD',
      file: FILE,
      content_hash: createHash('sha256').update(Buffer.from(VALID, 'utf8')).digest('hex'),
    });
    expect(parsed.version.prices[0]).toMatchObject({
      model: 'graduated',
      package_rounding: 'up',
      tiers: [{ flat_fee: '0' }, { flat_fee: '0' }, { up_to: null }],
    });
    expect(parsed.version.prices[1]).toMatchObject({ model: 'per_unit', unit_price: '2.00', dimensions: {} });
  });

  it('hashes the exact bytes: any edit changes the hash', () => {
    const a = parseRateCardText(VALID, FILE);
    const b = parseRateCardText(`${VALID}# a comment\n`, FILE);
    expect(a.ok && b.ok && a.version.content_hash !== b.version.content_hash).toBe(true);
  });

  // Each case: the edit, and the `file:line:column field: message` it must produce (a fragment of it).
  it.each([
    [
      'a tier bound that does not increase',
      ['up_to: "10000", unit_price: "0.05"', 'up_to: "1000", unit_price: "0.05"'],
      `${FILE}:16:18 prices[0].tiers[1].up_to: tier bounds must increase: 1000 is not above the previous tier's 1000`,
    ],
    [
      'a last tier with a bound',
      ['{ up_to: null, unit_price: "0.01" }', '{ up_to: "20000", unit_price: "0.01" }'],
      `${FILE}:17:18 prices[0].tiers[2].up_to: the last tier has up_to: null`,
    ],
    [
      'a middle tier without a bound',
      ['{ up_to: "10000", unit_price: "0.05" }', '{ up_to: null, unit_price: "0.05" }'],
      `${FILE}:16:18 prices[0].tiers[1].up_to: only the last tier may have up_to: null`,
    ],
    [
      'a price as a YAML number (a float)',
      ['unit_price: "2.00"', 'unit_price: 2.00'],
      `${FILE}:24:17 prices[1].unit_price: unit_price must be a decimal in quotes, e.g. "0.002" (a YAML number would be a float)`,
    ],
    [
      'a negative or malformed amount',
      ['amount: "500.00"', 'amount: "-5"'],
      `${FILE}:26:56 fees[0].amount: amount must be a non-negative decimal`,
    ],
    [
      'an amount finer than the currency',
      ['amount: "500.00"', 'amount: "500.005"'],
      `${FILE}:26:56 fees[0].amount: 500.005 has more decimals than USD has minor units (2)`,
    ],
    [
      'a discount naming an unknown price',
      ['applies_to: [tokens-us]', 'applies_to: [tokens-us, tokens-eu]'],
      `${FILE}:28:61 discounts[0].applies_to[1]: unknown price id "tokens-eu"`,
    ],
    [
      'unique_count without unique_by',
      ['    unique_by: user_id\n', ''],
      `${FILE}:18:5 prices[1].unique_by: unique_count needs unique_by`,
    ],
    [
      'unique_by on another aggregation',
      ['aggregation: sum', 'aggregation: sum\n    unique_by: user_id'],
      `${FILE}:11:16 prices[0].unique_by: unique_by applies to unique_count only`,
    ],
    [
      'an unknown currency',
      ['currency: USD', 'currency: XYZ'],
      `${FILE}:3:11 currency: currency has no known minor unit (ISO 4217)`,
    ],
    [
      'a misspelled field',
      ['package_rounding: up', 'package_roundin: up'],
      `${FILE}:12:5 prices[0].package_roundin: unknown field "package_roundin"`,
    ],
    [
      'an unknown aggregation',
      ['aggregation: sum', 'aggregation: average'],
      `${FILE}:10:18 prices[0].aggregation: Invalid option`,
    ],
    ['a missing field', ['    sku: llm.tokens\n', ''], `${FILE}:6:5 prices[0].sku: is required`],
    [
      'a file name that differs from effective_from',
      ['effective_from: 2026-10-01T00:00:00Z', 'effective_from: 2026-10-02T00:00:00Z'],
      `${FILE}:2:17 effective_from: the file name says "2026-10-01" but effective_from is 2026-10-02T00:00:00.000Z; name the file 2026-10-02.yaml`,
    ],
    [
      'a folder that differs from the card name',
      ['ratecard: standard', 'ratecard: europe'],
      `${FILE}:1:11 ratecard: the file is in folder "standard" but says ratecard: europe`,
    ],
    ['a YAML syntax error', ['    model: graduated\n', '    model: [graduated\n'], `${FILE}:14:`],
    [
      'a duplicate key',
      ['    model: graduated\n', '    model: graduated\n    model: volume\n'],
      `${FILE}:14:5 (yaml): Map keys must be unique`,
    ],
  ])('refuses %s, naming file, line and field', (_name, [from, to], expected) => {
    expect(VALID.includes(from as string)).toBe(true);
    expect(problems(VALID.replace(from as string, to as string)).join('\n')).toContain(expected);
  });

  it('refuses overlapping prices of equal specificity (rule 2), and accepts disjoint or more specific ones', () => {
    const card = (dimensionsA: string, dimensionsB: string): string => `ratecard: standard
effective_from: 2026-10-01T00:00:00Z
currency: USD
prices:
  - { id: a, sku: llm.tokens, unit: tokens, dimensions: ${dimensionsA}, aggregation: sum, model: per_unit, unit_price: "1" }
  - { id: b, sku: llm.tokens, unit: tokens, dimensions: ${dimensionsB}, aggregation: sum, model: per_unit, unit_price: "2" }
`;
    expect(problems(card('{ region: us-east-1 }', '{ plan: pro }')).join('\n')).toContain(
      `${FILE}:6:57 prices[1].dimensions: prices "a" and "b" (sku llm.tokens, 1 dimension key each) could both match the same event`,
    );
    expect(problems(card('{ region: us-east-1 }', '{ region: us-east-1 }'))).toHaveLength(1);
    expect(problems(card('{}', '{}'))).toHaveLength(1);
    expect(problems(card('{ region: us-east-1 }', '{ region: eu-west-1 }'))).toEqual([]);
    expect(problems(card('{ region: us-east-1, plan: pro }', '{ region: eu-west-1, plan: pro }'))).toEqual([]);
    expect(problems(card('{ region: us-east-1 }', '{ region: us-east-1, plan: pro }'))).toEqual([]);
  });

  it('refuses one sku priced in two units, and ids used twice', () => {
    const text = `ratecard: standard
effective_from: 2026-10-01T00:00:00Z
currency: USD
prices:
  - { id: a, sku: llm.tokens, unit: tokens, aggregation: sum, model: per_unit, unit_price: "1" }
  - { id: b, sku: llm.tokens, unit: token, dimensions: { region: x }, aggregation: sum, model: per_unit, unit_price: "2" }
fees:
  - { id: a, description: Fee, amount: "1.00" }
`;
    expect(problems(text)).toEqual([
      `${FILE}:8:11 fees[0].id: id "a" is already used by prices[0]; ids are unique across prices, fees and discounts`,
      `${FILE}:6:37 prices[1].unit: sku llm.tokens is priced in "tokens" by prices[0] but in "token" here; one sku has one unit`,
    ]);
  });

  it('takes marketplace dimensions on additive per_unit prices, with their listing unit', () => {
    const text = `ratecard: standard
effective_from: 2026-10-01T00:00:00Z
currency: USD
prices:
  - { id: tokens, sku: llm.tokens, unit: tokens, aggregation: sum, model: per_unit, unit_price: "0.002", marketplace_dimension: tokens, marketplace_unit_size: "1000" }
  - { id: jobs, sku: batch.jobs, unit: jobs, aggregation: count, model: per_unit, unit_price: "0.5", marketplace_dimension: jobs }
`;
    const parsed = parseRateCardText(text, FILE);
    expect(
      parsed.ok && parsed.version.prices.map((price) => [price.marketplace_dimension, price.marketplace_unit_size]),
    ).toEqual([
      ['tokens', '1000'],
      ['jobs', '1'],
    ]);
  });

  it('refuses marketplace dimensions that would not add up hour by hour, or disagree on their unit', () => {
    const text = `ratecard: standard
effective_from: 2026-10-01T00:00:00Z
currency: USD
prices:
  - { id: peak, sku: storage.gb, unit: GB, aggregation: max, model: per_unit, unit_price: "1", marketplace_dimension: storage }
  - { id: tiered, sku: llm.tokens, unit: tokens, aggregation: sum, model: graduated, tiers: [{ up_to: null, unit_price: "1" }], marketplace_dimension: tokens }
  - { id: more, sku: llm.tokens, unit: tokens, dimensions: { region: eu }, aggregation: sum, model: per_unit, unit_price: "1", marketplace_dimension: tokens, marketplace_unit_size: "1000" }
  - { id: plain, sku: db.queries, unit: queries, aggregation: sum, model: per_unit, unit_price: "1", marketplace_unit_size: "0" }
`;
    expect(problems(text)).toEqual([
      `${FILE}:5:57 prices[0].aggregation: a price reported to a marketplace aggregates by sum or count (hourly buckets add up); max does not`,
      `${FILE}:6:75 prices[1].model: a price reported to a marketplace is per_unit: the listing bills each dimension unit at one rate (not graduated)`,
      `${FILE}:8:125 prices[3].marketplace_unit_size: marketplace_unit_size needs a marketplace_dimension`,
      `${FILE}:7:151 prices[2].marketplace_dimension: marketplace dimension tokens is reported in "tokens" with marketplace_unit_size 1 by prices[1]; every price reported under one dimension has the same unit and unit size`,
    ]);
  });

  it('accepts an instant file name for versions that do not start at midnight', () => {
    const text = VALID.replace('effective_from: 2026-10-01T00:00:00Z', 'effective_from: 2026-10-16T12:00:00Z');
    expect(problems(text, 'ratecards/standard/2026-10-16T12:00:00Z.yaml')).toEqual([]);
    expect(fileStemFor('2026-10-16T12:00:00.000Z')).toBe('2026-10-16T12:00:00Z');
    expect(fileStemFor('2026-10-16T00:00:00.000Z')).toBe('2026-10-16');
  });
});

describe('checkRateCardHistory', () => {
  const located = (text: string, file: string): LocatedRateCardVersion => {
    const parsed = parseRateCardText(text, file);
    if (!parsed.ok) throw new Error(parsed.problems.map(formatProblem).join('\n'));
    return { version: parsed.version, positions: parsed.positions };
  };
  const next = (edit: (text: string) => string): LocatedRateCardVersion =>
    located(
      edit(VALID.replace('effective_from: 2026-10-01T00:00:00Z', 'effective_from: 2026-10-16T00:00:00Z')),
      'ratecards/standard/2026-10-16.yaml',
    );

  it('accepts new prices and changed prices, tiers and models', () => {
    const later = next((text) =>
      text
        .replace('unit_price: "0.10"', 'unit_price: "0.09"')
        .replace(
          'model: per_unit\n    unit_price: "2.00"',
          'model: volume\n    tiers:\n      - { up_to: null, unit_price: "1.50" }',
        ),
    );
    expect(checkRateCardHistory([located(VALID, FILE), later])).toEqual([]);
  });

  it.each([
    [
      'unit',
      (text: string) => text.replace('unit: tokens', 'unit: token'),
      'ratecards/standard/2026-10-16.yaml:8:11 prices[0].unit: price "tokens-us" has unit "tokens" in ratecards/standard/2026-10-01.yaml',
    ],
    [
      'aggregation',
      (text: string) => text.replace('aggregation: sum', 'aggregation: max'),
      'prices[0].aggregation: price "tokens-us" has aggregation "sum"',
    ],
    [
      'package size',
      (text: string) => text.replace('package_size: "1000"', 'package_size: "100"'),
      'prices[0].package_size: price "tokens-us" has package_size "1000"',
    ],
    [
      'currency',
      (text: string) => text.replace('currency: USD', 'currency: EUR'),
      'currency: the currency of a rate card cannot change between versions',
    ],
  ])("refuses a later version that changes a price id's %s", (_name, edit, expected) => {
    expect(
      checkRateCardHistory([located(VALID, FILE), next(edit)])
        .map(formatProblem)
        .join('\n'),
    ).toContain(expected);
  });
});
