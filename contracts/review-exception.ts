import { z } from 'zod';
import { ContractSchema, MarketplaceSchema } from './contract.ts';
import { InvoiceSchema, UsageLineSchema } from './invoice.ts';
import { DECIMAL_PATTERN } from './patterns.ts';
import { StoredDecisionSchema } from './review-decision.ts';

/**
 * What a review exception carries for the person deciding it (SPEC §9), one schema per kind of
 * `review_exception_kinds`. The producer's context is checked against its kind when the exception is
 * opened (a producer bug stops there, not in a reviewer's screen) and again when a row is read (a
 * row written by another version, or by hand, is refused by exception, field and rule). The CLI and
 * the console read `exception.context` narrowed by `exception.kind`, never by a cast.
 */
const decimalText = z.string().regex(DECIMAL_PATTERN, 'a decimal string');
const nullableDecimal = decimalText.nullable();

/** The close's own kinds: the draft, the contract and the customer's history beside the breach. */
const CloseExceptionContextSchema = z.object({
  /** The draft invoice the breach is about (absent when raised before one existed). */
  draft: InvoiceSchema.optional(),
  usage: z.array(UsageLineSchema).readonly().optional(),
  /** The contract in force (absent when no published contract covers the customer). */
  contract: ContractSchema.optional(),
  previousInvoices: z
    .array(
      z.object({
        invoiceId: z.string(),
        invoiceNumber: z.string().optional(),
        period: z.string(),
        total: decimalText,
      }),
    )
    .readonly(),
  priorDecisions: z
    .array(
      z.object({
        exceptionId: z.string(),
        status: z.string(),
        reviewer: z.string().optional(),
        decidedAt: z.string().optional(),
        decision: StoredDecisionSchema.optional(),
      }),
    )
    .readonly(),
});

/** A line's (and a customer's) standing in a shadow comparison (SPEC §6). */
const LINE_STATUSES = ['match', 'diff', 'only_legacy', 'only_new'] as const;
/**
 * What a `diff` line's difference can be proven to come from, looking at both sides only:
 * - `rounding`: same quantity, amounts one minor unit apart;
 * - `missing_or_duplicate_events`: the quantities differ and the unit price is the same, so the
 *   whole delta is the quantity's (`price_effect` 0);
 * - `price`: same quantity, another unit price (e.g. the legacy biller still charges an old rate);
 * - `proration`: a fee Tally prorated (share p < 1) that the legacy biller billed at another share:
 *   legacy × p is Tally's amount within a minor unit (it billed the whole period);
 * - `credit_drawdown_order`: a credit line differs but all credits together draw the same on both
 *   sides (the same total, drawn from the credits in another order);
 * - `tier_boundary`: same quantity, and the legacy amount is what Tally's own tiers give with the
 *   boundary elsewhere: every unit at one tier's price, or the unit at each crossed boundary billed
 *   in the neighbouring tier (`cause_detail` says which);
 * - `period_boundary`: the quantities differ at the same unit price, and Tally's usage cut at one
 *   time zone's midnight instead of UTC's gives exactly the legacy quantity of every usage key that
 *   differs (`cause_detail` names the zone; needs the usage near the period's edges);
 * - `unexplained`: anything else (both quantity and price moved, or a line without quantities).
 * domain/shadow/compare.ts proves each.
 */
const DIFF_CAUSES = [
  'rounding',
  'missing_or_duplicate_events',
  'price',
  'tier_boundary',
  'period_boundary',
  'proration',
  'credit_drawdown_order',
  'unexplained',
] as const;

/** One line key of a shadow comparison (SPEC §6), with its cause on a diff. */
const LineComparisonSchema = z.object({
  key: z.string(),
  status: z.enum(LINE_STATUSES),
  legacy_quantity: decimalText.optional(),
  new_quantity: decimalText.optional(),
  legacy_amount: decimalText.optional(),
  new_amount: decimalText.optional(),
  delta: decimalText.optional(),
  quantity_effect: decimalText.optional(),
  price_effect: decimalText.optional(),
  cause: z.enum(DIFF_CAUSES).optional(),
  /** What the cause is exactly, where it has more to say (the tier, the time zone). */
  cause_detail: z.string().optional(),
});

