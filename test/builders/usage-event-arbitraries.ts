import fc from 'fast-check';
import type { UnsignedUsageEvent } from '../../contracts/usage-event.ts';
import { UnsignedUsageEventSchema } from '../../contracts/usage-event.ts';

/** Any valid unsigned event of schema version 1 (fast-check), including odd but legal values. */
export const unsignedEventArbitrary: fc.Arbitrary<UnsignedUsageEvent> = fc
  .record({
    schema_version: fc.constant(1 as const),
    event_id: fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/),
    source: fc.stringMatching(/^[a-z0-9._-]{1,64}$/),
    customer_id: fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/),
    timestamp: fc
      .tuple(
        fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true }),
        fc.constantFrom('Z', '+00:00', '+05:30', '-08:00'),
      )
      .map(([date, offset]) => date.toISOString().replace('Z', offset)),
    unit: fc.string({ minLength: 1, maxLength: 32, unit: 'grapheme' }),
    quantity: fc.stringMatching(/^\d{1,20}(\.\d{1,12})?$/),
    metadata: fc
      .tuple(
        fc.string({ minLength: 1, maxLength: 256 }),
        fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,63}$/), fc.string({ maxLength: 256, unit: 'grapheme' }), {
          maxKeys: 31,
        }),
      )
      .map(([sku, rest]) => ({ ...rest, sku })),
  })
  .filter((event) => UnsignedUsageEventSchema.safeParse(event).success);
