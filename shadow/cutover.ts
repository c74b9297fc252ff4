import type pg from 'pg';
import { parseContractText, type BillingAuthority } from '../contracts/contract.ts';
import { TallyError } from '../contracts/tally-error.ts';
import { appendAuditEntry } from '../db/queries/audit-log.ts';
import {
  insertAuthorityFlip,
  lastPeriodsByAuthority,
  latestAuthorityFlip,
  listAuthorityFlips,
  lockCustomerAuthority,
  type AuthorityFlip,
} from '../db/queries/billing-authority.ts';
import { currentContractText, currentContractTexts } from '../db/queries/contract-publications.ts';
import { withTransaction } from '../db/pool.ts';
import {
  authorityInForce,
  cohortReadiness,
  type AuthoritySource,
  type CustomerReadiness,
} from '../domain/shadow/index.ts';
import { loadReadinessFacts } from './shadow-reports.ts';

/**
 * Cutover by cohort (docs/decisions/shadow.md): `tally shadow cutover` gives Tally the billing
 * authority of customers that are ready (SPEC §6 readiness, per customer), `tally shadow rollback`
 * gives it back to the legacy biller. Each flip is a row of `billing_authority_flips` and an entry of
 * the hash-chained audit log, in one transaction; a cohort flips whole or not at all.
 */

class CutoverRefusedError extends TallyError {
  constructor(code: 'cutover_not_ready' | 'bad_cohort', message: string) {
    super(code, message, { permanent: true });
  }
}

export interface FlipOutcome {
  readonly customerId: string;
  readonly from: BillingAuthority;
  readonly to: BillingAuthority;
  /** False: the customer already had that authority (nothing recorded). */
  readonly changed: boolean;
  readonly flipId: string | undefined;
}

interface FlipRequest {
  readonly customerIds: readonly string[];
  readonly reason: string;
  /** Who runs the command (the audit actor is `cli:<operator>`). */
  readonly operator: string;
}

/**
 * Moves a cohort to Tally, refused (nothing flipped) unless every customer is ready over the source's
 * last `periods` periods (ending with `through`, default the newest with a completed run).
 */
export async function cutOverCohort(
  pool: pg.Pool,
  request: FlipRequest & { readonly source: string; readonly periods: number; readonly through?: string | undefined },
): Promise<{ readiness: CustomerReadiness[]; flips: FlipOutcome[] }> {
  const customerIds = checkCohort(request);
  await requireContracts(pool, customerIds);
  const facts = await loadReadinessFacts(pool, request);
  const readiness = cohortReadiness({ ...facts, customerIds });
  const notReady = readiness.filter((customer) => !customer.ready);
  if (notReady.length > 0) {
    const lines = notReady.flatMap((customer) =>
      customer.reasons.map(
        (reason) => `  ${customer.customerId}${reason.period === '' ? '' : ` ${reason.period}`}: ${reason.reason}`,
      ),
    );
    throw new CutoverRefusedError(
      'cutover_not_ready',
      `cutover refused, nothing flipped: ${notReady.length} of ${customerIds.length} customers not ready against ${request.source} over ${request.periods} periods${facts.through === undefined ? '' : ` through ${facts.through}`}\n${lines.join('\n')}`,
    );
  }
  const flips = await flipCohort(pool, customerIds, 'tally', request, (customerId) => {
    const granted = readiness.find((customer) => customer.customerId === customerId) as CustomerReadiness;
    return {
      source: request.source,
      periods: facts.periods,
      runs: granted.runs.map((run) => ({ period: run.period, run_id: run.runId })),
    };
  });
  return { readiness, flips };
}

/** Gives a cohort back to the legacy biller (no readiness needed: going back is always allowed). */
export async function rollBackCohort(pool: pg.Pool, request: FlipRequest): Promise<FlipOutcome[]> {
  const customerIds = checkCohort(request);
  await requireContracts(pool, customerIds);
  return flipCohort(pool, customerIds, 'legacy', request, () => ({}));
}

export interface CustomerAuthority {
  readonly customerId: string;
  readonly authority: BillingAuthority;
  readonly decidedFrom: AuthoritySource;
  readonly lastFlip: AuthorityFlip | undefined;
  /** The newest period whose close each biller had (from the closes' recorded decisions). */
  readonly lastLegacyPeriod: string | undefined;
  readonly lastTallyPeriod: string | undefined;
}