/** One customer-period, legacy vs Tally (SPEC §6 JSON). */
const CustomerComparisonSchema = z.object({
  customer_id: z.string(),
  status: z.enum(LINE_STATUSES),
  currency: z.string(),
  legacy_total: decimalText,
  new_total: decimalText,
  /** `new_total − legacy_total`; null when the two sides bill in different currencies. */
  variance: nullableDecimal,
  /** `|variance| ÷ |legacy_total| × 100`, half-up to 2 decimals; null when the legacy total is 0. */
  variance_pct: nullableDecimal,
  exception: z.boolean(),
  /** Why it is an exception, in words (empty when it is not one). */
  exception_reasons: z.array(z.string()).readonly(),
  /** Set when the legacy lines are in another currency than Tally's invoice. */
  legacy_currency: z.string().optional(),
  lines: z.array(LineComparisonSchema).readonly(),
});

const ShadowVarianceContextSchema = z.object({
  shadowRun: z.string(),
  legacyImportId: z.string().nullable(),
  comparison: CustomerComparisonSchema,
});

/** One difference along usage × rate → invoice → revenue → GL (SPEC §11), both sides. */
const RECONCILIATION_STAGES = ['metered_to_invoice', 'invoice_to_revenue', 'revenue_to_gl'] as const;
const ReconciliationDifferenceSchema = z.object({
  stage: z.enum(RECONCILIATION_STAGES),
  reason: z.string(),
  customer_id: z.string().nullable(),
  invoice_id: z.string().nullable(),
  line_key: z.string().nullable(),
  sku: z.string().nullable(),
  currency: z.string(),
  /** Both sides: what the earlier stage says, and what the later one holds. */
  expected: z.string(),
  actual: z.string(),
  detail: z.string(),
});

const ReconciliationContextSchema = z.object({
  reconciliation: ReconciliationDifferenceSchema,
  /** Set when a difference decided earlier changed and the exception opened again: what was decided then. */
  previousDecision: z
    .object({
      status: z.string(),
      reviewer: z.string().nullable(),
      decision: z.unknown(),
      decidedAt: z.string().nullable(),
    })
    .optional(),
});

const MarketplaceKindSchema = z.enum(['aws', 'azure', 'gcp']);

/** A marketplace record as the exception lists it; the wire record itself is the marketplace's shape. */
const MarketplaceRecordSchema = z.object({
  bucketId: z.string(),
  dimension: z.string(),
  hour: z.string(),
  sentQuantity: decimalText,
});

const MarketplaceReportFailedContextSchema = z.object({
  marketplace: MarketplaceKindSchema,
  amountAtRisk: nullableDecimal,
  currency: z.string().nullable(),
  records: z
    .array(
      MarketplaceRecordSchema.extend({
        outcome: z.string(),
        reason: z.string(),
        acceptedQuantity: nullableDecimal,
        value: z.object({ amount: decimalText, currency: z.string() }).nullable(),
        /** The record as the marketplace's API takes it (contracts/marketplace-wire.ts). */
        record: z.unknown(),
      }),
    )
    .readonly(),
});

const MarketplaceWindowAtRiskContextSchema = z.object({
  marketplace: MarketplaceKindSchema,
  asOf: z.string(),
  records: z
    .array(
      MarketplaceRecordSchema.extend({
        attempts: z.number().int().nonnegative(),
        lastAnswer: z.unknown(),
        halfWindowAt: z.string(),
        deadline: z.string(),
      }),
    )
    .readonly(),
});

