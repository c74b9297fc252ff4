import { describe, expect, it } from 'vitest';
import { DOCUMENTED_REPORT_WINDOWS, halfWindowAt, reportDeadline } from './report-windows.ts';

describe('reportDeadline', () => {
  it.each([
    ['aws', '2026-10-14T09:00:00.000Z', '2026-10-15T09:00:00.000Z'],
    ['aws', '2026-10-31T23:00:00.000Z', '2026-11-01T06:00:00.000Z'],
    ['aws', '2026-10-31T05:00:00.000Z', '2026-11-01T05:00:00.000Z'],
    ['aws', '2026-12-31T10:00:00.000Z', '2027-01-01T06:00:00.000Z'],
    ['azure', '2026-10-31T23:00:00.000Z', '2026-11-01T23:00:00.000Z'],
    ['gcp', '2026-10-14T09:00:00.000Z', '2026-10-14T11:00:00.000Z'],
  ] as const)('%s, hour %s → %s', (kind, hour, deadline) => {
    expect(reportDeadline(kind, hour, DOCUMENTED_REPORT_WINDOWS)).toBe(deadline);
  });

  it('follows the configured windows (the marketplaces have changed them)', () => {
    const windows = { ...DOCUMENTED_REPORT_WINDOWS, awsWindowMs: 6 * 3_600_000 };
    expect(reportDeadline('aws', '2026-10-14T09:00:00.000Z', windows)).toBe('2026-10-14T15:00:00.000Z');
  });
});

describe('halfWindowAt', () => {
  it.each([
    ['aws', '2026-10-14T09:00:00.000Z', '2026-10-14T21:30:00.000Z'],
    ['aws', '2026-10-31T23:00:00.000Z', '2026-11-01T03:00:00.000Z'],
    ['gcp', '2026-10-14T09:00:00.000Z', '2026-10-14T10:30:00.000Z'],
  ] as const)('%s, hour %s → %s', (kind, hour, half) => {
    expect(halfWindowAt(kind, hour, DOCUMENTED_REPORT_WINDOWS)).toBe(half);
  });
});
