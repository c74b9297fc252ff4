import { describe, expect, it } from 'vitest';
import { retryWhileJetStreamFailsOver } from './usage-stream.ts';

// After a NATS server of the cluster fails, JetStream API calls time out for the seconds its groups
// take to elect new leaders (test/integration/cluster.test.ts kills one): a start-up waits them out.
function failure(name: string, message = name): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

describe('retryWhileJetStreamFailsOver', () => {
  it('calls again after timeouts and missing responders, and returns the answer', async () => {
    const errors = [
      failure('TimeoutError', 'timeout'),
      failure('NoRespondersError'),
      failure('Error', 'JetStream system temporarily unavailable'),
    ];
    let calls = 0;
    const answer = await retryWhileJetStreamFailsOver(async () => {
      calls += 1;
      const error = errors.shift();
      if (error !== undefined) throw error;
      return 'stream info';
    }, 10_000);
    expect(answer).toBe('stream info');
    expect(calls).toBe(4);
  });

  it('throws any other error at once, and a timeout once the wait is over', async () => {
    let calls = 0;
    await expect(
      retryWhileJetStreamFailsOver(async () => {
        calls += 1;
        throw failure('Error', 'stream not found');
      }),
    ).rejects.toThrow('stream not found');
    expect(calls).toBe(1);
    await expect(
      retryWhileJetStreamFailsOver(async () => {
        throw failure('TimeoutError', 'timeout');
      }, 1_200),
    ).rejects.toThrow('timeout');
  });
});
