import { describe, expect, it } from 'vitest';
import { verifySignature } from '../../contracts/event-signature.ts';
import { UsageEventSchema } from '../../contracts/usage-event.ts';
import { contractToYaml, parseContractText } from '../../contracts/contract.ts';
import { TEST_SOURCE_KEYS } from '../../test/builders/usage-event.ts';
import { demoContract, demoCustomers } from './sample-customers.ts';
import { generateUsageEvents, usageEventCount } from './sample-usage.ts';
import { seededRandom } from './seeded-random.ts';

describe('the usage generator', () => {
  const options = {
    customers: demoCustomers(20),
    period: '2026-10',
    seed: 3,
    scale: 0.1,
    duplicateEvery: 40,
    unpricedPerCustomer: 2,
    keys: TEST_SOURCE_KEYS,
  };

  it('is deterministic: the same options give the same events, byte for byte', () => {
    expect(JSON.stringify(generateUsageEvents(options))).toBe(JSON.stringify(generateUsageEvents(options)));
    expect(JSON.stringify(generateUsageEvents({ ...options, seed: 4 }))).not.toBe(
      JSON.stringify(generateUsageEvents(options)),
    );
    const [a, b] = [seededRandom(1), seededRandom(1)];
    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
  });

  it('makes valid, signed events of 20 customers inside the period, with the duplicates and unpriced events asked for', () => {
    const events = generateUsageEvents(options);
    const customers = new Set(events.map((event) => event.customer_id));
    expect(customers.size).toBe(20);
    for (const event of events) {
      expect(UsageEventSchema.safeParse(event).success).toBe(true);
      expect(verifySignature(event, TEST_SOURCE_KEYS[event.source as keyof typeof TEST_SOURCE_KEYS])).toBe(true);
      expect(event.timestamp >= '2026-10-01T00:00:00.000Z' && event.timestamp < '2026-11-01T00:00:00.000Z').toBe(true);
    }
    const keys = events.map((event) => `${event.source}:${event.event_id}`);
    const duplicates = keys.length - new Set(keys).size;
    expect(duplicates).toBe(Math.floor(new Set(keys).size / 40)); // every 40th event is sent twice
    expect(
      new Set(events.filter((event) => event.metadata.sku === 'llm.images').map((event) => event.event_id)).size,
    ).toBe(20 * 2);
  });

  it('counts the events it will emit for a customer without generating them', () => {
    for (const customer of demoCustomers(8, 5)) {
      for (const scale of [0.1, 0.37, 1, 2.5]) {
        const generated = generateUsageEvents({
          customers: [customer],
          period: '2026-02',
          seed: 9,
          scale,
          unpricedPerCustomer: 3,
          keys: TEST_SOURCE_KEYS,
        });
        expect(usageEventCount(customer, { period: '2026-02', scale, unpricedPerCustomer: 3 })).toBe(generated.length);
      }
    }
  });

  it('gives every demo customer a valid contract on the card that prices its usage', () => {
    for (const customer of demoCustomers(20)) {
      const contract = demoContract(customer);
      expect(contract).toMatchObject({
        customer_id: customer.customerId,
        ratecard: customer.ratecard,
        currency: customer.currency,
      });
      const reparsed = parseContractText(contractToYaml(contract), `${customer.customerId}.yaml`);
      expect(reparsed.ok && reparsed.contract).toEqual(contract);
    }
  });
});
