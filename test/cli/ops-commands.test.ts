import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildContract } from '../builders/rating.ts';
import { buildUsageEvent } from '../builders/usage-event.ts';
import { BillingTestbed } from '../harness/billing-testbed.ts';
import { runTallyAsOperator } from './run-tally.ts';

// Billing ops' day, through the `tally` command as they run it: close a period, find the exception,
// read its context, approve it, see the invoice and where the workflow stands.
let testbed: BillingTestbed;
beforeAll(async () => {
  testbed = await BillingTestbed.create('ops_cli');
});
afterAll(async () => {
  await testbed.close();
});

function tally(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return tallyWith({}, ...args);
}

/** `tally` with standard input (a password) and extra environment (a personal token). */
function tallyWith(options: { input?: string; env?: Record<string, string> }, ...args: string[]) {
  return runTallyAsOperator(testbed, options, ...args);
}

describe('the ops commands', () => {
  it('close a period, review its exception with context, approve it, and list the issued invoice', async () => {
    const customerId = 'ops-cli';
    await testbed.publishContract(
      buildContract({
        customer_id: customerId,
        starts_at: '2026-01-01T00:00:00Z',
        review: { total_above: '1.00', timeout: '72h' },
        provider: { kind: 'ledger', customer: customerId },
      }),
    );
    await testbed.storeEvents(
      [1, 2].map((index) =>
        buildUsageEvent({
          customer_id: customerId,
          event_id: `${customerId}-${index}`,
          timestamp: `2026-10-0${index}T09:00:00.000Z`,
          quantity: '400000',
        }),
      ),
    );
    await testbed.withWorker(async () => {
      const close = await tally('period', 'close', customerId, '2026-10');
      expect(close.status, close.stderr).toBe(0);
      expect(close.stdout).toContain(`close requested: billing:${customerId}:2026-10`);

      let exceptionId: string | undefined;
      const deadline = Date.now() + 60_000;
      while (exceptionId === undefined) {
        const list = await tally('review', 'list', '--json');
        expect(list.status, list.stderr).toBe(0);
        exceptionId = (JSON.parse(list.stdout) as { exceptionId: string; customerId: string }[]).find(
          (exception) => exception.customerId === customerId,
        )?.exceptionId;
        if (Date.now() > deadline) throw new Error('no exception listed');
      }
      const show = await tally('review', 'show', exceptionId);
      expect(show.status, show.stderr).toBe(0);
      expect(show.stdout).toContain('why it stopped:');
      expect(show.stdout).toMatch(/total_above: total \d+\.\d{2} USD is above 1\.00/);
      expect(show.stdout).toContain('previous invoices:');

      const reject = await tally('review', 'reject', exceptionId);
      expect(reject.status).not.toBe(0);
      expect(reject.stderr).toContain('--reason');

      // Decisions are made as a console user: a typed-in name is no longer an option.
      const password = 'a long enough password for eve';
      const added = await tallyWith({ input: `${password}\n` }, 'users', 'add', 'ops-eve', '--role', 'reviewer');
      expect(added.status, added.stderr).toBe(0);
      expect(added.stdout).not.toContain(password);
      const typedName = await tally('review', 'approve', exceptionId, '--reviewer', 'ops-eve');
      expect(typedName.status).not.toBe(0);
      const anonymous = await tally('review', 'approve', exceptionId);
      expect(anonymous.status).not.toBe(0);
      expect(anonymous.stderr).toContain('TALLY_USER_TOKEN');
      const wrongPassword = await tallyWith({ input: 'not it\n' }, 'review', 'approve', exceptionId, '--as', 'ops-eve');
      expect(wrongPassword.status).not.toBe(0);
      expect(wrongPassword.stderr).toContain('wrong username or password');

      const issued = await tallyWith({ input: `${password}\n` }, 'users', 'token', 'ops-eve');
      expect(issued.status, issued.stderr).toBe(0);
      const token = issued.stdout.trim();
      const approve = await tallyWith({ env: { TALLY_USER_TOKEN: token } }, 'review', 'approve', exceptionId);
      expect(approve.status, approve.stderr).toBe(0);
      expect(approve.stdout).toContain(`${exceptionId}: approve by ops-eve`);
      const again = await tallyWith({ input: `${password}\n` }, 'review', 'approve', exceptionId, '--as', 'ops-eve');
      expect(again.stdout).toContain('already recorded; nothing changed');
      const audit = await tally('audit', 'list', '--action', 'exception_decided', '--json');
      expect(JSON.parse(audit.stdout)).toMatchObject([
        { actor: { kind: 'user', name: 'ops-eve' }, details: { via: 'password', repeated: true } },
        { actor: { kind: 'user', name: 'ops-eve' }, details: { via: 'token', repeated: false } },
      ]);
      const verify = await tally('audit', 'verify');
      expect(verify.status, verify.stderr).toBe(0);
      expect(verify.stdout).toMatch(/^audit log intact: \d+ entries; head \d+:[0-9a-f]{64}/);

      const closed = testbed.client.workflow.getHandle(`billing:${customerId}:2026-10`);
      expect((await closed.result()).stage).toBe('completed');
      // The Temporal UI lists it by what it is, and by where its review stands.
      const description = await closed.describe();
      expect(await description.staticSummary()).toBe(`${customerId} · 2026-10 · period close`);
      expect(description.searchAttributes).toMatchObject({ ReviewState: ['decided'], ExceptionKind: ['threshold'] });
    });
    const invoices = await tally('invoice', 'list', '--customer', customerId, '--json');
    expect(JSON.parse(invoices.stdout)).toMatchObject([
      { customer_id: customerId, invoice_number: `${customerId}-0001` },
    ]);
    const shown = await tally('invoice', 'show', `inv:${customerId}:2026-10`);
    expect(shown.stdout).toContain(`Invoice inv:${customerId}:2026-10: issued, no. ${customerId}-0001`);
    expect(shown.stdout).toMatch(/SUBTOTAL\s+507\.20\nTOTAL USD\s+507\.20/);
    const status = await tally('period', 'status', customerId);
    expect(status.stdout).toMatch(new RegExp(`billing:${customerId}:2026-10\\s+COMPLETED`));
  }, 180_000);

  it('names the currency of every amount: the exception, an adjust proposed and confirmed, the invoice', async () => {
    const customerId = 'ops-cli-adjust';
    await testbed.publishContract(
      buildContract({
        customer_id: customerId,
        starts_at: '2026-01-01T00:00:00Z',
        review: { total_above: '1.00', dual_control_above: '100.00', timeout: '72h' },
        provider: { kind: 'ledger', customer: customerId },
      }),
    );
    await testbed.storeEvents(
      ['10', '11'].flatMap((month) =>
        [1, 2].map((index) =>
          buildUsageEvent({
            customer_id: customerId,
            event_id: `${customerId}-${month}-${index}`,
            timestamp: `2026-${month}-0${index}T09:00:00.000Z`,
            quantity: '400000',
          }),
        ),
      ),
    );
    const passwords = { 'ops-ann': 'a long enough password for ann', 'ops-bob': 'a long enough password for bob' };
    for (const [name, password] of Object.entries(passwords)) {
      const added = await tallyWith({ input: `${password}\n` }, 'users', 'add', name, '--role', 'reviewer');
      expect(added.status, added.stderr).toBe(0);
    }
    const exceptionOf = async (period: string): Promise<string> => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const list = await tally('review', 'list', '--json');
        const found = (JSON.parse(list.stdout) as { exceptionId: string; customerId: string; period: string }[]).find(
          (exception) => exception.customerId === customerId && exception.period === period,
        );
        if (found !== undefined) return found.exceptionId;
        if (Date.now() > deadline) throw new Error(`no exception listed for ${period}`);
      }
    };
    await testbed.withWorker(async () => {
      // October is approved: it is the November exception's previous invoice.
      const october = await tally('period', 'close', customerId, '2026-10');
      expect(october.status, october.stderr).toBe(0);
      const approved = await tallyWith(
        { input: `${passwords['ops-ann']}\n` },
        'review',
        'approve',
        await exceptionOf('2026-10'),
        '--as',
        'ops-ann',
      );
      expect(approved.status, approved.stderr).toBe(0);
      expect((await testbed.client.workflow.getHandle(`billing:${customerId}:2026-10`).result()).stage).toBe(
        'completed',
      );
      const close = await tally('period', 'close', customerId, '2026-11');
      expect(close.status, close.stderr).toBe(0);
      const exceptionId = await exceptionOf('2026-11');

      const show = await tally('review', 'show', exceptionId);
      expect(show.status, show.stderr).toBe(0);
      expect.soft(show.stdout).toMatch(/draft invoice \(USD\): subtotal \d+\.\d{2} USD, total \d+\.\d{2} USD\n/);
      expect.soft(show.stdout).toMatch(/line\s+id\s+quantity\s+amount USD\n\s+usage\s+\S+\s+800000\s+\d+\.\d{2}\n/);
      expect
        .soft(show.stdout)
        .toMatch(new RegExp(`previous invoices:\\n  2026-10  ${customerId}-0001  \\d+\\.\\d{2} USD\\n`));

      // The first reviewer proposes an adjust above dual_control_above; the second confirms it.
      const adjust = (name: keyof typeof passwords) =>
        tallyWith(
          { input: `${passwords[name]}\n` },
          'review',
          'adjust',
          exceptionId,
          '--as',
          name,
          '--reason',
          'meter double-counted on the 2nd',
          '--amount',
          '-250.00',
        );
      const proposed = await adjust('ops-ann');
      expect(proposed.status, proposed.stderr).toBe(0);
      expect.soft(proposed.stdout).toContain(`${exceptionId}: adjust -250.00 USD proposed by ops-ann`);
      const confirmed = await adjust('ops-bob');
      expect(confirmed.status, confirmed.stderr).toBe(0);
      expect.soft(confirmed.stdout).toContain(`${exceptionId}: adjust -250.00 USD by ops-ann, confirmed by ops-bob`);
      expect((await testbed.client.workflow.getHandle(`billing:${customerId}:2026-11`).result()).stage).toBe(
        'completed',
      );
    });
    const shown = await tally('invoice', 'show', `inv:${customerId}:2026-11`);
    expect(shown.status, shown.stderr).toBe(0);
    expect.soft(shown.stdout).toMatch(/^LINE\s.*\sAMOUNT USD$/m);
    expect.soft(shown.stdout).toMatch(/^\s+tier 1: \S+ \S+ × \d+\.\d{2,} USD = \d+\.\d{2,} USD$/m);
    expect.soft(shown.stdout).toMatch(/^adjustment\s+review adjustment\s+-250\.00\n/m);
    expect(shown.stdout).toMatch(/TOTAL USD\s+\d+\.\d{2}\n/);
  }, 240_000);
});
