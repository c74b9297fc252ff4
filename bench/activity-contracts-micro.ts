/**
 * What the activity-contract interceptor costs a close: the checks of the activities one happy-path
 * live close runs (terms, snapshot, rating, authority, credits, review, issue, sync, journal), each
 * input before and output after, with typical values, as activities/activity-contracts.ts makes them.
 * CPU only (no Temporal, no I/O); on a shared machine compare a few runs.
 *
 *   npx tsx bench/activity-contracts-micro.ts [closes, default 50000]
 */
import { activityContract, contractProblem } from '../contracts/activity-io.ts';

const target = { customerId: 'cus_0042', period: '2026-10', mode: 'live', calculationVersion: 'calc-2026.11.1' };
const invoiceId = 'inv:cus_0042:2026-10';
const CLOSE: ReadonlyArray<readonly [string, unknown[], unknown]> = [
  [
    'loadPeriodTerms',
    [{ ...target, graceMs: 3_600_000 }],
    { closesAt: '2026-11-01T01:00:00.000Z', currency: 'USD', providerKind: 'stripe', known: true },
  ],
  [
    'snapshotPeriod',
    [{ ...target, closeRequestedAt: '2026-11-01T01:00:00.000Z' }],
    {
      status: 'snapshotted',
      snapshotId: 'snap:cus_0042:2026-10:live:calc-2026.11.1',
      eventCutoff: '2026-11-01T01:00:00.000Z',
      eventCount: 48_213,
      fingerprint: 'b'.repeat(64),
    },
  ],
  [
    'rateDraftInvoice',
    [{ ...target, snapshotId: 'snap:cus_0042:2026-10:live:calc-2026.11.1' }],
    { invoiceId, total: '18234.570000', currency: 'USD', skip: false },
  ],
  ['settleBillingAuthority', [{ invoiceId }], { authority: 'tally', decidedFrom: 'default' }],
  ['drawDownCredits', [{ invoiceId }], { draws: 1 }],
  ['evaluateReview', [{ invoiceId }], []],
  ['issueInvoice', [{ invoiceId }], { invoiceNumber: 'TLY-2026-000042', total: '18234.57' }],
  ['syncInvoice', [{ invoiceId }], { externalInvoiceId: 'in_1Q2w3E4r5T6y' }],
  ['postJournal', [{ invoiceId }], { posted: 2, alreadyPosted: 0 }],
];
const checks = CLOSE.map(([name, input, output]) => {
  const contract = activityContract(name);
  if (contract === undefined) throw new Error(`no contract for ${name}`);
  return { name, contract, input, output };
});

function close(): number {
  let problems = 0;
  for (const { contract, input, output } of checks) {
    if (contractProblem(contract.input, input, true) !== undefined) problems++;
    if (contractProblem(contract.output, output) !== undefined) problems++;
  }
  return problems;
}

const closes = Number(process.argv[2] ?? '50000');
for (let warm = 0; warm < 2000; warm++) close();
const before = process.cpuUsage();
let problems = 0;
for (let round = 0; round < closes; round++) problems += close();
const used = process.cpuUsage(before);
if (problems > 0) throw new Error(`${problems / closes} typical values refused: fix the bench or the contract`);
const perClose = (used.user + used.system) / closes;
console.log(
  `activity contracts: ${perClose.toFixed(1)} µs CPU per close (${checks.length} activities, input and output) ` +
    `over ${closes} closes; ${(perClose / (2 * checks.length)).toFixed(2)} µs per check`,
);
