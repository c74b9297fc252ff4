import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository's folders, found from this module's own location by walking up to the first
 * `package.json`: the same answer whether the code runs from its TypeScript sources (tests, tsx) or
 * from the CLI's bundle under `dist/<build>/` (bin/tally.mjs).
 */
function findRepositoryRoot(start: string): string {
  for (let folder = start; ; folder = path.dirname(folder)) {
    if (existsSync(path.join(folder, 'package.json'))) return folder;
    if (path.dirname(folder) === folder) throw new Error(`no package.json above ${start}`);
  }
}

export const repositoryRoot = findRepositoryRoot(path.dirname(fileURLToPath(import.meta.url)));

/** The workflow bundle's entry point: the Temporal worker bundles the workflow sources itself. */
export const workflowsEntry = path.join(repositoryRoot, 'workflows', 'index.ts');

/** Forward-only SQL migrations (db/migrate.ts). */
export const migrationsDir = path.join(repositoryRoot, 'db', 'migrations');

/** The console's own stylesheet and script (served as they are: no build step). */
export const consoleAssetsDir = path.join(repositoryRoot, 'console', 'assets');

/** Chart.js's UMD build, served by the console from the project's own dependencies (no CDN). */
export const chartJsDistDir = path.join(repositoryRoot, 'node_modules', 'chart.js', 'dist');
