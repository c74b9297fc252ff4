import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repositoryRoot } from '../../config/paths.ts';
import { ContractSchema, parseContractText, type Contract } from '../../contracts/contract.ts';
import { pick, seededRandom } from './seeded-random.ts';

/**
 * The sample customers of the demo and the benchmarks: deterministic profiles (size, plan, regions,
 * rate card) and their contracts, matching the sample rate cards (`ratecards/standard`, USD, and
 * `ratecards/europe`, EUR). The first six have hand-written contracts in `contracts/`.
 */

export type Region = 'us-east-1' | 'eu-west-1';
export type CustomerSize = 'small' | 'medium' | 'large';

export interface DemoCustomer {
  readonly customerId: string;
  readonly ratecard: 'standard' | 'europe';
  readonly currency: 'USD' | 'EUR';
  readonly regions: readonly Region[];
  readonly size: CustomerSize;
  readonly plan: 'starter' | 'pro' | 'enterprise';
}

const NAMES = [
  'acme',
  'globex',
  'initech',
  'umbrella',
  'hooli',
  'soylent',
  'stark',
  'wayne',
  'wonka',
  'tyrell',
  'cyberdyne',
  'aperture',
  'oscorp',
  'massive',
  'vandelay',
  'gringotts',
  'monarch',
  'nakatomi',
  'pied-piper',
  'dunder',
];

/** `count` customers with deterministic profiles; the first six have hand-written contracts in demo/samples/contracts. */
export function demoCustomers(count: number, seed = 1): DemoCustomer[] {
  const random = seededRandom(seed);
  const fixed: DemoCustomer[] = [
    {
      customerId: 'acme',
      ratecard: 'standard',
      currency: 'USD',
      regions: ['us-east-1', 'eu-west-1'],
      size: 'large',
      plan: 'enterprise',
    },
    {
      customerId: 'globex',
      ratecard: 'standard',
      currency: 'USD',
      regions: ['us-east-1'],
      size: 'medium',
      plan: 'pro',
    },
    { customerId: 'initech', ratecard: 'europe', currency: 'EUR', regions: ['eu-west-1'], size: 'medium', plan: 'pro' },
    {
      customerId: 'umbrella',
      ratecard: 'standard',
      currency: 'USD',
      regions: ['us-east-1'],
      size: 'small',
      plan: 'starter',
    },
    {
      customerId: 'hooli',
      ratecard: 'standard',
      currency: 'USD',
      regions: ['eu-west-1', 'us-east-1'],
      size: 'medium',
      plan: 'pro',
    },
    {
      customerId: 'soylent',
      ratecard: 'europe',
      currency: 'EUR',
      regions: ['eu-west-1', 'us-east-1'],
      size: 'large',
      plan: 'enterprise',
    },
  ];
  const customers: DemoCustomer[] = [];
  for (let index = 0; index < count; index += 1) {
    const preset = fixed[index];
    if (preset !== undefined) {
      customers.push(preset);
      continue;
    }
    const europe = random() < 0.3;
    const name = NAMES[index % NAMES.length] ?? 'customer';
    customers.push({
      customerId: index < NAMES.length ? name : `${name}-${index}`,
      ratecard: europe ? 'europe' : 'standard',
      currency: europe ? 'EUR' : 'USD',
      regions: random() < 0.4 ? ['us-east-1', 'eu-west-1'] : [europe ? 'eu-west-1' : 'us-east-1'],
      size: pick(random, ['small', 'medium', 'large'] as const),
      plan: pick(random, ['starter', 'pro', 'enterprise'] as const),
    });
  }
  return customers;
}

/** The hand-written sample contracts, `<customer_id>.yaml`. */
export const SAMPLE_CONTRACTS_DIR = path.join(repositoryRoot, 'demo', 'samples', 'contracts');

const FIXTURE_CONTRACTS = new Set(['acme', 'globex', 'initech', 'umbrella', 'hooli', 'soylent']);
const COMMIT_BY_SIZE: Readonly<Record<CustomerSize, string | undefined>> = {
  small: undefined,
  medium: '500.00',
  large: '2000.00',
};

/**
 * The contract of a sample customer: the hand-written one in demo/samples/contracts for the first
 * six, else terms derived from the profile (a commit by size, a welcome credit, review above a total).
 */
export function demoContract(customer: DemoCustomer): Contract {
  if (FIXTURE_CONTRACTS.has(customer.customerId)) {
    const file = path.join(SAMPLE_CONTRACTS_DIR, `${customer.customerId}.yaml`);
    const parsed = parseContractText(readFileSync(file, 'utf8'), file);
    if (!parsed.ok) throw new Error(`fixture contract ${customer.customerId} is invalid`);
    return parsed.contract;
  }
  const commit = COMMIT_BY_SIZE[customer.size];
  return ContractSchema.parse({
    customer_id: customer.customerId,
    ratecard: customer.ratecard,
    currency: customer.currency,
    starts_at: '2026-10-01T00:00:00Z',
    ...(commit !== undefined ? { commit: { amount: commit } } : {}),
    credits: [{ id: 'welcome', kind: 'promotional', amount: '25.00', granted_at: '2026-09-01T00:00:00Z' }],
    review: { total_above: '10000.00', change_pct_above: '50' },
    provider: { kind: 'stripe', customer: `cus_${customer.customerId.replace(/[^A-Za-z0-9]/g, '_')}` },
  });
}
