import path from 'node:path';
import { z } from 'zod';
import { parseProductSignalsText, type ProductSignals } from '../contracts/product-signals.ts';
import { ConfigFileError } from '../contracts/yaml-config.ts';
import { readConfigText } from './config-files.ts';
import { parseEnv } from './parse-env.ts';
import { repositoryRoot } from './services.ts';

/** Which SKUs are product signals (contracts/product-signals.ts): the billing worker, the CLI and the console read it. */
export const SignalsEnvSchema = z.object({
  /** The product-signals file; empty: no SKU is a signal. */
  TALLY_SIGNALS_FILE: z.string().default(path.join(repositoryRoot, 'signals', 'product-signals.yaml')),
});

export function signalsFileFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = parseEnv(SignalsEnvSchema, env).TALLY_SIGNALS_FILE;
  return file === '' ? undefined : file;
}

/** Reads and validates the product-signals file; a bad one is refused with file, line and field. */
export async function loadProductSignals(file: string | undefined): Promise<ProductSignals> {
  if (file === undefined) return { signals: [] };
  const read = await readConfigText(file);
  if (!read.ok) throw new ConfigFileError([read.problem], 'cannot use the product signals');
  const parsed = parseProductSignalsText(read.text, file);
  if (!parsed.ok) throw new ConfigFileError(parsed.problems, 'the product signals are invalid');
  return parsed.signals;
}
