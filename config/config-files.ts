import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseContractText, type Contract } from '../contracts/contract.ts';
import {
  checkRateCardHistory,
  parseRateCardText,
  sortVersions,
  type LocatedRateCardVersion,
  type RateCardVersion,
} from '../contracts/ratecard.ts';
import { ConfigFileError, type ConfigProblem } from '../contracts/yaml-config.ts';
import { MAX_CONFIG_FILE_BYTES, MAX_LINE_BYTES } from '../contracts/input-limits.ts';

/**
 * Reads the config files people edit (rate cards, contracts) and hands their text to the pure
 * parsers in contracts/. Files are read as bytes and decoded as strict UTF-8, so the text hashes
 * to the file's own sha256 (the content hash recorded on invoices and in the publication log).
 */

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parse results by file and exact text. A caller that reads the files on every use (the billing
 * worker does, so that a newly published rate-card version counts from the next step on) parses
 * each distinct text once: the same bytes give the same result, a changed file is parsed again.
 * Results are deep-frozen because they are shared.
 */
export class ParsedTextCache {
  private readonly entries = new Map<string, { readonly text: string; readonly value: unknown }>();

  parse<T>(file: string, text: string, parse: () => T): T {
    const entry = this.entries.get(file);
    if (entry !== undefined && entry.text === text) return entry.value as T;
    const value = deepFreeze(parse());
    this.entries.set(file, { text, value });
    return value;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}

export type ReadText = { ok: true; text: string } | { ok: false; problem: ConfigProblem };

export async function readConfigText(file: string): Promise<ReadText> {
  let bytes: Buffer;
  try {
    const size = (await stat(file)).size;
    if (size > MAX_CONFIG_FILE_BYTES)
      return {
        ok: false,
        problem: fileProblem(file, `is ${size} bytes, larger than the limit of ${MAX_CONFIG_FILE_BYTES} bytes`),
      };
    bytes = await readFile(file);
  } catch (error) {
    return {
      ok: false,
      problem: fileProblem(file, `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`),
    };
  }
  const long = firstLongLine(bytes, MAX_LINE_BYTES);
  if (long !== undefined)
    return {
      ok: false,
      problem: {
        file,
        line: long.line,
        column: 1,
        field: '(file)',
        message: `the line is ${long.bytes} bytes, longer than the limit of ${MAX_LINE_BYTES} bytes`,
      },
    };
  try {
    return { ok: true, text: utf8.decode(bytes) };
  } catch {
    return { ok: false, problem: fileProblem(file, 'is not valid UTF-8') };
  }
}

/** The first line of `bytes` longer than `limit` bytes (1-based), if any. */
function firstLongLine(bytes: Buffer, limit: number): { line: number; bytes: number } | undefined {
  let start = 0;
  for (let line = 1; start <= bytes.length; line++) {
    const newline = bytes.indexOf(0x0a, start);
    const end = newline === -1 ? bytes.length : newline;
    if (end - start > limit) return { line, bytes: end - start };
    if (newline === -1) return undefined;
    start = newline + 1;
  }
  return undefined;
}

export function fileProblem(file: string, message: string): ConfigProblem {
  return { file, line: 1, column: 1, field: '(file)', message };
}

export interface RateCardFolder {
  readonly ratecard: string;
  readonly versions: RateCardVersion[];
  readonly problems: ConfigProblem[];
  /** An entry of the root that could not be looked at (a dangling symlink): its problem only, no card. */
  readonly unreadable?: true;
}

/** Loads every version in `ratecards/<ratecard>/`, checked one by one and against each other. */
export async function loadRateCardFolder(folder: string, cache?: ParsedTextCache): Promise<RateCardFolder> {
  const ratecard = path.basename(folder);
  const problems: ConfigProblem[] = [];
  let names: string[];
  try {
    names = (await readdir(folder)).sort();
  } catch (error) {
    return {
      ratecard,
      versions: [],
      problems: [
        fileProblem(
          folder,
          `cannot read the rate-card folder: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        ),
      ],
    };
  }
  const located: LocatedRateCardVersion[] = [];
  for (const name of names) {
    const file = path.join(folder, name);
    if (name === 'README.md' || name.startsWith('.')) continue;
    if (!name.endsWith('.yaml')) {
      problems.push(fileProblem(file, 'only <effective_from>.yaml files belong in a rate-card folder'));
      continue;
    }
    const read = await readConfigText(file);
    if (!read.ok) {
      problems.push(read.problem);
      continue;
    }
    let parsed: ReturnType<typeof parseRateCardText>;
    try {
      parsed =
        cache === undefined
          ? parseRateCardText(read.text, file)
          : cache.parse(file, read.text, () => parseRateCardText(read.text, file));
    } catch (error) {
      // A file the parser cannot take is this file's problem, never a reason to doubt the others.
      problems.push(fileProblem(file, `cannot be parsed: ${error instanceof Error ? error.message : String(error)}`));
      continue;
    }
    if (parsed.ok) located.push({ version: parsed.version, positions: parsed.positions });
    else problems.push(...parsed.problems);
  }
  if (located.length === 0 && problems.length === 0)
    problems.push(fileProblem(folder, 'the rate-card folder has no versions'));
  problems.push(...checkRateCardHistory(located));
  return { ratecard, versions: sortVersions(located.map((entry) => entry.version)), problems };
}

/** All rate cards under a root folder (default `ratecards/`): one subfolder per card. */
export async function loadRateCardRoot(root: string): Promise<RateCardFolder[]> {
  let names: string[];
  try {
    names = (await readdir(root)).sort();
  } catch (error) {
    throw new ConfigFileError(
      [
        fileProblem(
          root,
          `cannot read the rate-card folder: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        ),
      ],
      'no rate cards',
    );
  }
  const folders: RateCardFolder[] = [];
  for (const name of names) {
    const folder = path.join(root, name);
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(folder)).isDirectory();
    } catch (error) {
      // A dangling symlink or an entry we may not look at: reported alone, the other cards still load.
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      const hint = code === 'ENOENT' ? ' (a symbolic link to nothing?)' : '';
      folders.push({
        ratecard: name,
        versions: [],
        problems: [fileProblem(folder, `cannot read: ${code}${hint}`)],
        unreadable: true,
      });
      continue;
    }
    if (isDirectory) folders.push(await loadRateCardFolder(folder));
  }
  return folders;
}

