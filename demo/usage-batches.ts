import type { JetStreamManager } from '@nats-io/jetstream';
import cliProgress from 'cli-progress';
import { signEvent } from '../contracts/event-signature.ts';
import type { RejectionReason } from '../contracts/rejection-reason.ts';
import type { UnsignedUsageEvent, UsageEvent } from '../contracts/usage-event.ts';
import type { EventPublisher } from '../ingest/event-publisher.ts';
import type { IngestWorker } from '../workers/ingest-worker.ts';
import { addressUsageMessage, type OutgoingUsageMessage } from '../ingest/usage-stream.ts';
import { historyUsageStream } from './samples/sample-history.ts';
import { usageEventStream } from './samples/sample-usage.ts';
import {
  DEMO_ANOMALY,
  DEMO_HISTORY,
  DEMO_LATE_CUSTOMERS,
  DEMO_NEXT_PERIOD,
  DEMO_PERIOD,
  DemoError,
  type DemoCustomerTerms,
  type DemoWorkspace,
} from './workspace.ts';

/** One message the demo publishes, and what the ingest worker should make of it. */
interface DemoMessage {
  readonly message: OutgoingUsageMessage;
  /** `event`: a valid event seen for the first time; `duplicate`: an exact repeat; else the rejection it must get. */
  readonly expect: 'event' | 'duplicate' | RejectionReason;
}

export interface DemoBatch {
  readonly messages: readonly DemoMessage[];
  readonly events: number;
  readonly duplicates: number;
  readonly rejected: Partial<Record<RejectionReason, number>>;
}

/**
 * A month of the sample usage (demo/samples, seeded: the same each run) for every
 * customer of the run, with exact repeats (every `duplicateEvery`-th event is sent twice) and a
 * dozen broken messages spread through the stream: bad JSON, schema violations, bad signatures,
 * unknown sources. The sample is generated under the customers' sample ids and re-signed under the
 * run's ids with the run's keys.
 */
export function monthOfUsage(workspace: DemoWorkspace, options: { scale: number; duplicateEvery: number }): DemoBatch {
  const events = rebilled(
    workspace,
    workspace.customers,
    usageEventStream({
      customers: workspace.customers.map((customer) => customer.sample),
      period: DEMO_PERIOD,
      seed: 1,
      scale: options.scale,
      duplicateEvery: options.duplicateEvery,
      keys: workspace.sourceKeys,
    }),
    DEMO_PERIOD,
  );
  const valid = classifyRepeats(events).map(({ event, repeat }) => ({
    message: toMessage(workspace, event),
    expect: repeat ? ('duplicate' as const) : ('event' as const),
  }));
  const template = events[0];
  if (template === undefined) throw new DemoError('the sample usage is empty');
  const broken = brokenMessages(workspace, template);
  // Spread the broken ones evenly through the stream, as a misbehaving producer would send them.
  const messages: DemoMessage[] = [...valid];
  broken.forEach((message, index) => {
    messages.splice(Math.floor(((index + 1) * messages.length) / (broken.length + 1)), 0, message);
  });
  return summarize(messages);
}

/**
 * The weeks before the billed month (demo/samples/sample-history.ts, seeded: the same each run) for
 * the run's history customers, with the one injected spike, re-signed under the run's ids.
 */
export function historyOfUsage(
  workspace: DemoWorkspace,
  customers: readonly DemoCustomerTerms[],
  options: { scale: number },
): DemoBatch {
  const events = rebilled(
    workspace,
    customers,
    historyUsageStream({
      customers: customers.map((customer) => customer.sample),
      from: DEMO_HISTORY.from,
      to: DEMO_HISTORY.to,
      seed: 1,
      scale: options.scale,
      spike: DEMO_ANOMALY,
      keys: workspace.sourceKeys,
    }),
    'history',
  );
  return summarize(events.map((event) => ({ message: toMessage(workspace, event), expect: 'event' as const })));
}

/**
 * What arrives after October is closed: a few October events of the late customers (a gateway
 * that reported a region a day late), one of them twice, and some November usage of theirs.
 */
