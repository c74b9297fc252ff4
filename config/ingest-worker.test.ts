import { describe, expect, it } from 'vitest';
import { parseIngestWorkerEnv } from './ingest-worker.ts';

describe('ingest worker configuration', () => {
  it('alerts on lag long before the stream could age a message out: the lag alert is at most a tenth of the max age', () => {
    expect(() =>
      parseIngestWorkerEnv({
        TALLY_SOURCE_KEYS_FILE: 'keys.json',
        TALLY_INGEST_STREAM_MAX_AGE: '1h',
        TALLY_INGEST_LAG_ALERT: '15m',
      }),
    ).toThrow(/TALLY_INGEST_LAG_ALERT="15m": must be at most a tenth of TALLY_INGEST_STREAM_MAX_AGE/);
    expect(
      parseIngestWorkerEnv({ TALLY_SOURCE_KEYS_FILE: 'keys.json', TALLY_INGEST_STREAM_MAX_AGE: '0ms' }).lagAlertMs,
    ).toBe(15 * 60_000);
    expect(parseIngestWorkerEnv({ TALLY_SOURCE_KEYS_FILE: 'keys.json' })).toMatchObject({
      streamMaxAgeMs: 30 * 86_400_000,
      streamMaxBytes: undefined,
      parkAfterDeliveries: 10,
      httpHeadersTimeoutMs: 10_000,
      httpMaxConnections: 256,
    });
  });
});
