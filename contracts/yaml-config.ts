import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { TallyError } from './tally-error.ts';

/**
 * Config files that people edit (rate cards, contracts) are YAML. This module parses one with the
 * positions of every node kept, validates it with a zod schema, and turns each problem into
 * `file:line:column field: message`, so a finance person can find the line to fix. Pure: the
 * caller reads the file and passes its text.
 */

export interface ConfigProblem {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  /** Path of the field in the document, e.g. `prices[2].tiers[1].up_to`; `(file)` for the whole file. */
  readonly field: string;
  readonly message: string;
}

export type FieldPath = readonly PropertyKey[];

interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

/** The parsed document's map from a field path to where it is written (or where it is missing from). */
export interface YamlPositions {
  readonly file: string;
  positionOf(path: FieldPath): SourcePosition;
  /** Whether every step of `path` is written in the file. */
  positionExists(path: FieldPath): boolean;
  /**
   * A problem at `path`, placed at the field's value (or its key with `at: 'key'`), or at the nearest
   * enclosing field when it is missing.
   */
  problemAt(path: FieldPath, message: string, options?: { at: 'key' | 'value' }): ConfigProblem;
}

export type ParsedConfig<T> =
  | { readonly ok: true; readonly value: T; readonly positions: YamlPositions }
  | { readonly ok: false; readonly problems: ConfigProblem[] };

/** A config file that cannot be used. `problems` lists every problem found, each with file, line and field. */
export class ConfigFileError extends TallyError {
  constructor(
    readonly problems: readonly ConfigProblem[],
    summary = 'invalid configuration',
  ) {
    super('invalid_config', `${summary}:\n${problems.map((problem) => `  ${formatProblem(problem)}`).join('\n')}`, {
      permanent: true,
    });
  }
}

export function formatProblem(problem: ConfigProblem): string {
  return `${problem.file}:${problem.line}:${problem.column} ${problem.field}: ${problem.message}`;
}

/** `prices[2].tiers[1].up_to`; `(file)` for the root. */
function formatFieldPath(path: FieldPath): string {
  if (path.length === 0) return '(file)';
  let text = '';
  for (const segment of path) {
    // A key with no name (a line that starts with ":") is shown as "", never as nothing.
    const name = String(segment) === '' ? '""' : String(segment);
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text === '' ? name : `.${name}`;
  }
  return text;
}

/**
 * Parses YAML `text` (named `file` in messages) and validates it with `schema`. YAML syntax errors,
 * duplicate keys and schema issues all come back as problems with positions; nothing is thrown.
 * The YAML 1.2 core schema is used, so `2026-10-01T00:00:00Z` stays a string and no date magic happens.
 */
export function parseYamlConfig<S extends z.ZodType>(text: string, file: string, schema: S): ParsedConfig<z.output<S>> {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, {
    lineCounter,
    schema: 'core',
    uniqueKeys: true,
    prettyErrors: false,
    strict: true,
  });
  const positions = yamlPositions(document, lineCounter, file);
  if (document.errors.length > 0) {
    return {
      ok: false,
      problems: document.errors.map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        return { file, line, column: col, field: '(yaml)', message: firstLine(error.message) };
      }),
    };
  }
  const shared = anchorsAndAliases(document, lineCounter, file, text);
  if (shared.length > 0) return { ok: false, problems: shared };
  const result = schema.safeParse(document.toJS({ maxAliasCount: 0 }));
  if (result.success) return { ok: true, value: result.data, positions };
  return { ok: false, problems: zodIssuesToProblems(result.error.issues, positions) };
}

/**
 * Anchors (`&name`) and aliases (`*name`) make one value stand in two places, so a reviewer of a
 * rate card or contract cannot see a price where it applies; they are refused where they are
 * written (docs/decisions/bad-input.md).
 */
function anchorsAndAliases(document: Document, lineCounter: LineCounter, file: string, text: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const at = (offset: number, what: string): void => {
    const { line, col } = lineCounter.linePos(offset);
    problems.push({
      file,
      line,
      column: col,
      field: '(yaml)',
      message: `anchors and aliases are not allowed (${what})`,
    });
  };
  visit(document, {
    Alias(_key, node) {
      at(node.range?.[0] ?? 0, `alias *${node.source}`);
    },
    Node(_key, node) {
      if (node.anchor !== undefined) at(anchorOffset(text, node), `anchor &${node.anchor}`);
    },
  });
  return problems.sort((a, b) => a.line - b.line || a.column - b.column);
}

/** Where `&name` is written: the node's range starts after it, so look back for it in the source. */
function anchorOffset(text: string, node: Node): number {
  const start = node.range?.[0] ?? 0;
  const found = text.lastIndexOf(`&${node.anchor ?? ''}`, start);
  return found >= 0 ? found : start;
}

function zodIssuesToProblems(issues: readonly z.core.$ZodIssue[], positions: YamlPositions): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        problems.push(positions.problemAt([...issue.path, key], `unknown field "${key}"`, { at: 'key' }));
      continue;
    }
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      // Report the branch that got furthest rather than "invalid input".
      const deepest = issue.errors.reduce(
        (best, branch) => (branch.length > 0 && (best.length === 0 || branch.length < best.length) ? branch : best),
        [] as z.core.$ZodIssue[],
      );
      if (deepest.length > 0) {
        problems.push(
          ...zodIssuesToProblems(
            deepest.map((inner) => ({ ...inner, path: [...issue.path, ...inner.path] })),
            positions,
          ),
        );
        continue;
      }
    }
    const missing = issue.code === 'invalid_type' && !positions.positionExists(issue.path);
    problems.push(positions.problemAt(issue.path, missing ? 'is required' : issue.message));
  }
  return problems;
}

function yamlPositions(document: Document, lineCounter: LineCounter, file: string): YamlPositions {
  const toPosition = (offset: number): SourcePosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  /** The deepest node on `path` and whether the whole path exists. */
  const walk = (path: FieldPath, at: 'key' | 'value' = 'value'): { offset: number; complete: boolean } => {
    let node: unknown = document.contents;
    let offset = rangeStart(node) ?? 0;
    for (const [index, segment] of path.entries()) {
      if (isMap(node)) {
        const pair = node.items.find(
          (item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment),
        );
        if (!pair) return { offset, complete: false };
        const keyStart = rangeStart(pair.key);
        const valueStart = rangeStart(pair.value);
        offset = (at === 'key' && index === path.length - 1 ? keyStart : (valueStart ?? keyStart)) ?? offset;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment];
        if (item === undefined) return { offset, complete: false };
        offset = rangeStart(item) ?? offset;
        node = item;
      } else {
        return { offset, complete: false };
      }
    }
    return { offset, complete: true };
  };
  return {
    file,
    positionOf: (path) => toPosition(walk(path).offset),
    positionExists: (path) => walk(path).complete,
    problemAt: (path, message, options) => ({
      file,
      ...toPosition(walk(path, options?.at).offset),
      field: formatFieldPath(path),
      message,
    }),
  };
}

function rangeStart(node: unknown): number | undefined {
  if (node === null || typeof node !== 'object' || !('range' in node)) return undefined;
  const range = (node as Node).range;
  return range ? range[0] : undefined;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
