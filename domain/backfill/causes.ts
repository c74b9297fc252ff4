import type { RateCardVersionRef } from '../../contracts/invoice.ts';

/** What a period was billed under, or would be re-rated under now. */
export interface RatingInputs {
  /** sha256 of the contract text (undefined: recorded before contracts were published). */
  readonly contractHash: string | undefined;
  readonly ratecardVersions: readonly RateCardVersionRef[];
  readonly calculationVersion: string;
}

export interface CorrectionRef {
  readonly correctionSeq: string;
  readonly action: 'void' | 'replace';
  readonly source: string;
  readonly eventId: string;
}

export type BackfillCause =
  | { readonly kind: 'ratecard_versions'; readonly billed: readonly string[]; readonly now: readonly string[] }
  | { readonly kind: 'contract'; readonly billed: string | undefined; readonly now: string | undefined }
  | { readonly kind: 'calculation_version'; readonly billed: string; readonly now: string }
  | { readonly kind: 'late_events'; readonly count: number }
  | { readonly kind: 'corrections'; readonly corrections: readonly CorrectionRef[] };

/** `ratecard@effective_from#hash12` for the versions in force inside the period (starting before its end). */
function versionsInPeriod(versions: readonly RateCardVersionRef[], periodEnd: string): string[] {
  const end = Date.parse(periodEnd);
  return versions
    .filter((version) => Date.parse(version.effective_from) < end)
    .map((version) => `${version.ratecard}@${version.effective_from}#${version.content_hash.slice(0, 12)}`);
}

/**
 * Why a re-rating can differ from what was billed (SPEC §5: which rate-card versions, which
 * corrections, which late events). Rate-card versions count only when in force inside the period:
 * a version published for next year is no cause for October.
 *
 * Example: billed under `api@2026-09-01#aaa…`, now `api@2026-09-01#aaa…, api@2026-10-16#bbb…`, two
 * unbilled late events → [ratecard_versions, late_events 2].
 */
export function backfillCauses(input: {
  readonly billed: RatingInputs;
  readonly now: RatingInputs;
  readonly periodEnd: string;
  readonly unbilledLateEvents: number;
  readonly corrections: readonly CorrectionRef[];
}): BackfillCause[] {
  const causes: BackfillCause[] = [];
  const billedVersions = versionsInPeriod(input.billed.ratecardVersions, input.periodEnd);
  const nowVersions = versionsInPeriod(input.now.ratecardVersions, input.periodEnd);
  if (billedVersions.join(',') !== nowVersions.join(','))
    causes.push({ kind: 'ratecard_versions', billed: billedVersions, now: nowVersions });
  if (input.billed.contractHash !== undefined && input.billed.contractHash !== input.now.contractHash)
    causes.push({ kind: 'contract', billed: input.billed.contractHash, now: input.now.contractHash });
  if (input.billed.calculationVersion !== input.now.calculationVersion)
    causes.push({
      kind: 'calculation_version',
      billed: input.billed.calculationVersion,
      now: input.now.calculationVersion,
    });
  if (input.unbilledLateEvents > 0) causes.push({ kind: 'late_events', count: input.unbilledLateEvents });
  if (input.corrections.length > 0) causes.push({ kind: 'corrections', corrections: input.corrections });
  return causes;
}

/** One cause in words, for the plan's table. */
export function describeCause(cause: BackfillCause): string {
  switch (cause.kind) {
    case 'ratecard_versions':
      return `rate cards ${cause.billed.join('+') || 'none'} → ${cause.now.join('+') || 'none'}`;
    case 'contract':
      return `contract ${cause.billed?.slice(0, 12) ?? '?'} → ${cause.now?.slice(0, 12) ?? '?'}`;
    case 'calculation_version':
      return `calculation ${cause.billed} → ${cause.now}`;
    case 'late_events':
      return `${cause.count} late event${cause.count === 1 ? '' : 's'}`;
    case 'corrections':
      return `${cause.corrections.length} correction${cause.corrections.length === 1 ? '' : 's'} (${cause.corrections
        .map((correction) => `#${correction.correctionSeq} ${correction.action} ${correction.eventId}`)
        .join(', ')})`;
  }
}
