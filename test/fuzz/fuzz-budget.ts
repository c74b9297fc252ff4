import type fc from 'fast-check';

/**
 * How long each fuzz property runs. In the normal `vitest run` a few seconds each (bounded, part of
 * `make test`); `npm run fuzz -- --minutes 60` (bin/fuzz.mjs) sets TALLY_FUZZ_SECONDS_PER_PROPERTY
 * and a fresh TALLY_FUZZ_SEED per round, and runs the suite round after round until the time is up.
 */
export function fuzzSecondsPerProperty(): number {
  const text = process.env.TALLY_FUZZ_SECONDS_PER_PROPERTY;
  const seconds = text === undefined ? Number.NaN : Number.parseFloat(text);
  return Number.isFinite(seconds) && seconds > 0 ? seconds : 3;
}

/** fast-check parameters: a time budget rather than a run count; the seed is printed on failure. */
export function fuzzParameters<T>(overrides: fc.Parameters<T> = {}): fc.Parameters<T> {
  const seedText = process.env.TALLY_FUZZ_SEED;
  const seed = seedText === undefined ? Number.NaN : Number.parseInt(seedText, 10);
  return {
    numRuns: Number.MAX_SAFE_INTEGER,
    interruptAfterTimeLimit: fuzzSecondsPerProperty() * 1000,
    markInterruptAsFailure: false,
    // `make test` walks the same inputs every time (a red build is never a roll of the dice);
    // `npm run fuzz` gives every round a fresh seed to explore, and prints the one that fails.
    seed: Number.isNaN(seed) ? MAKE_TEST_SEED : seed,
    ...overrides,
  };
}

/** The seed of the bounded run in `make test`. */
const MAKE_TEST_SEED = 20_261_206;

/** The vitest timeout of a test that runs `properties` fuzz properties. */
export function fuzzTestTimeoutMs(properties = 1): number {
  return properties * fuzzSecondsPerProperty() * 1000 + 60_000;
}