/** Who bills each customer with a contract (or only the given ones), and why. */
export async function listBillingAuthorities(
  pool: pg.Pool,
  customerIds?: readonly string[],
): Promise<CustomerAuthority[]> {
  const contracts = new Map(
    (await currentContractTexts(pool)).map((text) => [text.customerId, contractAuthority(text)] as const),
  );
  const flips = await listAuthorityFlips(pool, customerIds);
  const ids = customerIds ?? [...new Set([...contracts.keys(), ...flips.map((flip) => flip.customerId)])].sort();
  const periods = await lastPeriodsByAuthority(pool, ids);
  return ids.map((customerId) => {
    const lastFlip = flips.find((flip) => flip.customerId === customerId);
    const inForce = authorityInForce(lastFlip, contracts.get(customerId));
    return {
      customerId,
      authority: inForce.authority,
      decidedFrom: inForce.decidedFrom,
      lastFlip,
      lastLegacyPeriod: periods.get(customerId)?.legacy,
      lastTallyPeriod: periods.get(customerId)?.tally,
    };
  });
}

async function flipCohort(
  pool: pg.Pool,
  customerIds: readonly string[],
  to: BillingAuthority,
  request: FlipRequest,
  readinessOf: (customerId: string) => Record<string, string | string[] | { period: string; run_id: string }[]>,
): Promise<FlipOutcome[]> {
  return withTransaction(pool, async (client) => {
    const outcomes: FlipOutcome[] = [];
    // Sorted, so two flips of overlapping cohorts take the customers' locks in one order.
    for (const customerId of [...customerIds].sort()) {
      await lockCustomerAuthority(client, customerId);
      const contract = await currentContractText(client, customerId);
      const from = authorityInForce(
        await latestAuthorityFlip(client, customerId),
        contract === undefined ? undefined : contractAuthority(contract),
      ).authority;
      if (from === to) {
        outcomes.push({ customerId, from, to, changed: false, flipId: undefined });
        continue;
      }
      const readiness = readinessOf(customerId);
      const flip = await insertAuthorityFlip(client, {
        customerId,
        authority: to,
        previous: from,
        reason: request.reason,
        operator: request.operator,
        readiness,
      });
      await appendAuditEntry(client, {
        actor: { kind: 'process', name: `cli:${request.operator}` },
        action: 'cutover_flipped',
        subject: `customer:${customerId}`,
        details: {
          command: to === 'tally' ? 'cutover' : 'rollback',
          from,
          to,
          reason: request.reason,
          flip_id: flip.flipId,
          ...(Object.keys(readiness).length === 0 ? {} : { readiness }),
        },
      });
      outcomes.push({ customerId, from, to, changed: true, flipId: flip.flipId });
    }
    return outcomes;
  });
}

const CUSTOMER_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function checkCohort(request: FlipRequest): string[] {
  if (request.reason.trim() === '')
    throw new CutoverRefusedError('bad_cohort', '--reason says why, it cannot be empty');
  if (request.customerIds.length === 0)
    throw new CutoverRefusedError('bad_cohort', '--customers names at least one customer');
  const bad = request.customerIds.filter((customerId) => !CUSTOMER_ID.test(customerId));
  if (bad.length > 0)
    throw new CutoverRefusedError(
      'bad_cohort',
      `--customers: ${bad.map((customerId) => JSON.stringify(customerId)).join(', ')} is not a customer id (1-128 chars of [A-Za-z0-9._:-])`,
    );
  return [...new Set(request.customerIds)];
}

async function requireContracts(pool: pg.Pool, customerIds: readonly string[]): Promise<void> {
  const missing: string[] = [];
  for (const customerId of customerIds)
    if ((await currentContractText(pool, customerId)) === undefined) missing.push(customerId);
  if (missing.length > 0)
    throw new CutoverRefusedError(
      'bad_cohort',
      `no contract published for ${missing.join(', ')}: only a customer Tally knows can change billers (nothing flipped)`,
    );
}

/** The contract's starting authority (stored contracts were validated when published). */
function contractAuthority(text: { content: string; fileName: string }): BillingAuthority | undefined {
  const parsed = parseContractText(text.content, text.fileName);
  return parsed.ok ? parsed.contract.billing_authority : undefined;
}
