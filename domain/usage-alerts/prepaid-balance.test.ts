import { describe, expect, it } from 'vitest';
import type { ContractCredit } from '../../contracts/contract.ts';
import { billingPeriod } from '../period.ts';
import { prepaidBalanceAtPeriodStart, type LedgerCreditBalance } from './prepaid-balance.ts';

const NOVEMBER = billingPeriod('2026-11');

function credit(overrides: Partial<ContractCredit> = {}): ContractCredit {
  return { id: 'prepaid-1', kind: 'prepaid', amount: '2000.00', granted_at: '2026-09-15T00:00:00.000Z', ...overrides };
}

function ledger(
  creditId: string,
  openingBalance: string,
  kind: LedgerCreditBalance['kind'] = 'prepaid',
): LedgerCreditBalance {
  return { creditId, kind, openingBalance };
}

describe('prepaidBalanceAtPeriodStart', () => {
  it.each<{
    name: string;
    contract: ContractCredit[];
    known?: string[];
    usable?: LedgerCreditBalance[];
    expected: string | undefined;
  }>([
    { name: 'no credits: no prepaid basis', contract: [], expected: undefined },
    { name: 'a grant the ledger has not recorded yet counts whole', contract: [credit()], expected: '2000.00' },
    {
      name: 'promotional credits are not prepaid',
      contract: [credit({ id: 'promo', kind: 'promotional' })],
      expected: undefined,
    },
    {
      name: "the ledger's opening balance replaces the grant",
      contract: [credit()],
      known: ['prepaid-1'],
      usable: [ledger('prepaid-1', '1250.00')],
      expected: '1250.00',
    },
    {
      name: 'a used-up grant the ledger knows is not taken from the contract',
      contract: [credit()],
      known: ['prepaid-1'],
      usable: [],
      expected: undefined,
    },
    {
      name: 'ledger and unrecorded grants add up; promotional balances do not',
      contract: [credit(), credit({ id: 'prepaid-2', amount: '500.00', granted_at: '2026-11-10T00:00:00.000Z' })],
      known: ['prepaid-1', 'promo'],
      usable: [ledger('promo', '50.00', 'promotional'), ledger('prepaid-1', '1250.00')],
      expected: '1750.00',
    },
    {
      name: 'a grant made after the period is not usable in it',
      contract: [credit({ granted_at: '2026-12-01T00:00:00.000Z' })],
      expected: undefined,
    },
    {
      name: 'a grant expiring before the period ends is not usable in it',
      contract: [credit({ expires_at: '2026-11-30T23:59:59.000Z' })],
      expected: undefined,
    },
    {
      name: 'a grant expiring at the period end is',
      contract: [credit({ expires_at: '2026-12-01T00:00:00.000Z' })],
      expected: '2000.00',
    },
  ])('$name', ({ contract, known, usable, expected }) => {
    expect(
      prepaidBalanceAtPeriodStart({
        period: NOVEMBER,
        currency: 'USD',
        contractCredits: contract,
        ledgerCreditIds: known ?? [],
        ledgerUsable: usable ?? [],
      }),
    ).toBe(expected);
  });
});
