/**
 * One broken event per rule of the SPEC §1 table: `mutate` takes a valid (signed or unsigned) event
 * object and returns it broken; `path` is the field the rejection must name.
 */
export interface SchemaViolationCase {
  readonly rule: string;
  readonly path: string;
  readonly mutate: (event: Record<string, unknown>) => Record<string, unknown>;
}

const set = (field: string, value: unknown) => (event: Record<string, unknown>) => ({ ...event, [field]: value });
const without = (field: string) => (event: Record<string, unknown>) => {
  const { [field]: _removed, ...rest } = event;
  return rest;
};
const setMetadata = (metadata: unknown) => (event: Record<string, unknown>) => ({ ...event, metadata });

export const SCHEMA_VIOLATIONS: readonly SchemaViolationCase[] = [
  { rule: 'schema_version is the number 1, not 2', path: 'schema_version', mutate: set('schema_version', 2) },
  {
    rule: 'schema_version is the number 1, not the string "1"',
    path: 'schema_version',
    mutate: set('schema_version', '1'),
  },
  { rule: 'schema_version is required', path: 'schema_version', mutate: without('schema_version') },
  { rule: 'event_id has at least 1 char', path: 'event_id', mutate: set('event_id', '') },
  { rule: 'event_id has at most 128 chars', path: 'event_id', mutate: set('event_id', 'e'.repeat(129)) },
  { rule: 'event_id is [A-Za-z0-9._:-]', path: 'event_id', mutate: set('event_id', 'evt/1') },
  { rule: 'source has at least 1 char', path: 'source', mutate: set('source', '') },
  { rule: 'source has at most 64 chars', path: 'source', mutate: set('source', 's'.repeat(65)) },
  { rule: 'source is [a-z0-9._-] (no capitals)', path: 'source', mutate: set('source', 'Api-Gateway') },
  { rule: 'customer_id has at most 128 chars', path: 'customer_id', mutate: set('customer_id', 'c'.repeat(129)) },
  { rule: 'customer_id is [A-Za-z0-9._:-] (no spaces)', path: 'customer_id', mutate: set('customer_id', 'acme corp') },
  { rule: 'customer_id is required', path: 'customer_id', mutate: without('customer_id') },
  { rule: 'timestamp carries an offset', path: 'timestamp', mutate: set('timestamp', '2026-10-14T09:30:00') },
  { rule: 'timestamp is RFC 3339', path: 'timestamp', mutate: set('timestamp', '14/10/2026 09:30') },
  { rule: 'timestamp is a real date', path: 'timestamp', mutate: set('timestamp', '2026-02-30T00:00:00Z') },
  { rule: 'timestamp is a string', path: 'timestamp', mutate: set('timestamp', 1791970200000) },
  { rule: 'unit has at least 1 char', path: 'unit', mutate: set('unit', '') },
  { rule: 'unit has at most 32 chars', path: 'unit', mutate: set('unit', 'u'.repeat(33)) },
  { rule: 'unit holds no U+0000', path: 'unit', mutate: set('unit', 'tok\u0000ens') },
  { rule: 'quantity is a string, never a JSON number', path: 'quantity', mutate: set('quantity', 1520) },
  { rule: 'quantity has no exponent', path: 'quantity', mutate: set('quantity', '1e3') },
  { rule: 'quantity is not negative', path: 'quantity', mutate: set('quantity', '-1') },
  { rule: 'quantity has at most 20 integer digits', path: 'quantity', mutate: set('quantity', '1'.repeat(21)) },
  { rule: 'quantity has at most 12 decimals', path: 'quantity', mutate: set('quantity', '1.1234567890123') },
  { rule: 'quantity has an integer part', path: 'quantity', mutate: set('quantity', '.5') },
  { rule: 'metadata is an object', path: 'metadata', mutate: setMetadata(['sku']) },
  {
    rule: 'metadata has at most 32 keys',
    path: 'metadata',
    mutate: setMetadata(
      Object.fromEntries([['sku', 'x'], ...Array.from({ length: 32 }, (_, index) => [`k${index}`, 'v'])]),
    ),
  },
  {
    rule: 'metadata keys match ^[a-z][a-z0-9_]{0,63}$',
    path: 'metadata',
    mutate: setMetadata({ sku: 'x', Region: 'us' }),
  },
  {
    rule: 'metadata keys are at most 64 chars',
    path: 'metadata',
    mutate: setMetadata({ sku: 'x', ['k'.repeat(65)]: 'v' }),
  },
  {
    rule: 'metadata values are at most 256 chars',
    path: 'metadata.region',
    mutate: setMetadata({ sku: 'x', region: 'r'.repeat(257) }),
  },
  { rule: 'metadata values are strings', path: 'metadata.region', mutate: setMetadata({ sku: 'x', region: 1 }) },
  { rule: 'metadata.sku is required', path: 'metadata.sku', mutate: setMetadata({ region: 'us-east-1' }) },
  { rule: 'metadata.sku is not empty', path: 'metadata.sku', mutate: setMetadata({ sku: '' }) },
  {
    rule: 'signature is v1= and lowercase hex',
    path: 'signature',
    mutate: (event) => ({ ...event, signature: String(event.signature ?? 'v1=').toUpperCase() }),
  },
  { rule: 'signature is required', path: 'signature', mutate: without('signature') },
  { rule: 'no fields beyond the contract', path: '(event)', mutate: set('price', '0.01') },
];
