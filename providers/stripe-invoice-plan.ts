import { createHash } from 'node:crypto';
import type Stripe from 'stripe';
import type { IssuedInvoice } from '../contracts/invoice.ts';
import { decimal, toMinorUnitsString, UnknownCurrencyError } from '../domain/money.ts';
import { describeInvoiceLine } from './describe-invoice-line.ts';
import { ProviderError } from './provider-error.ts';

/** Stripe accepts at most this many invoice items on one invoice. */
const STRIPE_MAX_INVOICE_ITEMS = 250;
const STRIPE_METADATA_VALUE_MAX_CHARS = 500;
const STRIPE_DESCRIPTION_MAX_CHARS = 500;
const STRIPE_IDEMPOTENCY_KEY_MAX_CHARS = 255;
/**
 * How far before `issued_at` the invoice lookup lists a customer's invoices. The Stripe invoice is
 * created after Tally issued its invoice, so its `created` is later, give or take the two clocks'
 * skew, which this margin covers.
 */
const LOOKUP_CLOCK_SKEW_SECONDS = 86_400;
/**
 * Currencies whose Stripe amount has more minor digits than ISO 4217 gives them: Stripe keeps ISK
 * a two-decimal currency for backwards compatibility (ISK 5 is `amount: 500`).
 */
const STRIPE_EXTRA_MINOR_DIGITS: Readonly<Record<string, number>> = { ISK: 2 };

export interface StripeItemPlan {
  readonly lineKey: string;
  /** Integer minor units, negative for credits and discounts (see `minorUnitsToStripeAmount`). */
  readonly amount: number;
  readonly keyBase: string;
  /** Everything but `invoice`, which is known only once the draft exists. */
  readonly params: Omit<Stripe.InvoiceItemCreateParams, 'invoice'> & {
    amount: number;
    currency: string;
    metadata: Record<string, string>;
  };
}

export interface StripeInvoicePlan {
  readonly invoiceId: string;
  readonly customer: string;
  /** Lowercase ISO 4217, as Stripe spells it. */
  readonly currency: string;
  readonly createdAfterUnixSeconds: number;
  readonly invoiceKeyBase: string;
  readonly finalizeKeyBase: string;
  readonly invoiceParams: Stripe.InvoiceCreateParams & { metadata: Record<string, string> };
  readonly items: readonly StripeItemPlan[];
}

/**
 * Everything the Stripe sync will send, computed up front from the issued invoice alone, so that
 * every attempt sends byte-identical parameters under its deterministic idempotency keys, and a
 * line Stripe cannot take fails before the first request.
 */
export function planStripeInvoice(invoice: IssuedInvoice, customer: string): StripeInvoicePlan {
  const id = invoice.invoice_id;
  if (invoice.lines.length > STRIPE_MAX_INVOICE_ITEMS) {
    throw new ProviderError(
      'stripe',
      'provider_too_many_lines',
      `invoice ${id} has ${invoice.lines.length} lines; a Stripe invoice takes at most ${STRIPE_MAX_INVOICE_ITEMS} invoice items`,
    );
  }
  const currency = invoice.currency.toLowerCase();
  const period = {
    start: unixSeconds(invoice.period_start, id, 'period_start'),
    end: unixSeconds(invoice.period_end, id, 'period_end'),
  };
  const invoiceMetadata = metadata(id, {
    tally_invoice_id: id,
    tally_invoice_number: invoice.invoice_number,
    tally_customer_id: invoice.customer_id,
    tally_period: invoice.period,
  });
  const seen = new Set<string>();
  const items = invoice.lines.map((line): StripeItemPlan => {
    if (seen.has(line.line_key)) throw unrepresentable(id, line.line_key, 'the line_key appears twice on the invoice');
    seen.add(line.line_key);
    const description = describeInvoiceLine(line);
    const amount = minorUnitsToStripeAmount(line.amount, invoice.currency, id, line.line_key);
    if (description.length > STRIPE_DESCRIPTION_MAX_CHARS)
      throw unrepresentable(
        id,
        line.line_key,
        `its description is longer than ${STRIPE_DESCRIPTION_MAX_CHARS} characters`,
      );
    return {
      lineKey: line.line_key,
      amount,
      keyBase: `tally:${id}:item:${line.line_key}`,
      params: {
        customer,
        currency,
        amount,
        description,
        period,
        metadata: metadata(id, { tally_invoice_id: id, tally_line_key: line.line_key, tally_line_kind: line.kind }),
      },
    };
  });
  return {
    invoiceId: id,
    customer,
    currency,
    createdAfterUnixSeconds: unixSeconds(invoice.issued_at, id, 'issued_at') - LOOKUP_CLOCK_SKEW_SECONDS,
    invoiceKeyBase: `tally:${id}:invoice`,
    finalizeKeyBase: `tally:${id}:finalize`,
    invoiceParams: {
      customer,
      currency,
      // Tally adds its own items to this draft: Stripe must neither sweep in the customer's other
      // pending items nor finalize the draft on its own before the last item is on it.
      pending_invoice_items_behavior: 'exclude',
      auto_advance: false,
      description: `Tally invoice ${invoice.invoice_number} for ${invoice.period}`,
      metadata: invoiceMetadata,
    },
    items,
  };
}

