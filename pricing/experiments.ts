import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { parseDocument } from 'yaml';
import { parseContractText } from '../contracts/contract.ts';
import type { AssignmentRule, ExperimentAssignment, PricingExperiment } from '../contracts/pricing-experiment.ts';
import { contentHash, parseRateCardText } from '../contracts/ratecard.ts';
import { TallyError } from '../contracts/tally-error.ts';
import { withTransaction } from '../db/pool.ts';
import { appendAuditEntry } from '../db/queries/audit-log.ts';
import { currentContractText, currentContractTexts } from '../db/queries/contract-publications.ts';
import {
  customersInRunningExperiments,
  experimentAssignments,
  findPricingExperiment,
  insertExperimentAssignments,
  insertPricingExperiment,
  lockPricingExperiments,
  markPricingExperimentStopped,
} from '../db/queries/pricing-experiments.ts';
import { loadPublishedRateCardTexts } from '../db/queries/ratecard-publications.ts';
import { billingPeriod } from '../domain/period.ts';
import { assignArms } from '../domain/pricing-experiments/index.ts';
import { Decimal } from '../domain/money.ts';
import { publishContractTexts, publishRateCardFiles } from '../terms/index.ts';
import { loadCandidateCard } from './simulate.ts';

/**
 * Live pricing experiments (SPEC §10; docs/decisions/finops.md "Pricing experiments"). An experiment
 * moves a cohort of the base card's contracts to a variant card from a start period, and billing
 * picks that up through the one path it has: published terms (terms/). Creating one
 *   1. validates the variant card like a published card and publishes it as its own rate card, its
 *      history before the start period a copy of the base card's published versions (so a period
 *      before the start that is still open bills exactly as the base would; later ones bill the variant);
 *   2. assigns every eligible contract (on the base card, in the variant's currency, active at the start,
 *      in no other running experiment) to an arm, by a seeded hash or an explicit list, and records the
 *      experiment, the cohorts and an audit entry in one transaction;
 *   3. publishes each variant contract again with only `ratecard` changed (a new publication supersedes
 *      the contract; periods already snapshotted keep the contract they recorded, closed periods are
 *      never touched).
 * Creating the same experiment again resumes step 3 and changes nothing else; another definition under
 * the same id is refused. Stopping publishes the variant contracts back on the base card.
 */

export class PricingExperimentError extends TallyError {
  constructor(code: string, message: string) {
    super(code, message, { permanent: true });
  }
}

export interface CreateExperimentInput {
  readonly experimentId: string;
  readonly baseRatecard: string;
  /** The variant card's folder (`<variant>/<effective_from>.yaml`). */
  readonly variantDir: string;
  readonly startPeriod: string;
  readonly rule: AssignmentRule;
  readonly reason: string;
  readonly by: string;
}

export interface ExperimentState {
  readonly experiment: PricingExperiment;
  readonly assignments: readonly (ExperimentAssignment & {
    /** Whether the customer's contract in force is the experiment's variant publication. */
    readonly onVariant: boolean;
  })[];
}

export interface CreateExperimentResult extends ExperimentState {
  readonly status: 'created' | 'already_created';
  /** Variant contracts that changed since assignment and were not moved (a person decides). */
  readonly conflicts: readonly { customer_id: string; detail: string }[];
}