export function lateUsage(workspace: DemoWorkspace, options: { scale: number }): DemoBatch & { lateEvents: number } {
  const late = lateCustomers(workspace);
  const lateEvents: UsageEvent[] = late.flatMap((customer, customerIndex) =>
    [0, 1, 2].map((index) =>
      signEvent(
        {
          schema_version: 1,
          event_id: `${DEMO_PERIOD}.${customer.customerId}.llm.tokens.late-${index + 1}`,
          source: 'api-gateway',
          customer_id: customer.customerId,
          timestamp: `2026-10-31T${String(20 + index).padStart(2, '0')}:${String(15 * customerIndex).padStart(2, '0')}:00.000Z`,
          unit: 'tokens',
          // A busy evening: enough tokens to move the October invoice (the EUR customer past its commit).
          quantity: customer.contract.currency === 'EUR' ? '40000000' : '2500000',
          metadata: {
            sku: 'llm.tokens',
            plan: customer.sample.plan,
            marketplace: 'direct',
            region: customer.sample.regions[0] ?? 'us-east-1',
          },
        },
        secretOf(workspace, 'api-gateway'),
      ),
    ),
  );
  const november = rebilled(
    workspace,
    late,
    usageEventStream({
      customers: late.map((customer) => customer.sample),
      period: DEMO_NEXT_PERIOD,
      seed: 2,
      scale: options.scale,
      keys: workspace.sourceKeys,
    }),
    DEMO_NEXT_PERIOD,
  );
  const first = lateEvents[0];
  const events = [...lateEvents, ...(first === undefined ? [] : [first]), ...november];
  const batch = summarize(
    classifyRepeats(events).map(({ event, repeat }) => ({
      message: toMessage(workspace, event),
      expect: repeat ? ('duplicate' as const) : ('event' as const),
    })),
  );
  return { ...batch, lateEvents: lateEvents.length };
}

/**
 * A month of the sample usage of one more customer, billed through a marketplace: the sample's
 * events of the SKUs its listing reports (tokens, jobs, queries), under its own id.
 */
export function marketplaceUsage(
  workspace: DemoWorkspace,
  customer: DemoCustomerTerms,
  options: { scale: number; skus: readonly string[] },
): DemoBatch {
  const events = rebilled(
    workspace,
    [customer],
    [
      ...usageEventStream({
        customers: [customer.sample],
        period: DEMO_PERIOD,
        seed: 3,
        scale: options.scale,
        keys: workspace.sourceKeys,
      }),
    ].filter((event) => options.skus.includes(event.metadata.sku ?? '')),
    DEMO_PERIOD,
  );
  return summarize(events.map((event) => ({ message: toMessage(workspace, event), expect: 'event' as const })));
}

export function lateCustomers(workspace: DemoWorkspace): DemoCustomerTerms[] {
  return DEMO_LATE_CUSTOMERS.map((id) => {
    const customer = workspace.customers.find((candidate) => candidate.sample.customerId === id);
    if (customer === undefined) throw new DemoError(`the demo needs the sample customer ${id}`);
    return customer;
  });
}

function secretOf(workspace: DemoWorkspace, source: string): string {
  const secret = workspace.sourceKeys[source];
  if (secret === undefined) throw new DemoError(`no demo key for source ${source}`);
  return secret;
}

/**
 * The sample events under this run's customer ids, signed again with the stack's keys. The sample's
 * event ids count from 1 in every month and name the sample customer, so they get the month in front
 * and the run's customer id (`2026-11.globex-tovcf2.llm.tokens.0000001`): an id is a producer's
 * promise that the event is that one event, in any month and any run.
 */
function rebilled(
  workspace: DemoWorkspace,
  customers: readonly DemoCustomerTerms[],
  events: Iterable<UsageEvent>,
  period: string,
): UsageEvent[] {
  const idOf = new Map(customers.map((customer) => [customer.sample.customerId, customer.customerId]));
  const out: UsageEvent[] = [];
  for (const event of events) {
    const { signature: _signature, ...unsigned } = event;
    const customerId = idOf.get(unsigned.customer_id);
    if (customerId === undefined) throw new DemoError(`sample event for unknown customer ${unsigned.customer_id}`);
    out.push(
      signEvent(
        {
          ...unsigned,
          event_id: `${period}.${customerId}${unsigned.event_id.slice(unsigned.customer_id.length)}`,
          customer_id: customerId,
        },
        secretOf(workspace, unsigned.source),
      ),
    );
  }
  return out;
}

function classifyRepeats(events: readonly UsageEvent[]): { event: UsageEvent; repeat: boolean }[] {
  const seen = new Set<string>();
  return events.map((event) => {
    const key = `${event.source}:${event.event_id}`;
    const repeat = seen.has(key);
    seen.add(key);
    return { event, repeat };
  });
}

function toMessage(workspace: DemoWorkspace, event: unknown): OutgoingUsageMessage {
  const { source: _source, ...message } = addressUsageMessage(
    Buffer.from(JSON.stringify(event), 'utf8'),
    event,
    workspace.subjectPrefix,
  );
  return message;
}

