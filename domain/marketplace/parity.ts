import { Decimal, formatDecimal } from '../money.ts';

/**
 * The parity of what a period's records sent against the period's rated usage, for one customer and
 * dimension (quantities in the prices' unit; the result in listing units). It balances to zero by
 * construction of the canonical table, so a non-zero gap means the table and the stored usage
 * disagree (a bug, or rows edited by hand):
 *
 *   rated = sent × unit size + carried + awaiting + over-reported + late out − late in
 *
 * - carried: remainder built up over the period (last carry out − first carry in);
 * - awaiting: usage of the period's hours not yet in any record (late events the next hour seals);
 * - over-reported: what records sent that turned out not to exist (refunded by finance);
 * - late in: usage of earlier periods' hours that this period's records carried;
 * - late out: usage of this period's hours that later periods' records carried.
 */
export interface ParityInput {
  readonly unitSize: string;
  readonly rated: string;
  readonly sentListingUnits: string;
  readonly acceptedListingUnits: string;
  readonly pendingListingUnits: string;
  readonly failedListingUnits: string;
  readonly carryIn: string;
  readonly carryOut: string;
  readonly awaiting: string;
  readonly overReported: string;
  readonly lateIn: string;
  readonly lateOut: string;
}

export interface ParityLine {
  /** Listing units. */
  readonly rated: string;
  readonly sent: string;
  readonly accepted: string;
  readonly pending: string;
  readonly failed: string;
  readonly carried: string;
  readonly awaiting: string;
  readonly overReported: string;
  readonly lateIn: string;
  readonly lateOut: string;
  readonly gap: string;
  readonly balanced: boolean;
}

export function periodParity(input: ParityInput): ParityLine {
  const size = new Decimal(input.unitSize);
  const listing = (value: string | Decimal): string => formatDecimal(new Decimal(value).dividedBy(size));
  const carried = new Decimal(input.carryOut).minus(input.carryIn);
  const explained = new Decimal(input.sentListingUnits)
    .times(size)
    .plus(carried)
    .plus(input.awaiting)
    .plus(input.overReported)
    .plus(input.lateOut)
    .minus(input.lateIn);
  const gap = new Decimal(input.rated).minus(explained);
  return {
    rated: listing(input.rated),
    sent: formatDecimal(new Decimal(input.sentListingUnits)),
    accepted: formatDecimal(new Decimal(input.acceptedListingUnits)),
    pending: formatDecimal(new Decimal(input.pendingListingUnits)),
    failed: formatDecimal(new Decimal(input.failedListingUnits)),
    carried: listing(carried),
    awaiting: listing(input.awaiting),
    overReported: listing(input.overReported),
    lateIn: listing(input.lateIn),
    lateOut: listing(input.lateOut),
    gap: listing(gap),
    balanced: gap.isZero(),
  };
}
