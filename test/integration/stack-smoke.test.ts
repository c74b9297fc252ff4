import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate, MigrationError } from '../../db/migrate.ts';
import { testPool, testStack } from '../harness/services.ts';

const pool = testPool();
afterAll(async () => {
  await pool.end();
});

describe('the embedded stack', () => {
  it('runs a workflow and its activity on the Temporal dev server', async () => {
    const { endpoints } = testStack();
    const connection = await NativeConnection.connect({ address: endpoints.temporalAddress });
    const taskQueue = `smoke-${process.pid}`;
    const worker = await Worker.create({
      connection,
      namespace: endpoints.temporalNamespace,
      taskQueue,
      workflowsPath: fileURLToPath(new URL('../harness/smoke-workflow.ts', import.meta.url)),
      activities: { recordAmount: async (amount: string) => `recorded ${amount}` },
    });
    const clientConnection = await Connection.connect({ address: endpoints.temporalAddress });
    const client = new Client({ connection: clientConnection, namespace: endpoints.temporalNamespace });
    try {
      const result = await worker.runUntil(
        client.workflow.execute('smokeWorkflow', {
          taskQueue,
          workflowId: `smoke-${process.pid}-${Date.now()}`,
          args: ['12.345678901234'],
        }),
      );
      expect(result).toBe('recorded 12.345678901234');
    } finally {
      await clientConnection.close();
      await connection.close();
    }
  }, 120_000);

  it('round-trips a message through a JetStream stream', async () => {
    const nc = await connect({ servers: testStack().endpoints.natsUrl });
    try {
      const manager = await jetstreamManager(nc);
      const stream = `SMOKE_${process.pid}`;
      await manager.streams.add({ name: stream, subjects: [`smoke.${process.pid}.>`] });
      const js = jetstream(nc);
      const ack = await js.publish(`smoke.${process.pid}.a`, '{"quantity":"1.5"}', { msgID: 'one' });
      const again = await js.publish(`smoke.${process.pid}.a`, '{"quantity":"1.5"}', { msgID: 'one' });
      expect(again.duplicate).toBe(true);
      await manager.consumers.add(stream, { durable_name: 'reader', ack_policy: 'explicit' });
      const message = await (await js.consumers.get(stream, 'reader')).next({ expires: 5000 });
      expect(message?.seq).toBe(ack.seq);
      expect(message?.json()).toEqual({ quantity: '1.5' });
      message?.ack();
      await manager.streams.delete(stream);
    } finally {
      await nc.close();
    }
  });

  it('applies a migration and keeps NUMERIC values as exact strings', async () => {
    const directory = await mkdtemp(path.join(os.tmpdir(), 'tally-migrations-'));
    const table = `smoke_amounts_${process.pid}`;
    await writeFile(
      path.join(directory, '9001_create_smoke_amounts.sql'),
      `CREATE TABLE ${table} (amount numeric NOT NULL);`,
    );
    const applied = await migrate(pool, directory);
    expect(applied.map((migration) => migration.name)).toContain('create_smoke_amounts');
    await pool.query(`INSERT INTO ${table} (amount) VALUES ($1)`, ['12345678901234567890.123456789012']);
    const { rows } = await pool.query<{ amount: unknown }>(`SELECT amount, amount * 3 AS tripled FROM ${table}`);
    expect(rows[0]).toEqual({
      amount: '12345678901234567890.123456789012',
      tripled: '37037036703703703670.370370367036',
    });

    // Forward-only: an applied migration that changes is refused, not re-run.
    await writeFile(path.join(directory, '9001_create_smoke_amounts.sql'), `CREATE TABLE ${table} (amount numeric);`);
    await expect(migrate(pool, directory)).rejects.toThrow(MigrationError);
    await pool.query(`DROP TABLE ${table}`);
    await pool.query('DELETE FROM schema_migrations WHERE name = $1', ['create_smoke_amounts']);
  });
});
