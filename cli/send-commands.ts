import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '../connections/nats.ts';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { parseUsageStreamEnv } from '../config/ingest-worker.ts';
import type { SourceKeys } from '../contracts/source-keys.ts';
import { DEFAULT_PUBLISHER_OPTIONS, EventPublisher } from '../ingest/event-publisher.ts';
import { loadSourceKeys } from '../ingest/key-files.ts';
import { prepareEvent } from '../ingest/prepare-event.ts';
import { MAX_BATCH_EVENTS } from '../ingest/usage-batch.ts';
import {
  assertNatsServerVersion,
  batchUsageMessage,
  checkUsageStream,
  retryWhileJetStreamFailsOver,
  describeStreamDrift,
  type OutgoingUsageMessage,
} from '../ingest/usage-stream.ts';
import { decodeLine, MAX_LINE_BYTES, readLines } from './line-reader.ts';
import { cliServices } from './services.ts';
import { printableOneLine } from './terminal-text.ts';
import { TallyError } from '../contracts/tally-error.ts';

interface SendOptions {
  readonly keys?: string;
  readonly resign?: boolean;
  readonly publishInvalid?: boolean;
  readonly maxInFlight: string;
  readonly batch: string;
  readonly json?: boolean;
  readonly progress: boolean;
}

const CHUNK_SIZE = 256;

export class SendError extends TallyError {
  constructor(message: string) {
    super('send_failed', message, { permanent: true });
  }
}

