import path from 'node:path';
import { parseAnomalyEnv } from '../config/anomalies.ts';
import { repositoryRoot } from '../config/services.ts';
import { loadProductSignals, signalsFileFromEnv } from '../config/signals.ts';
import type { FinopsSources } from '../finops/executive-view.ts';
import type { ConsoleDeps } from './console-deps.ts';

/** The files the executive and account views read, from the environment (`TALLY_COSTS_DIR`, `TALLY_SIGNALS_FILE`). */
export async function finopsSourcesFromEnv(ratecardsDir: string): Promise<FinopsSources> {
  return {
    costsDir: parseAnomalyEnv().costsDir ?? path.join(repositoryRoot, 'costs'),
    ratecardsDir,
    signals: await loadProductSignals(signalsFileFromEnv()),
  };
}

let repositoryDefaults: Promise<FinopsSources> | undefined;

/** The deps' sources, else the repository's own files (tests and benchmarks that build deps directly). */
export function finopsSourcesOf(deps: Pick<ConsoleDeps, 'finops'>): Promise<FinopsSources> {
  if (deps.finops !== undefined) return Promise.resolve(deps.finops);
  repositoryDefaults ??= loadProductSignals(path.join(repositoryRoot, 'signals', 'product-signals.yaml')).then(
    (signals) => ({
      costsDir: path.join(repositoryRoot, 'costs'),
      ratecardsDir: path.join(repositoryRoot, 'ratecards'),
      signals,
    }),
  );
  return repositoryDefaults;
}
