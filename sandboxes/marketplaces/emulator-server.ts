import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The HTTP shell the three marketplace emulators share: a server on 127.0.0.1, port 0 (the
 * kernel picks a free one), a log of every request, scripted faults, and a clock tests can set.
 * The emulators themselves keep the marketplace's state and answer as its documentation says.
 */

type EmulatorFault =
  /** The marketplace's throttling answer (AWS ThrottlingException, HTTP 429): nothing processed. */
  | { readonly kind: 'throttle' }
  /** A server error before anything is processed. */
  | { readonly kind: 'server_error' }
  /** The request is processed, then answered with a server error (the caller cannot tell). */
  | { readonly kind: 'server_error_after_commit' }
  /** The request is processed, then the connection is destroyed without an answer. */
  | { readonly kind: 'lost_response' }
  /** The connection is destroyed before anything is processed. */
  | { readonly kind: 'drop_request' }
  /** The request waits until `release()`, then is processed and answered (`commit: false`: dropped unprocessed); for crash tests. */
  | { readonly kind: 'hold'; readonly commit?: boolean };

interface EmulatorFaultRule {
  readonly fault: EmulatorFault;
  /** How many matching requests the fault hits (default 1). */
  readonly times?: number;
}

interface EmulatorRequest {
  readonly seq: number;
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** The HTTP status answered, or what happened instead. */
  outcome: number | 'lost_response' | 'dropped' | 'held';
  /** The request changed the marketplace's state (records kept). */
  committed: boolean;
  readonly fault: EmulatorFault['kind'] | undefined;
}

export interface EmulatorAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A request as a handler is given it. */
export interface EmulatorCall {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

interface EmulatorHandler {
  /** Processes a request: changes state and returns the answer. `commit: false` must change nothing. */
  handle(request: EmulatorCall): EmulatorAnswer;
  /** The marketplace's own answer to throttling and to a server error. */
  throttled(): EmulatorAnswer;
  serverError(): EmulatorAnswer;
}

class EmulatorServer {
  readonly requests: EmulatorRequest[] = [];
  private readonly faults: { rule: EmulatorFaultRule; left: number }[] = [];
  private readonly held: (() => void)[] = [];
  private server: http.Server | undefined;
  private nowMs: number | undefined;
  port = 0;

  constructor(private readonly handler: EmulatorHandler) {}

  /** The emulator's clock: the real one unless a test set it. */
  now(): number {
    return this.nowMs ?? Date.now();
  }

  setNow(instant: string | undefined): void {
    this.nowMs = instant === undefined ? undefined : Date.parse(instant);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  inject(rule: EmulatorFaultRule): void {
    this.faults.push({ rule, left: rule.times ?? 1 });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Lets every held request go on (processed, unless held with `commit: false`). */
  release(): void {
    for (const resume of this.held.splice(0)) resume();
  }

  get heldCount(): number {
    return this.held.length;
  }

  async start(): Promise<this> {
    this.server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => this.serve(request, response, Buffer.concat(chunks).toString('utf8')));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    this.release();
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private nextFault(): EmulatorFault | undefined {
    const entry = this.faults.find((candidate) => candidate.left > 0);
    if (entry === undefined) return undefined;
    entry.left -= 1;
    return entry.rule.fault;
  }

  private serve(request: http.IncomingMessage, response: http.ServerResponse, body: string): void {
    const url = new URL(request.url ?? '/', 'http://emulator');
    const fault = this.nextFault();
    const record: EmulatorRequest = {
      seq: this.requests.length + 1,
      method: request.method ?? 'GET',
      path: `${url.pathname}${url.search}`,
      headers: request.headers,
      body,
      outcome: 0,
      committed: false,
      fault: fault?.kind,
    };
    this.requests.push(record);
    const input = { method: record.method, path: record.path, headers: request.headers, body };
    const answer = (result: EmulatorAnswer): void => {
      record.outcome = result.status;
      response.writeHead(result.status, { 'content-type': 'application/json', ...result.headers });
      response.end(typeof result.body === 'string' ? result.body : JSON.stringify(result.body));
    };
    const process = (): EmulatorAnswer => {
      const result = this.handler.handle(input);
      record.committed = result.status >= 200 && result.status < 300;
      return result;
    };
    switch (fault?.kind) {
      case undefined:
        return answer(process());
      case 'throttle':
        return answer(this.handler.throttled());
      case 'server_error':
        return answer(this.handler.serverError());
      case 'server_error_after_commit':
        process();
        return answer(this.handler.serverError());
      case 'lost_response':
        process();
        record.outcome = 'lost_response';
        response.socket?.destroy();
        return;
      case 'drop_request':
        record.outcome = 'dropped';
        response.socket?.destroy();
        return;
      case 'hold': {
        record.outcome = 'held';
        this.held.push(() => {
          if (fault.commit === false) {
            record.outcome = 'dropped';
            response.socket?.destroy();
            return;
          }
          const result = process();
          if (response.socket === null || response.socket.destroyed) {
            record.outcome = 'lost_response'; // the caller gave up (or died) meanwhile: committed, never heard
            return;
          }
          answer(result);
        });
        return;
      }
    }
  }
}

/**
 * What every marketplace emulator is around its own answers: the server it runs on (its faults, log
 * and clock are `server`'s), its address, starting and closing. An emulator keeps its marketplace's
 * state and answers (`handle`, `throttled`, `serverError`) as that marketplace documents.
 */
export abstract class MarketplaceEmulator {
  readonly server = new EmulatorServer({
    handle: (request) => this.handle(request),
    throttled: () => this.throttled(),
    serverError: () => this.serverError(),
  });

  /** A new emulator (`options` are its class's), listening. */
  static async start<Options, Emulator extends MarketplaceEmulator>(
    this: new (options?: Options) => Emulator,
    options?: Options,
  ): Promise<Emulator> {
    const emulator = new this(options);
    await emulator.server.start();
    return emulator;
  }

  get endpoint(): string {
    return this.server.url;
  }

  async close(): Promise<void> {
    await this.server.close();
  }

  protected abstract handle(request: EmulatorCall): EmulatorAnswer;
  protected abstract throttled(): EmulatorAnswer;
  protected abstract serverError(): EmulatorAnswer;
}