/**
 * The amount Stripe's `amount` field takes: an integer in the currency's minor unit (Stripe's, which
 * is ISO 4217's but for ISK: see STRIPE_EXTRA_MINOR_DIGITS). The decimal
 * string becomes an exact integer string through decimal.js (`toMinorUnitsString`, which refuses a
 * fraction of a minor unit); only then is it turned into the JS number the SDK's form encoder
 * wants. That last step is exact because the value is an integer no larger than 2^53 − 1, which is
 * checked here on the string, before any number exists.
 */
function minorUnitsToStripeAmount(amount: string, currency: string, invoiceId: string, lineKey: string): number {
  let minor: string;
  try {
    const extraDigits = STRIPE_EXTRA_MINOR_DIGITS[currency] ?? 0;
    minor = toMinorUnitsString(decimal(amount).times(decimal('10').pow(extraDigits)), currency);
  } catch (error) {
    if (error instanceof UnknownCurrencyError) throw unrepresentable(invoiceId, lineKey, error.message);
    throw unrepresentable(invoiceId, lineKey, `amount ${amount} ${currency} is not a whole number of minor units`);
  }
  if (
    !/^-?\d+$/.test(minor) ||
    decimal(minor)
      .abs()
      .greaterThan(decimal(String(Number.MAX_SAFE_INTEGER)))
  ) {
    throw unrepresentable(invoiceId, lineKey, `amount ${amount} ${currency} is out of range for Stripe`);
  }
  // The one documented conversion to a JS number: an integer string within the safe range.
  return Number(minor);
}

/**
 * The idempotency key of one step. Generation 1 is the plain deterministic key; a later generation
 * is used only after the earlier key replayed a stored server error and a lookup proved the object
 * absent (see `StripeBillingProvider`). Keys longer than Stripe's 255 characters are hashed.
 */
export function idempotencyKey(keyBase: string, generation: number): string {
  const key = generation === 1 ? keyBase : `${keyBase}:retry-${generation}`;
  if (key.length <= STRIPE_IDEMPOTENCY_KEY_MAX_CHARS) return key;
  return `tally:sha256:${createHash('sha256').update(key).digest('hex')}`;
}

function metadata(invoiceId: string, values: Record<string, string>): Record<string, string> {
  for (const [key, value] of Object.entries(values)) {
    if (value.length > STRIPE_METADATA_VALUE_MAX_CHARS) {
      throw new ProviderError(
        'stripe',
        'provider_unrepresentable_line',
        `invoice ${invoiceId}: metadata ${key} is longer than Stripe's ${STRIPE_METADATA_VALUE_MAX_CHARS} characters`,
      );
    }
  }
  return values;
}

function unixSeconds(instant: string, invoiceId: string, field: string): number {
  const ms = Date.parse(instant);
  if (!Number.isFinite(ms))
    throw new ProviderError(
      'stripe',
      'provider_unrepresentable_line',
      `invoice ${invoiceId}: ${field} ${instant} is not a date`,
    );
  return Math.floor(ms / 1000);
}

function unrepresentable(invoiceId: string, lineKey: string, why: string): ProviderError {
  return new ProviderError('stripe', 'provider_unrepresentable_line', `invoice ${invoiceId}, line ${lineKey}: ${why}`);
}
