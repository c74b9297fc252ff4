import { describe, expect, it } from 'vitest';
import { DNS_NAMESPACE, uuidV5 } from './uuid-v5.ts';

describe('uuidV5', () => {
  it('matches the published vectors', () => {
    expect(uuidV5('www.example.com', DNS_NAMESPACE)).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
    expect(uuidV5('python.org', DNS_NAMESPACE)).toBe('886313e1-3b8a-5372-9b90-0c9aee199e5d');
  });

  it('is deterministic and sensitive to the name and namespace', () => {
    const namespace = '0f1d2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b';
    expect(uuidV5('acme/tokens/2026-10-14T09:00:00.000Z/usage', namespace)).toBe(
      uuidV5('acme/tokens/2026-10-14T09:00:00.000Z/usage', namespace),
    );
    expect(uuidV5('a', namespace)).not.toBe(uuidV5('b', namespace));
    expect(uuidV5('a', namespace)).not.toBe(uuidV5('a', DNS_NAMESPACE));
    expect(uuidV5('a', namespace)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