function rawMessage(workspace: DemoWorkspace, text: string): OutgoingUsageMessage {
  const { source: _source, ...message } = addressUsageMessage(
    Buffer.from(text, 'utf8'),
    undefined,
    workspace.subjectPrefix,
  );
  return message;
}

/** Eleven messages the worker must refuse, each with its own id (so JetStream does not drop it as a repeat). */
function brokenMessages(workspace: DemoWorkspace, template: UsageEvent): DemoMessage[] {
  const { signature: _signature, ...base } = template;
  const unsigned = (eventId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
    ...base,
    event_id: eventId,
    ...overrides,
  });
  const signed = (eventId: string, secret: string, overrides: Partial<UnsignedUsageEvent> = {}): UsageEvent =>
    signEvent({ ...base, event_id: eventId, ...overrides }, secret);
  const withSignature = (event: Record<string, unknown>): Record<string, unknown> => ({
    ...event,
    signature: template.signature,
  });
  const stray = 'an-unregistered-secret-0000000001';
  return [
    {
      expect: 'malformed_json',
      message: rawMessage(
        workspace,
        JSON.stringify(signed(`demo.${workspace.runId}.bad-json.1`, secretOf(workspace, base.source))).slice(0, 90),
      ),
    },
    {
      expect: 'malformed_json',
      message: rawMessage(workspace, `{"schema_version":1,"event_id":"demo.${workspace.runId}.bad-json.2",}`),
    },
    { expect: 'malformed_json', message: rawMessage(workspace, `customer=acme&quantity=12&run=${workspace.runId}`) },
    {
      expect: 'schema_violation',
      message: toMessage(
        workspace,
        withSignature(unsigned(`demo.${workspace.runId}.bad-schema.1`, { quantity: 1520 })),
      ),
    },
    {
      expect: 'schema_violation',
      message: toMessage(
        workspace,
        withSignature(unsigned(`demo.${workspace.runId}.bad-schema.2`, { quantity: '-5' })),
      ),
    },
    {
      expect: 'schema_violation',
      message: toMessage(
        workspace,
        withSignature(unsigned(`demo.${workspace.runId}.bad-schema.3`, { timestamp: '2026-10-14T09:30:00' })),
      ),
    },
    {
      expect: 'schema_violation',
      message: toMessage(
        workspace,
        withSignature(unsigned(`demo.${workspace.runId}.bad-schema.4`, { metadata: { region: 'us-east-1' } })),
      ),
    },
    // Tampered after signing: the quantity is not the one signed.
    {
      expect: 'bad_signature',
      message: toMessage(workspace, {
        ...signed(`demo.${workspace.runId}.bad-signature.1`, secretOf(workspace, base.source)),
        quantity: '999999',
      }),
    },
    {
      expect: 'bad_signature',
      message: toMessage(workspace, signed(`demo.${workspace.runId}.bad-signature.2`, stray)),
    },
    {
      expect: 'unknown_source',
      message: toMessage(
        workspace,
        signed(`demo.${workspace.runId}.unknown-source.1`, stray, { source: 'legacy-export' }),
      ),
    },
    {
      expect: 'unknown_source',
      message: toMessage(
        workspace,
        signed(`demo.${workspace.runId}.unknown-source.2`, stray, { source: 'billing-import' }),
      ),
    },
  ];
}

function summarize(messages: DemoMessage[]): DemoBatch {
  const rejected: Partial<Record<RejectionReason, number>> = {};
  let events = 0;
  let duplicates = 0;
  for (const { expect } of messages) {
    if (expect === 'event') events += 1;
    else if (expect === 'duplicate') duplicates += 1;
    else rejected[expect] = (rejected[expect] ?? 0) + 1;
  }
  return { messages, events, duplicates, rejected };
}

export interface PublishReport {
  readonly messages: number;
  readonly published: number;
  /** Acknowledged by JetStream as repeats of a message id inside its duplicate window: never stored twice. */
  readonly droppedAsDuplicates: number;
  readonly seconds: number;
  readonly messagesPerSecond: number;
}

/**
 * Publishes the batch through the producer library (bounded in-flight window, retries with the same
 * message id), with a progress bar and rate on a terminal. `committed` reports how many messages the
 * ingest worker has written, for the second bar.
 */
