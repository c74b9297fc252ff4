import { MarketplaceEmulator, type EmulatorAnswer, type EmulatorCall } from './emulator-server.ts';

/**
 * A stateful stand-in for Google Service Control `services.report` (REST v1), answering as
 * documented:
 *
 * - `POST /v1/services/{service}:report` with a bearer token (else 401 UNAUTHENTICATED);
 * - operations deduplicated by operationId: one seen before is not counted again (and no error);
 * - partial failures: 200 with `reportErrors`, one per failed operation (`status.code` is a
 *   google.rpc.Code): INVALID_ARGUMENT for a metric the service does not define or an interval
 *   older than the reporting window (1 h), PERMISSION_DENIED for a consumer without entitlement;
 *   a request that is malformed as a whole (no operationId, …) is 400 INVALID_ARGUMENT;
 * - faults: 429 RESOURCE_EXHAUSTED, 503, lost answers, held requests.
 */
export interface GcpReportedOperation {
  readonly operationId: string;
  readonly serviceName: string;
  readonly consumerId: string;
  readonly metricName: string;
  readonly startTime: string;
  readonly endTime: string;
  readonly value: bigint;
}

export interface GcpEmulatorOptions {
  readonly token?: string;
  /** service → its metrics (full names); default: any service, metrics under `<service>/`. */
  readonly services?: Readonly<Record<string, readonly string[]>>;
  readonly windowMs?: number;
}

export class GcpServiceControlEmulator extends MarketplaceEmulator {
  readonly token: string;
  readonly operations = new Map<string, GcpReportedOperation>();
  /** Consumers without an active entitlement. */
  readonly unentitled = new Set<string>();

  constructor(private readonly options: GcpEmulatorOptions = {}) {
    super();
    this.token = options.token ?? 'gcp-emulator-token';
  }

  /** Σ reported value per consumer and metric. */
  totals(): Map<string, bigint> {
    const totals = new Map<string, bigint>();
    for (const operation of this.operations.values()) {
      const key = `${operation.consumerId}|${operation.metricName}`;
      totals.set(key, (totals.get(key) ?? 0n) + operation.value);
    }
    return totals;
  }

  protected override throttled(): EmulatorAnswer {
    return googleError(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded for quota metric report requests');
  }

  protected override serverError(): EmulatorAnswer {
    return googleError(503, 'UNAVAILABLE', 'The service is currently unavailable.');
  }

  protected override handle(request: EmulatorCall): EmulatorAnswer {
    const match = /^\/v1\/services\/([^/:]+):report$/.exec(new URL(request.path, 'http://gcp').pathname);
    if (request.method !== 'POST' || match === null)
      return googleError(404, 'NOT_FOUND', `${request.method} ${request.path}`);
    const serviceName = decodeURIComponent(match[1] as string);
    if (request.headers.authorization !== `Bearer ${this.token}`)
      return googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');
    if (this.options.services !== undefined && this.options.services[serviceName] === undefined)
      return googleError(403, 'PERMISSION_DENIED', `Permission denied on service ${serviceName}`);
    let body: { operations?: unknown };
    try {
      body = JSON.parse(request.body) as typeof body;
    } catch {
      return googleError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    }
    if (!Array.isArray(body.operations)) return googleError(400, 'INVALID_ARGUMENT', 'operations is required');
    const now = this.server.now();
    const windowMs = this.options.windowMs ?? 3_600_000;
    const operations = body.operations as Record<string, unknown>[];
    for (const operation of operations) {
      if (typeof operation.operationId !== 'string' || operation.operationId === '')
        return googleError(400, 'INVALID_ARGUMENT', 'operation_id is required');
    }
    const reportErrors: { operationId: string; status: { code: number; message: string } }[] = [];
    for (const operation of operations) {
      const operationId = operation.operationId as string;
      const fail = (code: number, message: string): void => {
        reportErrors.push({ operationId, status: { code, message } });
      };
      if (this.operations.has(operationId)) continue; // deduplicated: reported once
      const sets = operation.metricValueSets as
        { metricName?: unknown; metricValues?: { int64Value?: unknown }[] }[] | undefined;
      const set = sets?.[0];
      const raw = set?.metricValues?.[0]?.int64Value;
      const start = typeof operation.startTime === 'string' ? Date.parse(operation.startTime) : Number.NaN;
      const end = typeof operation.endTime === 'string' ? Date.parse(operation.endTime) : Number.NaN;
      if (typeof operation.consumerId !== 'string' || typeof set?.metricName !== 'string') {
        fail(3, 'consumer_id and a metric value set are required');
        continue;
      }
      if (typeof raw !== 'string' || !/^\d{1,19}$/.test(raw)) {
        fail(3, `metric ${set.metricName}: int64Value must be a non-negative int64`);
        continue;
      }
      const metrics = this.options.services?.[serviceName];
      if (
        !set.metricName.startsWith(`${serviceName}/`) ||
        (metrics !== undefined && !metrics.includes(set.metricName))
      ) {
        fail(3, `metric ${set.metricName} is not defined by service ${serviceName}`);
        continue;
      }
      if (Number.isNaN(start) || Number.isNaN(end) || end < start) {
        fail(3, 'startTime and endTime must be a valid interval');
        continue;
      }
      if (end < now - windowMs) {
        fail(3, `usage for ${operation.endTime as string} is reported too late (report within 1 hour)`);
        continue;
      }
      if (this.unentitled.has(operation.consumerId)) {
        fail(7, `consumer ${operation.consumerId} has no active entitlement`);
        continue;
      }
      this.operations.set(operationId, {
        operationId,
        serviceName,
        consumerId: operation.consumerId,
        metricName: set.metricName,
        startTime: operation.startTime as string,
        endTime: operation.endTime as string,
        value: BigInt(raw),
      });
    }
    return {
      status: 200,
      body: {
        ...(reportErrors.length === 0 ? {} : { reportErrors }),
        serviceConfigId: '2026-10-01r0',
        serviceRolloutId: '2026-10-01r0',
      },
    };
  }
}

function googleError(code: number, status: string, message: string): EmulatorAnswer {
  return { status: code, body: { error: { code, message, status } } };
}