export function registerSendCommands(program: Command): void {
  program
    .command('send')
    .argument('<file>', 'a JSON Lines file of events, or - for standard input')
    .option('--keys <file>', "signing keys, JSON {source: secret}: unsigned events are signed with their source's key")
    .option('--resign', 'sign again events that already carry a signature')
    .option('--publish-invalid', 'publish lines that fail local checks too (the worker stores them as rejected)')
    .option(
      '--max-in-flight <n>',
      "publishes awaiting the server's ack at once",
      String(DEFAULT_PUBLISHER_OPTIONS.maxInFlight),
    )
    .option(
      '--batch <n>',
      `events per message, 1-${MAX_BATCH_EVENTS} (SPEC §1 batches; 1 sends one message per event, each answered duplicate or not by the server)`,
      '100',
    )
    .option('--no-progress', 'no progress bar')
    .option('--json', 'print the summary as JSON')
    .action(async (file: string, options: SendOptions) => {
      const maxInFlight = Number.parseInt(options.maxInFlight, 10);
      if (!Number.isInteger(maxInFlight) || maxInFlight < 1)
        throw new SendError(`--max-in-flight must be a positive whole number, got ${options.maxInFlight}`);
      const batchSize = Number.parseInt(options.batch, 10);
      if (!/^\d+$/.test(options.batch) || batchSize < 1 || batchSize > MAX_BATCH_EVENTS)
        throw new SendError(`--batch must be a whole number from 1 to ${MAX_BATCH_EVENTS}, got ${options.batch}`);
      const keys: SourceKeys | undefined = options.keys === undefined ? undefined : await loadSourceKeys(options.keys);
      const totalBytes =
        file === '-'
          ? undefined
          : await stat(file).then(
              (info) => {
                if (info.isDirectory())
                  throw new SendError(`${file}: is a directory; give a JSON Lines file of events (or - for stdin)`);
                if (!info.isFile())
                  throw new SendError(`${file}: not a regular file; give a JSON Lines file of events`);
                return info.size;
              },
              (error: unknown) => {
                if (error instanceof SendError) throw error;
                throw new SendError(`${file}: no such file`);
              },
            );
      const streamConfig = parseUsageStreamEnv();
      const { endpoints } = cliServices();
      const nc = await connectNats(endpoints, {
        name: 'tally-send',
        maxReconnectAttempts: -1,
        timeout: 5000,
      });
      let progress: cliProgress.SingleBar | undefined;
      try {
        assertNatsServerVersion(nc);
        // A producer never configures the shared stream (its environment could rewrite the worker's settings): it checks and warns.
        // Waits out a cluster electing new leaders after a server failed (it answers again in seconds).
        const drift = await retryWhileJetStreamFailsOver(async () =>
          checkUsageStream(await jetstreamManager(nc), streamConfig),
        );
        if (drift.length > 0)
          process.stderr.write(
            `warning: the stream ${streamConfig.streamName} is not configured as ingest needs (${describeStreamDrift(drift)}); the ingest worker corrects it at its next start\n`,
          );
        const publisher = new EventPublisher(nc, { ...DEFAULT_PUBLISHER_OPTIONS, maxInFlight });
        const showProgress = options.progress && process.stderr.isTTY;
        if (showProgress) {
          progress = new cliProgress.SingleBar(
            {
              format:
                totalBytes === undefined
                  ? '{events} events | {rate} events/s | {duplicates} duplicates | {failed} failed | {invalid} invalid'
                  : '{bar} {percentage}% | {events} events | {rate} events/s | {duplicates} duplicates | {failed} failed | {invalid} invalid',
              stream: process.stderr,
              hideCursor: true,
            },
            cliProgress.Presets.shades_classic,
          );
          progress.start(totalBytes ?? 0, 0, { events: 0, rate: 0, duplicates: 0, failed: 0, invalid: 0 });
        }
        const startedMs = Date.now();
        const input = file === '-' ? process.stdin : createReadStream(file);
        let lineNumber = 0;
        let bytesRead = 0;
        let invalid = 0;
        let signed = 0;
        let lastUpdateMs = 0;
        const failures: string[] = [];
        // Lines go out in chunks: messages offered without an await in between leave in one socket write.
        const chunk: OutgoingUsageMessage[] = [];
        const lineOf = new Map<OutgoingUsageMessage, number | string>();
        // Events gathered for the next batched message; the same bytes twice in one batch are counted as a duplicate once.
        let pending: OutgoingUsageMessage[] = [];
        let pendingFirstLine = 0;
        const pendingIds = new Set<string>();
        let localDuplicates = 0;
        const closeBatch = (): void => {
          if (pending.length === 0) return;
          const message =
            pending.length === 1
              ? (pending[0] as OutgoingUsageMessage)
              : batchUsageMessage(pending, streamConfig.subjectPrefix);
          chunk.push(message);
          lineOf.set(message, pending.length === 1 ? pendingFirstLine : `${pendingFirstLine}-${lineNumber}`);
          pending = [];
          pendingIds.clear();
        };
        const sendChunk = async (): Promise<void> => {
          closeBatch();
          await publisher.enqueueMany(chunk, (outcome, message) => {
            if (outcome.status === 'failed' && failures.length < 20)
              failures.push(`line ${lineOf.get(message) ?? '?'}: ${outcome.error.message}`);
            lineOf.delete(message);
          });
          chunk.length = 0;
        };
        const source = file === '-' ? 'stdin' : file;
        // Lines that cannot be published at all (over the limit, not UTF-8), even with --publish-invalid.
        let unsendable = 0;
        const refuse = (detail: string): void => {
          invalid++;
          unsendable++;
          progress?.stop();
          process.stderr.write(
            printableOneLine(`${source}:${lineNumber}: malformed_json: ${detail} (not sent)`) + '\n',
          );
          progress?.start(totalBytes ?? 0, Math.min(bytesRead, totalBytes ?? 0));
        };
        // Lines as bytes with a length limit: a huge line is refused unread, bad bytes are named.
        for await (const read of readLines(input)) {
          lineNumber = read.number;
          if (read.kind === 'too_long') {
            bytesRead += read.bytes + 1;
            refuse(`the line is ${read.bytes} bytes, longer than the limit of ${MAX_LINE_BYTES} bytes for one event`);
            continue;
          }
          bytesRead += read.bytes.length + 1;
          const decoded = decodeLine(read.bytes);
          if (!decoded.ok) {
            refuse(`not valid UTF-8: byte ${decoded.offset + 1} of the line starts a bad sequence (${decoded.bytes})`);
            continue;
          }
          const line = decoded.text;
          if (line.trim().length === 0) continue;
          const prepared = prepareEvent(line, {
            keys,
            resign: options.resign === true,
            subjectPrefix: streamConfig.subjectPrefix,
          });
          if (!prepared.ok) {
            invalid++;
            progress?.stop();
            process.stderr.write(
              `${printableOneLine(`${source}:${lineNumber}: ${prepared.reason}: ${prepared.detail}`)}${options.publishInvalid ? ' (published anyway)' : ' (not sent)'}\n`,
            );
            progress?.start(totalBytes ?? 0, Math.min(bytesRead, totalBytes ?? 0));
            if (!options.publishInvalid) continue;
          } else if (prepared.signed) {
            signed++;
          }
          if (batchSize === 1) {
            chunk.push(prepared.message);
            lineOf.set(prepared.message, lineNumber);
          } else if (pendingIds.has(prepared.message.messageId)) {
            localDuplicates++;
          } else {
            if (pending.length === 0) pendingFirstLine = lineNumber;
            pending.push(prepared.message);
            pendingIds.add(prepared.message.messageId);
            if (pending.length >= batchSize) closeBatch();
          }
          if (chunk.length >= CHUNK_SIZE) await sendChunk();
          const nowMs = Date.now();
          if (progress !== undefined && nowMs - lastUpdateMs > 200) {
            lastUpdateMs = nowMs;
            const summary = publisher.summary();
            const done = summary.published + summary.duplicates + summary.failed;
            progress.update(Math.min(bytesRead, totalBytes ?? 0), {
              events: done,
              rate: Math.round(done / Math.max(0.001, (nowMs - startedMs) / 1000)),
              duplicates: summary.duplicates,
              failed: summary.failed,
              invalid,
            });
          }
        }
        await sendChunk();
        const published = await publisher.close();
        const summary = { ...published, duplicates: published.duplicates + localDuplicates };
        const seconds = (Date.now() - startedMs) / 1000;
        if (progress !== undefined) {
          progress.update(totalBytes ?? 0, {
            events: summary.published + summary.duplicates + summary.failed,
            rate: Math.round((summary.published + summary.duplicates) / Math.max(seconds, 0.001)),
            duplicates: summary.duplicates,
            failed: summary.failed,
            invalid,
          });
          progress.stop();
        }
        const result = {
          published: summary.published,
          duplicates: summary.duplicates,
          failed: summary.failed,
          invalid,
          invalid_published: options.publishInvalid ? invalid - unsendable : 0,
          signed,
          seconds: Math.round(seconds * 1000) / 1000,
          events_per_second: Math.round((summary.published + summary.duplicates) / Math.max(seconds, 0.001)),
        };
        if (options.json) {
          process.stdout.write(`${JSON.stringify(result)}\n`);
        } else {
          process.stdout.write(
            `published ${result.published}, duplicates acknowledged by the server ${result.duplicates}, failed ${result.failed}` +
              `${invalid > 0 ? `, invalid ${invalid} (${options.publishInvalid ? 'published anyway' : 'not sent'})` : ''}` +
              ` in ${result.seconds} s (${result.events_per_second} events/s)\n`,
          );
        }
        for (const failure of failures) process.stderr.write(`failed: ${failure}\n`);
        if (summary.failed > 0)
          throw new SendError(
            `${summary.failed} events could not be published; sending the file again is safe (message ids dedupe)`,
          );
        if (invalid > 0 && !options.publishInvalid) process.exitCode = 2;
      } finally {
        progress?.stop();
        await nc.drain().catch(() => undefined);
      }
    });
}
