import type { Command } from 'commander';

/**
 * The `tally` commands: one entry per top-level command, with the one-line description the help
 * lists and the module that registers it. A module is imported only when its command runs, so
 * `tally --help` and light commands start without loading Temporal, NATS or Stripe.
 *
 * To add a command family: write `cli/<family>-commands.ts` exporting a `register…(program)` that
 * creates `program.command('<name>')` (no description: it is here) and add its entry below.
 */
export interface CommandEntry {
  readonly name: string;
  readonly description: string;
  readonly load: () => Promise<(program: Command) => void>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'demo',
    description:
      'the main job on the embedded stack: a month of signed usage for 20 customers through JetStream → invoices, one exception approved, provider sync, journal, late usage as adjustments, reconciliation',
    load: async () => (await import('./demo-command.ts')).registerDemoCommand,
  },
  {
    name: 'stack',
    description: 'the local Temporal, NATS and Postgres (the embedded default stack)',
    load: async () => (await import('./stack-commands.ts')).registerStackCommands,
  },
  {
    name: 'db',
    description: 'the Postgres schema',
    load: async () => (await import('./db-commands.ts')).registerDbCommands,
  },
  {
    name: 'send',
    description: 'sign (given keys) and publish usage events, one JSON object per line, to JetStream',
    load: async () => (await import('./send-commands.ts')).registerSendCommands,
  },
  {
    name: 'ingest',
    description: 'the ingest worker: JetStream usage events → validated, deduplicated history in Postgres',
    load: async () => (await import('./ingest-commands.ts')).registerIngestCommands,
  },
  {
    name: 'events',
    description:
      "stored usage events: amend them (signed void / replace corrections, append-only), reprocess rejections under today's keys",
    load: async () => (await import('./events-commands.ts')).registerEventsCommands,
  },
  {
    name: 'worker',
    description:
      'run the billing worker: period workflows, their activities, the period opener and usage alerts (drains on SIGTERM)',
    load: async () => (await import('./worker-commands.ts')).registerWorkerCommands,
  },
  {
    name: 'rate',
    description: "rate one customer's period offline from files (no services): the same pricing code as the workflows",
    load: async () => (await import('./rate-commands.ts')).registerRateCommands,
  },
  {
    name: 'ratecards',
    description: "Finance's rate-card workflow: validate, preview (diff), publish, history",
    load: async () => (await import('./ratecards-commands.ts')).registerRatecardsCommands,
  },
  {
    name: 'contracts',
    description: 'customer terms: validate, publish into the append-only log billing reads, history, show',
    load: async () => (await import('./contracts-commands.ts')).registerContractsCommands,
  },
  {
    name: 'review',
    description: "billing ops' exception queue: threshold breaches, unpriced usage, failed syncs, marketplace reports",
    load: async () => (await import('./review-commands.ts')).registerReviewCommands,
  },
  {
    name: 'console',
    description: 'the billing-ops web console (API and pages) over the same Postgres and Temporal as the workers',
    load: async () => (await import('./console-commands.ts')).registerConsoleCommands,
  },
  {
    name: 'users',
    description: "the console's accounts: add (viewer | reviewer | admin), list, disable, unlock, personal tokens",
    load: async () => (await import('./users-commands.ts')).registerUsersCommands,
  },
  {
    name: 'audit',
    description: 'the hash-chained audit log of every action: list, verify, export',
    load: async () => (await import('./audit-commands.ts')).registerAuditCommands,
  },
  {
    name: 'invoice',
    description: 'invoices, down to the events behind a line',
    load: async () => (await import('./invoice-commands.ts')).registerInvoiceCommands,
  },
  {
    name: 'period',
    description: 'customer-period workflows',
    load: async () => (await import('./period-commands.ts')).registerPeriodCommands,
  },
  {
    name: 'backfill',
    description:
      'recalculate closed periods: plan (re-rate under what is in force now, write only the plan), run it as a workflow, status, pause, resume, cancel, list, show',
    load: async () => (await import('./backfill-commands.ts')).registerBackfillCommands,
  },
  {
    name: 'journal',
    description: 'the revenue journal (general ledger)',
    load: async () => (await import('./journal-commands.ts')).registerJournalCommands,
  },
  {
    name: 'revenue',
    description: 'revenue recognition beyond the invoice (SPEC §11): a day recognized by hand, the revenue schedule',
    load: async () => (await import('./revenue-commands.ts')).registerRevenueCommands,
  },
  {
    name: 'reconcile',
    description:
      'tie a period out per customer, SKU and currency: metered quantity × rate → invoice lines → recognized revenue → GL; every difference becomes a reconciliation exception',
    load: async () => (await import('./revenue-commands.ts')).registerReconcileCommand,
  },
  {
    name: 'credits',
    description: 'the credit ledger: grants, draws, expiry',
    load: async () => (await import('./journal-commands.ts')).registerCreditsCommands,
  },
  {
    name: 'alerts',
    description: 'usage alerts: month-to-date usage at 50/75/90/100 % of the commit or the prepaid balance',
    load: async () => (await import('./alerts-commands.ts')).registerAlertsCommands,
  },
  {
    name: 'anomalies',
    description:
      'daily anomaly detection (SPEC §10): spikes, drops and silent meters in usage and COGS against a 28-day weekday baseline',
    load: async () => (await import('./anomalies-commands.ts')).registerAnomaliesCommands,
  },
  {
    name: 'commits',
    description:
      'commit utilization and burndown per contract: prepaid burndown date, variance against the ramp, burn alerts',
    load: async () => (await import('./commits-commands.ts')).registerCommitsCommands,
  },
  {
    name: 'forecast',
    description:
      'the two-stream revenue forecast (fixed: fees and commits; variable: usage by cohort), p10/p50/p90 by month, with its backtest',
    load: async () => (await import('./forecast-commands.ts')).registerForecastCommands,
  },
  {
    name: 'signals',
    description:
      'early-warning signals per account: commit burn, quota hits and product signals (designated SKUs), and what they do to the forecast',
    load: async () => (await import('./signals-commands.ts')).registerSignalsCommands,
  },
  {
    name: 'report',
    description:
      'the weekly review (HTML with charts and a terminal summary): cohort consumption, commits, margin by SKU, anomalies',
    load: async () => (await import('./report-commands.ts')).registerReportCommands,
  },
  {
    name: 'margin',
    description: 'gross margin of issued invoices by SKU, product, customer and period, from the unit costs in costs/',
    load: async () => (await import('./margin-commands.ts')).registerMarginCommands,
  },
  {
    name: 'pricing',
    description:
      'pricing experiments: re-rate closed periods under a candidate card (simulate), put a cohort on a variant card (experiment), compare the cohorts (readout)',
    load: async () => (await import('./pricing-commands.ts')).registerPricingCommands,
  },
  {
    name: 'shadow',
    description:
      'shadow billing before cutover: legacy import, offline compare, shadow runs (scheduled too), report, readiness, cutover and rollback by cohort',
    load: async () => (await import('./shadow-commands.ts')).registerShadowCommands,
  },
  {
    name: 'marketplace',
    description:
      'marketplace metering: hourly records to AWS, Azure and Google Cloud (export what was or would be sent, submit due records now, status and parity)',
    load: async () => (await import('./marketplace-commands.ts')).registerMarketplaceCommands,
  },
  {
    name: 'replay',
    description:
      'replay workflow histories from Temporal against the current workflow code; non-zero on any determinism violation',
    load: async () => (await import('./replay-commands.ts')).registerReplayCommands,
  },
  {
    name: 'bench',
    description: 'benchmarks on their own stack (own ports and data)',
    load: async () => (await import('./bench-commands.ts')).registerBenchCommands,
  },
];
