import { describe, expect, it } from 'vitest';
import { buildSignedEvent, buildUnsignedEvent } from '../test/builders/usage-event.ts';
import { SCHEMA_VIOLATIONS } from '../test/builders/schema-violations.ts';
import { parseUsageEvent } from './usage-event.ts';

describe('parseUsageEvent', () => {
  it('accepts the SPEC §1 example shape', () => {
    const result = parseUsageEvent(JSON.stringify(buildSignedEvent()));
    expect(result.ok).toBe(true);
  });

  it('accepts an offset other than Z and sub-millisecond digits', () => {
    expect(
      parseUsageEvent(JSON.stringify(buildSignedEvent({ timestamp: '2026-10-14T11:30:00.123456+02:00' }))).ok,
    ).toBe(true);
  });

  it('accepts the largest quantity the contract allows', () => {
    expect(
      parseUsageEvent(JSON.stringify(buildSignedEvent({ quantity: '99999999999999999999.999999999999' }))).ok,
    ).toBe(true);
  });

  it('rejects text that is not JSON as malformed_json', () => {
    expect(parseUsageEvent('{"schema_version": 1,')).toMatchObject({ ok: false, reason: 'malformed_json' });
    expect(parseUsageEvent('')).toMatchObject({ ok: false, reason: 'malformed_json' });
  });

  it('rejects JSON that is not an object as schema_violation', () => {
    expect(parseUsageEvent('[1,2]')).toMatchObject({ ok: false, reason: 'schema_violation' });
    expect(parseUsageEvent('null')).toMatchObject({ ok: false, reason: 'schema_violation' });
  });

  it.each(SCHEMA_VIOLATIONS)('schema rule: $rule → schema_violation at $path', ({ mutate, path }) => {
    const broken = mutate(buildSignedEvent() as unknown as Record<string, unknown>);
    const result = parseUsageEvent(JSON.stringify(broken));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toBe('schema_violation');
    expect(result.detail.startsWith(`${path}`) || result.detail.includes(`; ${path}`)).toBe(true);
  });

  it('keeps unsigned events apart: the signed schema requires the signature', () => {
    expect(parseUsageEvent(JSON.stringify(buildUnsignedEvent()))).toMatchObject({
      ok: false,
      reason: 'schema_violation',
    });
  });
});