export async function publishBatch(
  publisher: EventPublisher,
  batch: DemoBatch,
  committed: () => number,
  label: string,
): Promise<PublishReport> {
  const startedMs = Date.now();
  const before = publisher.summary();
  const committedBefore = committed();
  const toStore = batch.messages.length - batch.duplicates;
  const bars = process.stderr.isTTY
    ? new cliProgress.MultiBar(
        {
          format: '{label} {bar} {value}/{total} | {rate}/s',
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const publishBar = bars?.create(batch.messages.length, 0, { label: `${label} publish`.padEnd(18), rate: 0 });
  const ingestBar = bars?.create(toStore, 0, { label: `${label} ingest`.padEnd(18), rate: 0 });
  const update = (): void => {
    const seconds = Math.max(0.001, (Date.now() - startedMs) / 1000);
    const summary = publisher.summary();
    const done =
      summary.published + summary.duplicates + summary.failed - (before.published + before.duplicates + before.failed);
    const stored = committed() - committedBefore;
    publishBar?.update(done, { rate: Math.round(done / seconds) });
    ingestBar?.update(Math.min(stored, toStore), { rate: Math.round(stored / seconds) });
  };
  const timer = bars === undefined ? undefined : setInterval(update, 100);
  let failed = 0;
  try {
    for (const { message } of batch.messages) {
      await publisher.enqueue(message, (outcome) => {
        if (outcome.status === 'failed') failed += 1;
      });
    }
    await publisher.flush();
    update();
  } finally {
    if (timer !== undefined) clearInterval(timer);
    bars?.stop();
  }
  if (failed > 0) throw new DemoError(`${failed} messages could not be published to JetStream`);
  const after = publisher.summary();
  const seconds = (Date.now() - startedMs) / 1000;
  return {
    messages: batch.messages.length,
    published: after.published - before.published,
    droppedAsDuplicates: after.duplicates - before.duplicates,
    seconds,
    messagesPerSecond: Math.round(batch.messages.length / Math.max(seconds, 0.001)),
  };
}

/**
 * Waits until the ingest worker has committed (and acked) every message of the stream: consumer lag
 * 0, nothing awaiting an ack, ack floor at the stream's last sequence. Fails when nothing moves for
 * `stallMs`.
 */
export async function waitForIngest(
  jsm: JetStreamManager,
  streamName: string,
  consumerName: string,
  stallMs = 60_000,
): Promise<void> {
  let lastFloor = -1;
  let movedAtMs = Date.now();
  for (;;) {
    const [stream, consumer] = await Promise.all([
      jsm.streams.info(streamName),
      jsm.consumers.info(streamName, consumerName),
    ]);
    if (
      consumer.num_pending === 0 &&
      consumer.num_ack_pending === 0 &&
      consumer.ack_floor.stream_seq >= stream.state.last_seq
    )
      return;
    if (consumer.ack_floor.stream_seq !== lastFloor) {
      lastFloor = consumer.ack_floor.stream_seq;
      movedAtMs = Date.now();
    } else if (Date.now() - movedAtMs > stallMs) {
      throw new DemoError(
        `ingest made no progress for ${Math.round(stallMs / 1000)} s: ${consumer.num_pending} messages pending, ${consumer.num_ack_pending} awaiting ack`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function describePublish(batch: DemoBatch, report: PublishReport): string {
  return (
    `published ${countText(report.messages)} messages in ${report.seconds.toFixed(1)} s (${countText(report.messagesPerSecond)} messages/s): ` +
    `${countText(batch.events)} events, ${countText(batch.duplicates)} exact repeats (${countText(report.droppedAsDuplicates)} dropped by JetStream), ${countText(sumValues(batch.rejected))} broken`
  );
}

export function sumValues(record: Readonly<Partial<Record<string, number>>>): number {
  return Object.values(record).reduce<number>((sum, value) => sum + (value ?? 0), 0);
}

/** The ingest worker stored what the batch holds: every valid event once, every broken message under its reason. */
export function checkIngest(
  batch: DemoBatch,
  totals: IngestWorker['consumer']['totals'],
  acceptedBefore: number,
): void {
  const accepted = totals.accepted - acceptedBefore;
  if (accepted !== batch.events)
    throw new DemoError(`ingest stored ${accepted} events, the demo sent ${batch.events} distinct ones`);
  for (const [reason, expected] of Object.entries(batch.rejected)) {
    if ((totals.rejected[reason as keyof typeof totals.rejected] ?? 0) < (expected ?? 0))
      throw new DemoError(
        `expected ${expected} ${reason} rejections, ingest recorded ${totals.rejected[reason as keyof typeof totals.rejected] ?? 0}`,
      );
  }
}

const countText = (value: number): string => value.toLocaleString('en-US');
