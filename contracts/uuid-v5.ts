import { createHash } from 'node:crypto';

/**
 * RFC 9562 §5.5 name-based UUIDs (version 5, SHA-1): the same namespace and name always give the
 * same UUID. Google Service Control deduplicates reports by `operationId`, so an operation's id is
 * the UUIDv5 of its bucket's key: a resend of the same bucket is the same operation.
 *
 * @example uuidV5('www.example.com', DNS_NAMESPACE) === '2ed6657d-e927-568b-95e1-2665a8aea6a2'
 */
export function uuidV5(name: string, namespace: string): string {
  const namespaceHex = namespace.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(namespaceHex)) throw new Error(`not a UUID: ${namespace}`);
  const digest = createHash('sha1').update(Buffer.from(namespaceHex, 'hex')).update(Buffer.from(name, 'utf8')).digest();
  const bytes = digest.subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50; // version 5
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80; // RFC 9562 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The DNS namespace of RFC 9562 (for the worked example and its test). */
export const DNS_NAMESPACE = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';
