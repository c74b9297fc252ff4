import { TallyError } from '../contracts/tally-error.ts';

/**
 * Posts a notification to the operator's webhook. The caller (an activity) retries with backoff;
 * the notification key travels as `Idempotency-Key` so a receiver can drop repeats.
 */
export class WebhookError extends TallyError {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super('webhook_failed', message, { permanent: !retryable });
  }
}

export interface WebhookNotifier {
  notify(notificationKey: string, payload: Record<string, unknown>): Promise<void>;
}

export function createWebhookNotifier(url: string | undefined, timeoutMs = 10_000): WebhookNotifier {
  return {
    async notify(notificationKey, payload) {
      // No webhook configured: the notification stays on record in Postgres (`tally review list` shows escalations).
      if (url === undefined) return;
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': notificationKey },
          body: JSON.stringify({ key: notificationKey, ...payload }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        throw new WebhookError(
          `webhook ${url} unreachable: ${error instanceof Error ? error.message : String(error)}`,
          true,
        );
      }
      if (response.ok) return;
      const retryable = response.status >= 500 || response.status === 429 || response.status === 408;
      throw new WebhookError(`webhook ${url} answered ${response.status}`, retryable);
    },
  };
}
