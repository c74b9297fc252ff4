import { randomUUID } from 'node:crypto';
import { MarketplaceEmulator, type EmulatorAnswer, type EmulatorCall } from './emulator-server.ts';

/**
 * A stateful stand-in for Azure Marketplace metered billing, `POST /api/batchUsageEvent` (REST,
 * api-version 2018-08-31), answering as documented:
 *
 * - a bearer token (else 403); at most 25 events (else 400);
 * - 200 with a status per event even when some failed: Accepted, Expired (effectiveStartTime
 *   more than 24 h back), Duplicate (one event per resource, dimension and hour: the second gets
 *   `error.additionalInfo.acceptedMessage`, the event accepted first), ResourceNotFound,
 *   InvalidDimension, InvalidQuantity (≤ 0), BadArgument;
 * - quantities are JSON numbers on Azure's side (doubles), and echoed as such;
 * - faults: 429, 500, lost answers, held requests.
 */
export interface AzureAcceptedEvent {
  readonly usageEventId: string;
  readonly resourceId: string;
  readonly planId: string;
  readonly dimension: string;
  readonly quantity: number;
  readonly effectiveStartTime: string;
  readonly messageTime: string;
}

export interface AzureEmulatorOptions {
  readonly token?: string;
  /** planId → its dimensions; default: any plan, any dimension. */
  readonly plans?: Readonly<Record<string, readonly string[]>>;
  readonly windowMs?: number;
}

export class AzureMeteringEmulator extends MarketplaceEmulator {
  readonly token: string;
  /** (resourceId|dimension|hour) → the event Azure accepted. */
  readonly events = new Map<string, AzureAcceptedEvent>();
  /** Resources (SaaS subscriptions) that do not exist or are not subscribed. */
  readonly unknownResources = new Set<string>();

  constructor(private readonly options: AzureEmulatorOptions = {}) {
    super();
    this.token = options.token ?? 'azure-emulator-token';
  }

  totals(): Map<string, number> {
    const totals = new Map<string, number>();
    for (const event of this.events.values()) {
      const key = `${event.resourceId}|${event.dimension}`;
      totals.set(key, (totals.get(key) ?? 0) + event.quantity);
    }
    return totals;
  }

  protected override throttled(): EmulatorAnswer {
    return { status: 429, body: { code: 'TooManyRequests', message: 'Too many requests' } };
  }

  protected override serverError(): EmulatorAnswer {
    return { status: 500, body: { code: 'InternalServerError', message: 'An error has occurred' } };
  }

  protected override handle(request: EmulatorCall): EmulatorAnswer {
    const url = new URL(request.path, 'http://azure');
    if (request.method !== 'POST' || url.pathname !== '/api/batchUsageEvent')
      return { status: 404, body: { code: 'NotFound', message: `${request.method} ${url.pathname}` } };
    if (url.searchParams.get('api-version') !== '2018-08-31')
      return { status: 400, body: { code: 'BadArgument', message: 'api-version must be 2018-08-31' } };
    if (request.headers.authorization !== `Bearer ${this.token}`)
      return {
        status: 403,
        body: { code: 'Forbidden', message: 'The authorization token is not provided, invalid or expired.' },
      };
    let body: { request?: unknown };
    try {
      body = JSON.parse(request.body) as typeof body;
    } catch {
      return { status: 400, body: { code: 'BadArgument', message: 'One or more errors have occurred.' } };
    }
    if (!Array.isArray(body.request) || body.request.length > 25)
      return { status: 400, body: { code: 'BadArgument', message: 'The batch must contain 1 to 25 usage events.' } };
    const now = this.server.now();
    const windowMs = this.options.windowMs ?? 24 * 3_600_000;
    const result = (body.request as Record<string, unknown>[]).map((event) => {
      const echo = {
        resourceId: event.resourceId,
        quantity: event.quantity,
        dimension: event.dimension,
        effectiveStartTime: event.effectiveStartTime,
        planId: event.planId,
      };
      const failed = (status: string, message: string) => ({
        status,
        messageTime: new Date(now).toISOString(),
        error: { code: status, message },
        ...echo,
      });
      if (
        typeof event.resourceId !== 'string' ||
        typeof event.planId !== 'string' ||
        typeof event.dimension !== 'string' ||
        typeof event.effectiveStartTime !== 'string'
      )
        return failed('BadArgument', 'The input is missing or malformed.');
      if (typeof event.quantity !== 'number' || !(event.quantity > 0))
        return failed('InvalidQuantity', 'The quantity passed is lower or equal to 0.');
      const start = Date.parse(event.effectiveStartTime);
      if (Number.isNaN(start)) return failed('BadArgument', 'effectiveStartTime is not a date.');
      if (start < now - windowMs)
        return failed('Expired', 'Expired usage: effectiveStartTime is more than 24 hours in the past.');
      if (start > now) return failed('BadArgument', 'effectiveStartTime is in the future.');
      if (this.unknownResources.has(event.resourceId))
        return failed('ResourceNotFound', 'The usage resource provided is invalid.');
      const dimensions = this.options.plans?.[event.planId];
      if (this.options.plans !== undefined && (dimensions === undefined || !dimensions.includes(event.dimension)))
        return failed(
          'InvalidDimension',
          'The dimension for which the usage is passed is invalid for this offer/plan.',
        );
      const hour = new Date(start - (start % 3_600_000)).toISOString();
      const key = `${event.resourceId}|${event.dimension}|${hour}`;
      const accepted = this.events.get(key);
      if (accepted !== undefined) {
        return {
          status: 'Duplicate',
          messageTime: '0001-01-01T00:00:00',
          error: {
            additionalInfo: { acceptedMessage: { ...accepted, status: 'Duplicate' } },
            message: 'This usage event already exist.',
            code: 'Conflict',
          },
          ...echo,
        };
      }
      const stored: AzureAcceptedEvent = {
        usageEventId: randomUUID(),
        resourceId: event.resourceId,
        planId: event.planId,
        dimension: event.dimension,
        quantity: event.quantity,
        effectiveStartTime: event.effectiveStartTime,
        messageTime: new Date(now).toISOString(),
      };
      this.events.set(key, stored);
      return { ...stored, status: 'Accepted' };
    });
    return { status: 200, body: { count: result.length, result } };
  }
}
