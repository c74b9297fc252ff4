import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { parseCostFileText, type CostVersion } from '../contracts/costs.ts';
import { ConfigFileError, type ConfigProblem } from '../contracts/yaml-config.ts';
import { fileProblem, readConfigText } from './config-files.ts';

/**
 * Reads Finance's unit costs, `costs/<effective_from>.yaml` (SPEC §10), and hands each file's text to
 * the pure parser in contracts/. Every bad file is listed with file, line and field; nothing is used
 * when any version is bad (a margin over half the costs would mislead).
 */
export async function loadCostVersions(folder: string): Promise<CostVersion[]> {
  const problems: ConfigProblem[] = [];
  let names: string[];
  try {
    names = (await readdir(folder)).sort();
  } catch (error) {
    throw new ConfigFileError(
      [fileProblem(folder, `cannot read the costs folder: ${(error as NodeJS.ErrnoException).code ?? String(error)}`)],
      'no unit costs',
    );
  }
  const versions: CostVersion[] = [];
  for (const name of names) {
    if (name === 'README.md' || name.startsWith('.')) continue;
    const file = path.join(folder, name);
    if (!name.endsWith('.yaml')) {
      problems.push(fileProblem(file, 'only <effective_from>.yaml files belong in the costs folder'));
      continue;
    }
    const read = await readConfigText(file);
    if (!read.ok) {
      problems.push(read.problem);
      continue;
    }
    const parsed = parseCostFileText(read.text, file);
    if (parsed.ok) versions.push(parsed.version);
    else problems.push(...parsed.problems);
  }
  if (versions.length === 0 && problems.length === 0)
    problems.push(fileProblem(folder, 'the costs folder has no versions'));
  if (problems.length > 0) throw new ConfigFileError(problems, 'the unit costs are invalid');
  return versions.sort((a, b) => (a.effective_from < b.effective_from ? -1 : 1));
}