export async function createPricingExperiment(
  pool: pg.Pool,
  input: CreateExperimentInput,
): Promise<CreateExperimentResult> {
  const start = billingPeriod(input.startPeriod);
  const variantFiles = await loadCandidateCard(input.variantDir);
  const variant = variantFiles[0]!;
  if (variant.ratecard === input.baseRatecard)
    throw new PricingExperimentError(
      'experiment_variant_is_base',
      `the variant card is named ${variant.ratecard}, like the base card: give it its own name (its folder and its ratecard field)`,
    );
  // Asked again: the same definition resumes step 3 only, another one is refused before anything is published.
  const existing = await findPricingExperiment(pool, input.experimentId);
  if (existing !== undefined) {
    refuseOtherDefinition(existing, input, variant.ratecard, start.name);
    const conflicts = await moveContracts(pool, input.experimentId, 'to_variant', input.by);
    return { status: 'already_created', conflicts, ...(await pricingExperimentState(pool, input.experimentId)) };
  }
  const early = variantFiles.filter((version) => Date.parse(version.effective_from) < Date.parse(start.start));
  if (early.length > 0 || variant.effective_from !== new Date(start.start).toISOString())
    throw new PricingExperimentError(
      'experiment_variant_dates',
      `the variant card's first version must take effect when ${start.name} starts (${start.start}); its versions start ${variantFiles.map((version) => version.effective_from).join(', ')}`,
    );
  const actor = { kind: 'process' as const, name: `cli:${input.by}` };

  // 1. The variant card: the base's published history before the start, then the variant's own versions.
  const baseTexts = await loadPublishedRateCardTexts(pool, input.baseRatecard);
  if (baseTexts.length === 0)
    throw new PricingExperimentError(
      'experiment_unknown_base',
      `rate card ${input.baseRatecard} has no published version`,
    );
  const folderRoot = await mkdtemp(path.join(os.tmpdir(), 'tally-experiment-'));
  try {
    const folder = path.join(folderRoot, variant.ratecard);
    await mkdir(folder);
    const files: string[] = [];
    for (const text of baseTexts) {
      const parsed = parseRateCardText(text.content, text.fileName);
      if (!parsed.ok || Date.parse(parsed.version.effective_from) >= Date.parse(start.start)) continue;
      if (parsed.version.currency !== variant.currency)
        throw new PricingExperimentError(
          'experiment_currency',
          `the base card ${input.baseRatecard} is in ${parsed.version.currency}, the variant in ${variant.currency}`,
        );
      const document = parseDocument(text.content);
      document.set('ratecard', variant.ratecard);
      document.set(
        'note',
        `Pricing experiment ${input.experimentId}: before ${start.name} this card bills as ${input.baseRatecard} (copy of its version of ${parsed.version.effective_from})`,
      );
      const file = path.join(folder, path.basename(text.fileName));
      await writeFile(file, document.toString({ lineWidth: 0 }));
      files.push(file);
    }
    for (const version of variantFiles) {
      const source = path.resolve(input.variantDir, path.basename(version.file));
      const file = path.join(folder, path.basename(version.file));
      await writeFile(file, await readFile(source, 'utf8'));
      files.push(file);
    }
    await publishRateCardFiles(pool, files.sort(), {
      publishedBy: `cli:${input.by}`,
      note: `pricing experiment ${input.experimentId}: ${input.reason}`,
      actor,
    });
  } finally {
    await rm(folderRoot, { recursive: true, force: true });
  }

  // 2. The cohorts, the experiment and its audit entry, once.
  const status = await withTransaction(pool, async (client) => {
    await lockPricingExperiments(client);
    const raced = await findPricingExperiment(client, input.experimentId);
    if (raced !== undefined) {
      refuseOtherDefinition(raced, input, variant.ratecard, start.name);
      return 'already_created' as const;
    }
    const busy = await customersInRunningExperiments(client, input.experimentId);
    const eligible: { customerId: string; contentHash: string; content: string; fileName: string }[] = [];
    for (const text of await currentContractTexts(client)) {
      const parsed = parseContractText(text.content, text.fileName);
      if (!parsed.ok) continue;
      const contract = parsed.contract;
      if (contract.ratecard !== input.baseRatecard || contract.currency !== variant.currency) continue;
      if (contract.ends_at !== undefined && Date.parse(contract.ends_at) <= Date.parse(start.start)) continue;
      if (busy.has(text.customerId)) continue;
      eligible.push(text);
    }
    if (input.rule.kind === 'list') {
      const eligibleIds = new Set(eligible.map((entry) => entry.customerId));
      const missing = input.rule.variant_customers.filter((id) => !eligibleIds.has(id));
      if (missing.length > 0)
        throw new PricingExperimentError(
          'experiment_ineligible',
          `not eligible for the variant (no contract in force on ${input.baseRatecard} in ${variant.currency} active at ${start.name}, or in another running experiment): ${missing.join(', ')}`,
        );
    }
    const arms = assignArms(
      eligible.map((entry) => entry.customerId),
      input.rule.kind === 'hash'
        ? { kind: 'hash', seed: input.rule.seed, variantShare: new Decimal(input.rule.variant_share) }
        : { kind: 'list', variantCustomers: input.rule.variant_customers },
    );
    const byCustomer = new Map(eligible.map((entry) => [entry.customerId, entry]));
    await insertPricingExperiment(client, {
      experimentId: input.experimentId,
      baseRatecard: input.baseRatecard,
      variantRatecard: variant.ratecard,
      currency: variant.currency,
      startPeriod: start.name,
      rule: input.rule,
      reason: input.reason,
      createdBy: `cli:${input.by}`,
    });
    await insertExperimentAssignments(
      client,
      arms.map(({ customerId, arm }) => {
        const before = byCustomer.get(customerId)!;
        return {
          experiment_id: input.experimentId,
          customer_id: customerId,
          arm,
          contract_hash_before: before.contentHash,
          contract_hash_variant: arm === 'variant' ? contentHash(withRatecard(before.content, variant.ratecard)) : null,
        };
      }),
    );
    await appendAuditEntry(client, {
      actor,
      action: 'pricing_experiment_created',
      subject: `pricing_experiment:${input.experimentId}`,
      details: {
        base_ratecard: input.baseRatecard,
        variant_ratecard: variant.ratecard,
        start_period: start.name,
        rule: input.rule,
        reason: input.reason,
        variant: arms.filter((entry) => entry.arm === 'variant').map((entry) => entry.customerId),
        control: arms.filter((entry) => entry.arm === 'control').map((entry) => entry.customerId),
      },
    });
    return 'created' as const;
  });

  // 3. The variant contracts, published on the variant card (a no-op for those already moved).
  const conflicts = await moveContracts(pool, input.experimentId, 'to_variant', input.by);
  return { status, conflicts, ...(await pricingExperimentState(pool, input.experimentId)) };
}