const MarketplaceOverReportContextSchema = z.object({
  overReport: z.object({
    overReportId: z.string(),
    bucketId: z.string(),
    customerId: z.string(),
    marketplace: MarketplaceKindSchema,
    dimension: z.string(),
    hour: z.string(),
    quantity: decimalText,
    listingQuantity: decimalText,
    refundAmount: nullableDecimal,
    currency: z.string().nullable(),
  }),
  restatedHours: z
    .array(
      z.object({
        detectedBy: z.string(),
        customerId: z.string(),
        dimension: z.string(),
        sourceHour: z.string(),
        quantity: decimalText,
      }),
    )
    .readonly(),
  /** The contract's marketplace listing. */
  marketplace: MarketplaceSchema,
  contract: ContractSchema,
});

/** The kinds the period close raises (one context shape: what the reviewer of a close needs). */
export const CLOSE_EXCEPTION_KINDS = [
  'threshold',
  'provider_sync_failed',
  'unpublished_ratecard',
  'unknown_customer',
  'step_failed',
  'ingest_lagging',
] as const;
export type CloseExceptionKind = (typeof CLOSE_EXCEPTION_KINDS)[number];

/** Every kind `review_exception_kinds` holds, and the context it carries (a test checks the two agree). */
const EXCEPTION_CONTEXT_SCHEMAS = {
  threshold: CloseExceptionContextSchema,
  provider_sync_failed: CloseExceptionContextSchema,
  unpublished_ratecard: CloseExceptionContextSchema,
  unknown_customer: CloseExceptionContextSchema,
  step_failed: CloseExceptionContextSchema,
  ingest_lagging: CloseExceptionContextSchema,
  shadow_variance: ShadowVarianceContextSchema,
  reconciliation: ReconciliationContextSchema,
  marketplace_over_report: MarketplaceOverReportContextSchema,
  marketplace_window_at_risk: MarketplaceWindowAtRiskContextSchema,
  marketplace_report_failed: MarketplaceReportFailedContextSchema,
} as const;

export type ExceptionKind = keyof typeof EXCEPTION_CONTEXT_SCHEMAS;
export const EXCEPTION_KINDS = Object.keys(EXCEPTION_CONTEXT_SCHEMAS) as ExceptionKind[];
export type ExceptionContext<K extends ExceptionKind = ExceptionKind> = z.infer<(typeof EXCEPTION_CONTEXT_SCHEMAS)[K]>;
export type CloseExceptionContext = z.infer<typeof CloseExceptionContextSchema>;
export type LineStatus = (typeof LINE_STATUSES)[number];
export type DiffCause = (typeof DIFF_CAUSES)[number];
export type CustomerComparison = z.infer<typeof CustomerComparisonSchema>;
export type LineComparison = z.infer<typeof LineComparisonSchema>;
export type ReconciliationDifference = z.infer<typeof ReconciliationDifferenceSchema>;

/** A kind and its context, narrowed together: `if (x.kind === 'shadow_variance') x.context.comparison`. */
export type KindedContext = {
  [K in ExceptionKind]: { readonly kind: K; readonly context: ExceptionContext<K> };
}[ExceptionKind];

function isExceptionKind(kind: string): kind is ExceptionKind {
  return Object.hasOwn(EXCEPTION_CONTEXT_SCHEMAS, kind);
}

/**
 * Checks a context against its kind: the kinded pair, or the first broken rule as
 * `field.path: message` (an unknown kind is refused too).
 */
export function checkExceptionContext(
  kind: string,
  context: unknown,
): { ok: true; value: KindedContext } | { ok: false; problem: string } {
  if (!isExceptionKind(kind)) return { ok: false, problem: `kind: ${kind} is not a review exception kind` };
  const result = EXCEPTION_CONTEXT_SCHEMAS[kind].safeParse(context);
  if (result.success) return { ok: true, value: { kind, context } as KindedContext };
  const issue = result.error.issues[0];
  return { ok: false, problem: `context.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}` };
}
