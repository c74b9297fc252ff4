import { describe, expect, it } from 'vitest';
import { instantKey } from './instant-key.ts';
import { RatingInputError } from '../rating-input-error.ts';

describe('instant keys: fixed-width UTC microseconds, as PostgreSQL keeps timestamptz', () => {
  it.each([
    ['2026-10-14T09:30:00Z', '2026-10-14T09:30:00.000000Z'],
    ['2026-10-14T09:30:00.5Z', '2026-10-14T09:30:00.500000Z'],
    ['2026-10-14T09:30:00.123456Z', '2026-10-14T09:30:00.123456Z'],
    ['2026-10-14T11:30:00.5+02:00', '2026-10-14T09:30:00.500000Z'],
    ['2026-10-14t09:30:00z', '2026-10-14T09:30:00.000000Z'],
    ['2026-10-01T01:00:00+02:00', '2026-09-30T23:00:00.000000Z'],
    // beyond microseconds: rounded half-up, carrying into the seconds
    ['2026-10-14T09:30:00.1234564Z', '2026-10-14T09:30:00.123456Z'],
    ['2026-10-14T09:30:00.1234565Z', '2026-10-14T09:30:00.123457Z'],
    ['2026-10-31T23:59:59.9999996Z', '2026-11-01T00:00:00.000000Z'],
  ])('%s → %s', (text, key) => {
    expect(instantKey(text)).toBe(key);
  });

  it('refuses what is not an instant', () => {
    expect(() => instantKey('2026-10-14')).toThrow(RatingInputError);
    expect(() => instantKey('yesterday')).toThrow(RatingInputError);
  });
});
