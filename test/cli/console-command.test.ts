import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repositoryRoot } from '../../config/services.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { testStack } from '../harness/services.ts';

// `tally console` as an operator starts it: on the stack's base + 8 by default, over the same
// Postgres and Temporal as the workers; it answers and stops cleanly on SIGTERM.
let testbed: BillingTestbed;
beforeAll(async () => {
  testbed = await BillingTestbed.create('console_cli');
});
afterAll(async () => {
  await testbed.close();
});

describe('tally console', () => {
  it('serves the health check and the sign-in page on the stack base + 8, and stops on SIGTERM', async () => {
    const { endpoints, layout } = testStack();
    const port = layout.portBase + 8;
    const child = spawn(process.execPath, [path.join(repositoryRoot, 'bin', 'tally.mjs'), 'console'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TALLY_PORT_BASE: String(layout.portBase),
        DATABASE_URL: testbed.databaseUrl,
        NATS_URL: endpoints.natsUrl,
        TEMPORAL_ADDRESS: endpoints.temporalAddress,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 120_000;
      while (!output.includes(`tally console on http://127.0.0.1:${port}`)) {
        if (child.exitCode !== null) throw new Error(`tally console exited ${child.exitCode}:\n${output}`);
        if (Date.now() > deadline) throw new Error(`tally console did not start:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // Every body is read: an unread one keeps its connection busy, and a clean stop waits for it.
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      await health.arrayBuffer();
      const login = await fetch(`http://127.0.0.1:${port}/login`);
      expect(login.status).toBe(200);
      expect(await login.text()).toContain('<form id="login-form"');
      expect(login.headers.get('content-security-policy')).toContain("script-src 'self'");
      const api = await fetch(`http://127.0.0.1:${port}/api/v1/invoices`);
      expect(api.status).toBe(401);
      expect(await api.json()).toMatchObject({ error: { code: 'unauthenticated' } });
      const chart = await fetch(`http://127.0.0.1:${port}/assets/vendor/chart.umd.min.js`);
      expect(chart.status).toBe(200);
      expect((await chart.text()).length).toBeGreaterThan(100_000);
      // Only Chart.js's one build is served from node_modules, nothing else beside it.
      const other = await fetch(`http://127.0.0.1:${port}/assets/vendor/chart.js`);
      expect(other.status).toBe(404);
      await other.arrayBuffer();
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 240_000);
});