function refuseOtherDefinition(
  existing: PricingExperiment,
  input: CreateExperimentInput,
  variantRatecard: string,
  startPeriod: string,
): void {
  const same =
    existing.base_ratecard === input.baseRatecard &&
    existing.variant_ratecard === variantRatecard &&
    existing.start_period === startPeriod &&
    JSON.stringify(existing.rule) === JSON.stringify(input.rule);
  if (!same)
    throw new PricingExperimentError(
      'experiment_exists',
      `experiment ${input.experimentId} exists with another definition (base ${existing.base_ratecard}, variant ${existing.variant_ratecard}, from ${existing.start_period}, rule ${JSON.stringify(existing.rule)}): choose another id`,
    );
}

export async function stopPricingExperiment(
  pool: pg.Pool,
  input: { experimentId: string; reason: string; by: string },
): Promise<CreateExperimentResult> {
  const status = await withTransaction(pool, async (client) => {
    await lockPricingExperiments(client);
    const experiment = await findPricingExperiment(client, input.experimentId);
    if (experiment === undefined)
      throw new PricingExperimentError('unknown_experiment', `no pricing experiment ${input.experimentId}`);
    if (!(await markPricingExperimentStopped(client, { ...input, stoppedBy: `cli:${input.by}` })))
      return 'already_created' as const;
    await appendAuditEntry(client, {
      actor: { kind: 'process', name: `cli:${input.by}` },
      action: 'pricing_experiment_stopped',
      subject: `pricing_experiment:${input.experimentId}`,
      details: { reason: input.reason },
    });
    return 'created' as const;
  });
  const conflicts = await moveContracts(pool, input.experimentId, 'to_base', input.by);
  return { status, conflicts, ...(await pricingExperimentState(pool, input.experimentId)) };
}