/** The valid versions of one card under `root`, or a ConfigFileError listing every problem. */
export async function loadRateCard(
  root: string,
  ratecard: string,
  cache?: ParsedTextCache,
): Promise<RateCardVersion[]> {
  const folder = await loadRateCardFolder(path.join(root, ratecard), cache);
  if (folder.problems.length > 0) throw new ConfigFileError(folder.problems, `rate card ${ratecard} is invalid`);
  return folder.versions;
}

/** One version file, alone (for diff and publish). */
export async function loadRateCardFile(file: string): Promise<{ version: RateCardVersion; text: string }> {
  const read = await readConfigText(file);
  if (!read.ok) throw new ConfigFileError([read.problem], 'cannot use the rate card');
  const parsed = parseRateCardText(read.text, file);
  if (!parsed.ok) throw new ConfigFileError(parsed.problems, 'the rate card is invalid');
  return { version: parsed.version, text: read.text };
}

export async function loadContractFile(file: string, cache?: ParsedTextCache): Promise<Contract> {
  const read = await readConfigText(file);
  if (!read.ok) throw new ConfigFileError([read.problem], 'cannot use the contract');
  const parsed =
    cache === undefined
      ? parseContractText(read.text, file)
      : cache.parse(file, read.text, () => parseContractText(read.text, file));
  if (!parsed.ok) throw new ConfigFileError(parsed.problems, 'the contract is invalid');
  return parsed.contract;
}
