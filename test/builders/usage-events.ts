import { signEvent } from '../../contracts/event-signature.ts';
import type { UnsignedUsageEvent, UsageEvent } from '../../contracts/usage-event.ts';

/** A fixed instant for tests that do not go through JetStream (which stamps real receipt times). */
export const NOW = '2026-10-14T09:30:00.000Z';

export const TEST_SECRET = 'test-secret-0123456789abcdef';

export function buildUnsignedEvent(overrides: Partial<UnsignedUsageEvent> = {}): UnsignedUsageEvent {
  return {
    schema_version: 1,
    event_id: 'evt_01JB6Z2K8Q',
    source: 'api-gateway',
    customer_id: 'acme',
    timestamp: NOW,
    unit: 'tokens',
    quantity: '1520',
    metadata: { sku: 'llm.tokens', region: 'us-east-1', plan: 'pro', marketplace: 'direct' },
    ...overrides,
  };
}

export function buildSignedEvent(overrides: Partial<UnsignedUsageEvent> = {}, secret: string = TEST_SECRET): UsageEvent {
  return signEvent(buildUnsignedEvent(overrides), secret);
}