export async function pricingExperimentState(pool: pg.Pool, experimentId: string): Promise<ExperimentState> {
  const experiment = await findPricingExperiment(pool, experimentId);
  if (experiment === undefined)
    throw new PricingExperimentError('unknown_experiment', `no pricing experiment ${experimentId}`);
  const assignments = await experimentAssignments(pool, experimentId);
  const current = new Map((await currentContractTexts(pool)).map((text) => [text.customerId, text.contentHash]));
  return {
    experiment,
    assignments: assignments.map((entry) => ({
      ...entry,
      onVariant: entry.contract_hash_variant !== null && current.get(entry.customer_id) === entry.contract_hash_variant,
    })),
  };
}

/**
 * Publishes each variant contract on the variant card (or back on the base card). Only a contract still
 * as the experiment left it moves: one published since by someone else is a conflict for a person.
 */
async function moveContracts(
  pool: pg.Pool,
  experimentId: string,
  direction: 'to_variant' | 'to_base',
  by: string,
): Promise<{ customer_id: string; detail: string }[]> {
  const experiment = (await findPricingExperiment(pool, experimentId))!;
  const conflicts: { customer_id: string; detail: string }[] = [];
  if (direction === 'to_variant' && experiment.status !== 'running') return conflicts;
  for (const assignment of await experimentAssignments(pool, experimentId)) {
    if (assignment.arm !== 'variant' || assignment.contract_hash_variant === null) continue;
    const current = await currentContractText(pool, assignment.customer_id);
    if (current === undefined) continue;
    const [from, to] =
      direction === 'to_variant'
        ? [assignment.contract_hash_before, assignment.contract_hash_variant]
        : [assignment.contract_hash_variant, undefined];
    if (current.contentHash === to) continue;
    if (current.contentHash !== from) {
      conflicts.push({
        customer_id: assignment.customer_id,
        detail: `its contract was published again since the experiment ${direction === 'to_variant' ? 'assigned it' : 'moved it'} (sha256 ${current.contentHash}); not moved`,
      });
      continue;
    }
    const ratecard = direction === 'to_variant' ? experiment.variant_ratecard : experiment.base_ratecard;
    await publishContractTexts(pool, [{ file: current.fileName, text: withRatecard(current.content, ratecard) }], {
      publishedBy: `cli:${by}`,
      note:
        direction === 'to_variant'
          ? `pricing experiment ${experimentId}: variant ${experiment.variant_ratecard} from ${experiment.start_period}`
          : `pricing experiment ${experimentId} stopped: back on ${experiment.base_ratecard}`,
      actor: { kind: 'process', name: `cli:${by}` },
    });
  }
  return conflicts;
}

/** The contract text with only its `ratecard` changed (comments and layout kept). */
function withRatecard(content: string, ratecard: string): string {
  const document = parseDocument(content);
  document.set('ratecard', ratecard);
  return document.toString({ lineWidth: 0 });
}

/** `--cohort EXPERIMENT:variant|control` of `tally pricing simulate`: the customers of that arm (else undefined). */
export async function experimentArmMembers(pool: pg.Pool, cohort: string): Promise<ReadonlySet<string> | undefined> {
  const match = /^(.+):(variant|control)$/.exec(cohort);
  if (match === null) return undefined;
  const [, experimentId, arm] = match;
  if ((await findPricingExperiment(pool, experimentId!)) === undefined)
    throw new PricingExperimentError('unknown_experiment', `no pricing experiment ${experimentId}`);
  return new Set(
    (await experimentAssignments(pool, experimentId!))
      .filter((entry) => entry.arm === arm)
      .map((entry) => entry.customer_id),
  );
}
