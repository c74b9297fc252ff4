/**
 * The ids of a customer-period's live invoice and of its re-runs (SPEC §5 "Held periods"): one rule
 * for the workflow, its activities and the CLI. The first close's invoice is `inv:<customer>:<period>`;
 * re-run n of a held period rates a new draft `inv:<customer>:<period>:r<n>` under workflow
 * `billing:<customer>:<period>:rerun:<n>`, so a re-run never reuses the held draft's id (nor, since
 * numbers are given at issue and a held draft never had one, its number).
 */

/** The live invoice of a customer-period: the first close's (no re-run) or re-run n's. */
export function liveInvoiceId(customerId: string, period: string, rerun?: number): string {
  const base = `inv:${customerId}:${period}`;
  return rerun === undefined ? base : `${base}:r${rerun}`;
}

/** The suffix a re-run adds to the close's workflow id and snapshot id (none for the first close). */
export function rerunSuffix(rerun: number | undefined): string {
  return rerun === undefined ? '' : `:rerun:${rerun}`;
}
