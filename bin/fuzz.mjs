#!/usr/bin/env node
// `npm run fuzz -- --minutes 60`: the fuzz suite (test/fuzz) on demand, longer than in `make test`.
// Round after round until the time is up, each round with a fresh seed and a longer budget per
// property (TALLY_FUZZ_SECONDS_PER_PROPERTY, default 60 here); it stops at the first failure and
// prints the seed that reproduces it (TALLY_FUZZ_SEED=<seed> npx vitest run test/fuzz).
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';

const args = process.argv.slice(2);
const minutesAt = args.indexOf('--minutes');
const minutesText = minutesAt === -1 ? (process.env.TALLY_FUZZ_MINUTES ?? '10') : args[minutesAt + 1];
const minutes = Number(minutesText);
if (!Number.isFinite(minutes) || minutes <= 0) {
  process.stderr.write(`fuzz: --minutes wants a positive number, not ${JSON.stringify(minutesText)}\n`);
  process.exit(2);
}
const secondsPerProperty = process.env.TALLY_FUZZ_SECONDS_PER_PROPERTY ?? '60';
const deadlineMs = Date.now() + minutes * 60_000;
for (let round = 1; Date.now() < deadlineMs; round++) {
  const seed = String(randomInt(2 ** 31 - 1));
  process.stderr.write(`fuzz: round ${round}, seed ${seed}, ${secondsPerProperty} s per property\n`);
  const run = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', 'test/fuzz'], {
    stdio: 'inherit',
    env: { ...process.env, TALLY_FUZZ_SEED: seed, TALLY_FUZZ_SECONDS_PER_PROPERTY: secondsPerProperty },
  });
  if (run.status !== 0) {
    process.stderr.write(
      `fuzz: round ${round} failed; reproduce with TALLY_FUZZ_SEED=${seed} npx vitest run test/fuzz\n`,
    );
    process.exit(run.status ?? 1);
  }
}
process.stderr.write(`fuzz: ${minutes} minutes without a failure\n`);
