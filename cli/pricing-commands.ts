import os from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import type { AssignmentRule } from '../contracts/pricing-experiment.ts';
import { listPricingExperiments } from '../db/queries/pricing-experiments.ts';
import { periodNameProblem } from '../domain/period.ts';
import {
  createPricingExperiment,
  experimentArmMembers,
  pricingExperimentState,
  pricingReadout,
  simulatePricing,
  stopPricingExperiment,
  type CreateExperimentResult,
  type ExperimentState,
} from '../pricing/index.ts';
import { displayMoney } from '../domain/money.ts';
import { publishedTerms } from '../terms/index.ts';
import { printTable, withDatabase } from './services.ts';

function period(value: string): string {
  const problem = periodNameProblem(value);
  if (problem !== undefined) throw new InvalidArgumentError(problem);
  return value;
}

function customerList(value: string): string[] {
  const ids = value
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
  if (ids.length === 0) throw new InvalidArgumentError('a comma-separated list of customer ids');
  return ids;
}

function share(value: string): string {
  if (!/^(0(\.\d+)?|1(\.0+)?)$/.test(value)) throw new InvalidArgumentError('a decimal from 0 to 1, e.g. 0.5');
  return value;
}

function json(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

const RIGHT = { rightAligned: [2, 3, 4, 5, 6, 7, 8] } as const;

/** `tally pricing simulate | experiment create|list|show|stop | readout` (SPEC §10; docs/decisions/finops.md). */
export function registerPricingCommands(program: Command): void {
  const pricing = program.command('pricing');

  pricing
    .command('simulate')
    .description(
      're-rate closed (issued) periods under a candidate rate card and show the revenue and margin impact; writes nothing',
    )
    .requiredOption(
      '--ratecard <dir>',
      "the candidate card's folder (<name>/<effective_from>.yaml), validated like a published card",
    )
    .requiredOption('--from <YYYY-MM>', 'first period', period)
    .requiredOption('--to <YYYY-MM>', 'last period', period)
    .option('--customers <a,b>', 'only these customers', customerList)
    .option('--cohort <name>', 'only this cohort: a contract start month (2026-01) or an experiment arm (EXP:variant)')
    .option('--costs <dir>', 'unit costs, <effective_from>.yaml versions', 'costs')
    .option('--json', 'machine-readable output (decimal strings)')
    .action(
      async (options: {
        ratecard: string;
        from: string;
        to: string;
        customers?: string[];
        cohort?: string;
        costs: string;
        json?: boolean;
      }) => {
        if (options.customers !== undefined && options.cohort !== undefined)
          throw new InvalidArgumentError('--customers or --cohort, not both');
        const report = await withDatabase((pool) =>
          simulatePricing(
            {
              pool,
              terms: publishedTerms(pool),
              cohortMembers: (cohort) => experimentArmMembers(pool, cohort),
            },
            {
              ratecardDir: options.ratecard,
              from: options.from,
              to: options.to,
              costsDir: options.costs,
              ...(options.customers === undefined ? {} : { customerIds: options.customers }),
              ...(options.cohort === undefined ? {} : { cohort: options.cohort }),
            },
          ),
        );
        if (options.json) return json(report);
        for (const [by, title] of [
          ['customer', 'By customer'],
          ['sku', 'By SKU (usage lines)'],
          ['cohort', 'By cohort'],
          ['total', 'Total'],
        ] as const) {
          process.stdout.write(`\n${title}\n`);
          printTable(
            report.rows
              .filter((row) => row.by === by)
              .map((row) => ({
                [by === 'total' ? 'all' : by]: row.key,
                currency: row.currency,
                billed: row.billedRevenue,
                candidate: row.candidateRevenue,
                change: row.revenueChange,
                'change %': row.revenueChangePct ?? '—',
                'billed margin': row.billedMargin,
                'candidate margin': row.candidateMargin,
                'margin change': row.marginChange,
              })),
            [
              by === 'total' ? 'all' : by,
              'currency',
              'billed',
              'candidate',
              'change',
              'change %',
              'billed margin',
              'candidate margin',
              'margin change',
            ],
            RIGHT,
          );
        }
        process.stdout.write(
          `\n${report.customerPeriods} issued customer-period${report.customerPeriods === 1 ? '' : 's'} of ${report.from}..${report.to} re-rated under ${report.candidate.ratecard} (${report.candidate.versions.map((version) => version.effective_from.slice(0, 10)).join(', ')}); nothing written\n`,
        );
        for (const entry of report.skipped)
          process.stderr.write(`tally: ${entry.customer_id} ${entry.period} not re-rated: ${entry.reason}\n`);
        for (const entry of report.unpriced)
          process.stderr.write(
            `tally: warning: ${entry.customer_id} ${entry.period}: ${entry.event_count} ${entry.sku} events (${entry.unit}) have no price on the candidate card (unpriced, not billed)\n`,
          );
      },
    );

  const experiment = pricing
    .command('experiment')
    .description('live experiments: a cohort of contracts billed on a variant card');
  experiment
    .command('create <id>')
    .description(
      "assign the base card's contracts to variant and control and publish the variant contracts (idempotent)",
    )
    .requiredOption('--base <ratecard>', 'the card the cohorts are on now (control keeps it)')
    .requiredOption('--variant <dir>', "the variant card's folder; its first version takes effect when --start begins")
    .requiredOption('--start <YYYY-MM>', 'the first period billed on the variant', period)
    .option('--share <fraction>', 'the share of eligible contracts in the variant, by seeded hash', share)
    .option('--seed <text>', 'the hash seed (default: the experiment id)')
    .option(
      '--customers <a,b>',
      'exactly these contracts in the variant (the other eligible ones are the control)',
      customerList,
    )
    .requiredOption('--reason <text>', 'why (recorded with the experiment and in the audit log)')
    .option('--by <name>', 'who (default: the OS user)')
    .option('--json', 'machine-readable output')
    .action(
      async (
        id: string,
        options: {
          base: string;
          variant: string;
          start: string;
          share?: string;
          seed?: string;
          customers?: string[];
          reason: string;
          by?: string;
          json?: boolean;
        },
      ) => {
        if ((options.share === undefined) === (options.customers === undefined))
          throw new InvalidArgumentError('give either --share (with an optional --seed) or --customers');
        const rule: AssignmentRule =
          options.customers !== undefined
            ? { kind: 'list', variant_customers: options.customers }
            : { kind: 'hash', seed: options.seed ?? id, variant_share: options.share! };
        const result = await withDatabase((pool) =>
          createPricingExperiment(pool, {
            experimentId: id,
            baseRatecard: options.base,
            variantDir: options.variant,
            startPeriod: options.start,
            rule,
            reason: options.reason,
            by: options.by ?? os.userInfo().username,
          }),
        );
        if (options.json) return json(result);
        printState(result);
        process.stdout.write(
          result.status === 'created'
            ? `experiment ${id} created\n`
            : `experiment ${id} already existed: nothing else changed\n`,
        );
        printConflicts(result);
      },
    );
  experiment
    .command('list')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }) => {
      const experiments = await withDatabase((pool) => listPricingExperiments(pool));
      if (options.json) return json(experiments);
      printTable(
        experiments.map((entry) => ({
          id: entry.experiment_id,
          base: entry.base_ratecard,
          variant: entry.variant_ratecard,
          start: entry.start_period,
          status: entry.status,
          rule: entry.rule.kind === 'hash' ? `hash ${entry.rule.variant_share} (seed ${entry.rule.seed})` : 'list',
          by: entry.created_by,
          reason: entry.reason,
        })),
        ['id', 'base', 'variant', 'start', 'status', 'rule', 'by', 'reason'],
      );
    });
  experiment
    .command('show <id>')
    .option('--json', 'machine-readable output')
    .action(async (id: string, options: { json?: boolean }) => {
      const state = await withDatabase((pool) => pricingExperimentState(pool, id));
      if (options.json) return json(state);
      printState(state);
    });
  experiment
    .command('stop <id>')
    .description('stop an experiment: its variant contracts are published back on the base card')
    .requiredOption('--reason <text>', 'why (recorded and audited)')
    .option('--by <name>', 'who (default: the OS user)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, options: { reason: string; by?: string; json?: boolean }) => {
      const result = await withDatabase((pool) =>
        stopPricingExperiment(pool, {
          experimentId: id,
          reason: options.reason,
          by: options.by ?? os.userInfo().username,
        }),
      );
      if (options.json) return json(result);
      printState(result);
      printConflicts(result);
    });

  pricing
    .command('readout <experiment>')
    .description(
      'variant vs control for one period: revenue, margin, usage per customer, commit utilization, the effect and a recommendation',
    )
    .requiredOption('--period <YYYY-MM>', 'the period read out', period)
    .option('--costs <dir>', 'unit costs, <effective_from>.yaml versions', 'costs')
    .option('--json', 'machine-readable output (decimal strings)')
    .action(async (experimentId: string, options: { period: string; costs: string; json?: boolean }) => {
      const report = await withDatabase((pool) =>
        pricingReadout(
          { pool, terms: publishedTerms(pool) },
          { experimentId, period: options.period, costsDir: options.costs },
        ),
      );
      if (options.json) return json(report);
      const { experiment: definition } = report;
      process.stdout.write(
        `${definition.experiment_id}: ${definition.variant_ratecard} vs ${definition.base_ratecard} since ${definition.start_period}; ${report.period} against ${report.baselinePeriod} (${report.currency})\n\n`,
      );
      const skus = [...new Set(report.arms.flatMap((arm) => Object.keys(arm.usagePerCustomer)))].sort();
      // One currency (the heading line's): its code in each amount column's heading.
      const money = (amount: string | null): string => (amount === null ? '—' : displayMoney(amount, report.currency));
      const heading = (column: string): string => `${column} ${report.currency}`;
      const [revenue, revenuePerCustomer, marginPerCustomer] = [
        heading('revenue'),
        heading('revenue/customer'),
        heading('margin/customer'),
      ];
      printTable(
        report.arms.map((arm) => ({
          cohort: arm.arm,
          customers: arm.customers,
          invoiced: arm.invoiced,
          measured: arm.measured,
          [revenue]: money(arm.revenue),
          [revenuePerCustomer]: money(arm.revenuePerCustomer),
          [marginPerCustomer]: money(arm.marginPerCustomer),
          'commit used %': arm.commitUtilizationPct ?? '—',
          ...Object.fromEntries(skus.map((sku) => [`${sku}/customer`, arm.usagePerCustomer[sku] ?? '0'])),
        })),
        [
          'cohort',
          'customers',
          'invoiced',
          'measured',
          revenue,
          revenuePerCustomer,
          marginPerCustomer,
          'commit used %',
          ...skus.map((sku) => `${sku}/customer`),
        ],
        { rightAligned: [1, 2, 3, 4, 5, 6, 7, ...skus.map((_, index) => 8 + index)] },
      );
      process.stdout.write(
        '\nEffect of the variant per customer (change vs the baseline period, variant − control; 95 % Welch interval)\n',
      );
      const [effectColumn, lower, upper, standardError] = [
        heading('effect'),
        heading('lower'),
        heading('upper'),
        heading('std error'),
      ];
      printTable(
        report.effects.map((effect) => ({
          metric: effect.metric,
          [effectColumn]: money(effect.effect),
          [lower]: money(effect.lower),
          [upper]: money(effect.upper),
          [standardError]: money(effect.standardError),
          df: effect.degreesOfFreedom ?? '∞',
        })),
        ['metric', effectColumn, lower, upper, standardError, 'df'],
        { rightAligned: [1, 2, 3, 4, 5] },
      );
      process.stdout.write(`\nrecommendation: ${report.recommendation} (${report.reason})\n`);
    });
}

function printState(state: ExperimentState): void {
  const { experiment } = state;
  process.stdout.write(
    `${experiment.experiment_id}: ${experiment.status}; base ${experiment.base_ratecard}, variant ${experiment.variant_ratecard} from ${experiment.start_period}; rule ${experiment.rule.kind === 'hash' ? `seeded hash, share ${experiment.rule.variant_share}, seed ${experiment.rule.seed}` : 'explicit list'}; by ${experiment.created_by} at ${experiment.created_at}: ${experiment.reason}${experiment.status === 'stopped' ? `; stopped by ${experiment.stopped_by} at ${experiment.stopped_at}: ${experiment.stop_reason}` : ''}\n`,
  );
  printTable(
    state.assignments.map((entry) => ({
      customer: entry.customer_id,
      arm: entry.arm,
      'contract in force':
        entry.arm === 'control' ? 'base card' : entry.onVariant ? 'variant card' : 'not on the variant',
    })),
    ['customer', 'arm', 'contract in force'],
  );
}

function printConflicts(result: CreateExperimentResult): void {
  for (const conflict of result.conflicts) process.stderr.write(`tally: ${conflict.customer_id}: ${conflict.detail}\n`);
}
