import { describe, expect, it } from 'vitest';
import { Decimal } from '../money.ts';
import { armByHash, assignArms, hashFraction } from './assignment.ts';

describe('assignArms', () => {
  const customers = Array.from({ length: 400 }, (_, index) => `customer-${String(index).padStart(3, '0')}`);

  it('is deterministic and independent of order and of the other contracts', () => {
    const rule = { kind: 'hash' as const, seed: 'exp-1', variantShare: new Decimal('0.5') };
    const once = assignArms(customers, rule);
    const shuffled = assignArms([...customers].reverse(), rule);
    expect(shuffled).toEqual(once);
    const fewer = assignArms(customers.slice(0, 50), rule);
    expect(fewer).toEqual(once.slice(0, 50));
  });

  it('puts about the share in the variant, and another seed gives other cohorts', () => {
    const variant = (seed: string, share: string) =>
      assignArms(customers, { kind: 'hash', seed, variantShare: new Decimal(share) }).filter(
        (entry) => entry.arm === 'variant',
      );
    // 400 draws at p = 0.5: 200 ± 3σ (σ = 10).
    expect(variant('exp-1', '0.5').length).toBeGreaterThan(170);
    expect(variant('exp-1', '0.5').length).toBeLessThan(230);
    expect(variant('exp-1', '0.2').length).toBeLessThan(variant('exp-1', '0.5').length);
    expect(variant('exp-1', '0').length).toBe(0);
    expect(variant('exp-1', '1').length).toBe(400);
    expect(variant('exp-2', '0.5')).not.toEqual(variant('exp-1', '0.5'));
  });

  it('a larger share only adds contracts to the variant (nobody moves back)', () => {
    const small = new Set(
      assignArms(customers, { kind: 'hash', seed: 's', variantShare: new Decimal('0.3') })
        .filter((entry) => entry.arm === 'variant')
        .map((entry) => entry.customerId),
    );
    for (const id of small) expect(armByHash('s', new Decimal('0.6'), id)).toBe('variant');
  });

  it('reads the hash as a fraction of 1 (sha256 prefix / 16^13)', () => {
    const fraction = hashFraction('seed', 'acme');
    expect(fraction.greaterThanOrEqualTo(0) && fraction.lessThan(1)).toBe(true);
    expect(hashFraction('seed', 'acme').equals(fraction)).toBe(true);
  });

  it('with a list: exactly the named contracts in the variant, the other eligible ones in the control', () => {
    expect(assignArms(['c', 'a', 'b'], { kind: 'list', variantCustomers: ['b'] })).toEqual([
      { customerId: 'a', arm: 'control' },
      { customerId: 'b', arm: 'variant' },
      { customerId: 'c', arm: 'control' },
    ]);
  });
});
