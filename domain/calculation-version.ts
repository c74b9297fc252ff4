/**
 * What the calculation does today, recorded on every invoice, snapshot and journal entry, and by the
 * offline `tally rate` alike (one version for one engine). Bump it when a change to rating can
 * change an amount: recalculations under a new version adjust (SPEC §5).
 */
export const CALCULATION_VERSION = 'calc-2026.11.1';
