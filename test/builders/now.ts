/**
 * The fixed "now" of the test suite: an hour after the sample period 2026-10 closed (its grace is
 * one hour), so October's usage is complete and November is open. Tests never read the clock.
 */
export const NOW = '2026-11-01T01:00:00.000Z';

/** The period the sample rate cards, contracts and generated usage are made for. */
export const SAMPLE_PERIOD = '2026-10';
