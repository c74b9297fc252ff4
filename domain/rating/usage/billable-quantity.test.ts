import { describe, expect, it } from 'vitest';
import type { PackageRounding } from '../../../contracts/ratecard.ts';
import { Decimal } from '../../money.ts';
import { billableBySegment, billableQuantity } from './billable-quantity.ts';

describe('billable quantity (rule 4)', () => {
  it.each([
    // quantity, package_size, rounding, billable
    ['2500', undefined, undefined, '2500'],
    ['2500', '1000', 'up', '3'],
    ['2500', '1000', 'down', '2'],
    ['2500', '1000', 'none', '2.5'],
    ['2000', '1000', 'up', '2'], // exactly whole packages: no extra package
    ['2000', '1000', 'down', '2'],
    ['0', '1000', 'up', '0'],
    ['1', '1000', 'up', '1'],
    ['1', '1000', 'down', '0'],
    ['0.000000000001', '1000', 'up', '1'],
    ['3', '0.5', 'up', '6'],
    ['1000', '3', 'up', '334'],
    ['1000', '3', 'down', '333'],
  ] as const)('%s with package %s rounded %s → %s', (quantity, size, rounding, billable) => {
    expect(billableQuantity(new Decimal(quantity), size, rounding as PackageRounding | undefined).toString()).toBe(
      billable,
    );
  });

  it("rounds the cumulative usage, not each version's part: 700 + 800 in packages of 1000, up → 1 + 1 = ⌈1.5⌉", () => {
    const parts = (rounding: PackageRounding): string[] =>
      billableBySegment([new Decimal(700), new Decimal(800)], '1000', rounding).map(String);
    expect(parts('up')).toEqual(['1', '1']);
    expect(parts('down')).toEqual(['0', '1']);
    expect(parts('none')).toEqual(['0.7', '0.8']);
    expect(billableBySegment([new Decimal(0), new Decimal(0)], '1000', 'up').map(String)).toEqual(['0', '0']);
    expect(billableBySegment([new Decimal(5), new Decimal(7)], undefined, undefined).map(String)).toEqual(['5', '7']);
  });
});
