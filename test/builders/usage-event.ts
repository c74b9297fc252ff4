import { signEvent } from '../../contracts/event-signature.ts';
import type { UnsignedUsageEvent, UsageEvent } from '../../contracts/usage-event.ts';

/** Builders of single usage events, with sensible defaults and overrides. */

/** A signing secret for tests that sign with one key. */
export const TEST_SECRET = 'test-secret-0123456789abcdef';

export const TEST_SOURCE_KEYS = {
  'api-gateway': 'test-secret-api-gateway-000000001',
  'storage-meter': 'test-secret-storage-meter-000001',
  'job-runner': 'test-secret-job-runner-0000000001',
  'auth-service': 'test-secret-auth-service-00000001',
} as const satisfies Record<string, string>;

let eventCounter = 0;

/** An unsigned event; ids count up unless given. */
export function buildUnsignedEvent(overrides: Partial<UnsignedUsageEvent> = {}): UnsignedUsageEvent {
  eventCounter += 1;
  return {
    schema_version: 1,
    event_id: `evt-${String(eventCounter).padStart(6, '0')}`,
    source: 'api-gateway',
    customer_id: 'acme',
    timestamp: '2026-10-14T09:30:00.000Z',
    unit: 'tokens',
    quantity: '1000',
    metadata: { sku: 'llm.tokens', region: 'us-east-1' },
    ...overrides,
  };
}

/** A signed event (the source's key from TEST_SOURCE_KEYS). */
export function buildUsageEvent(overrides: Partial<UnsignedUsageEvent> = {}): UsageEvent {
  const event = buildUnsignedEvent(overrides);
  const secret = (TEST_SOURCE_KEYS as Record<string, string>)[event.source] ?? 'test-secret-unknown-source-000001';
  return signEvent(event, secret);
}

/** A signed event, with one given secret. */
export function buildSignedEvent(
  overrides: Partial<UnsignedUsageEvent> = {},
  secret: string = TEST_SECRET,
): UsageEvent {
  return signEvent(buildUnsignedEvent(overrides), secret);
}
