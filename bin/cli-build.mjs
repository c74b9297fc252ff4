// The `tally` command runs from a JavaScript bundle of its TypeScript sources, built by esbuild into
// dist/<source signature>/: Node starts it in a fraction of the time a TypeScript loader needs.
// The signature covers every source file's path, size and mtime, so an edited source is never run
// stale: the next `tally` call rebuilds (≈ 0.5 s) before it runs. `make` builds it ahead of time.
// Concurrent first runs are safe: each builds into a private folder and the first rename wins.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const distRoot = path.join(root, 'dist');
/** Folders whose TypeScript the CLI may import (tests are not part of the command). */
const SKIPPED = new Set(['node_modules', 'test', 'dist', 'coverage']);
const KEPT_BUILDS = 3;

function sourceFiles() {
  const files = [];
  const walk = (folder) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || SKIPPED.has(entry.name)) continue;
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) files.push(full);
    }
  };
  walk(root);
  return files.sort();
}

function sourceSignature() {
  const hash = createHash('sha256');
  for (const file of [...sourceFiles(), path.join(root, 'package-lock.json')]) {
    const { size, mtimeMs } = statSync(file);
    hash.update(`${path.relative(root, file)}\0${size}\0${mtimeMs}\n`);
  }
  return hash.digest('hex').slice(0, 16);
}

async function build(outdir) {
  const esbuild = await import('esbuild');
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: { main: 'cli/main.ts' },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    outExtension: { '.js': '.mjs' },
    logLevel: 'warning',
  });
}

/** Removes all but the newest few builds (a build another process still runs from stays on disk). */
function pruneBuilds(current) {
  const builds = readdirSync(distRoot, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name !== current && !entry.name.includes('.tmp-'))
    .map((entry) => ({ name: entry.name, mtimeMs: statSync(path.join(distRoot, entry.name)).mtimeMs }))
    .sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const stale of builds.slice(KEPT_BUILDS - 1))
    rmSync(path.join(distRoot, stale.name), { recursive: true, force: true });
}

/** The entry module of a build of the current sources, building it first when there is none. */
export async function currentCliBuild() {
  const signature = sourceSignature();
  const folder = path.join(distRoot, signature);
  const entry = path.join(folder, 'main.mjs');
  if (existsSync(entry)) return entry;
  const staging = `${folder}.tmp-${process.pid}`;
  await build(staging);
  try {
    renameSync(staging, folder);
  } catch {
    // Another process finished the same build first: use it.
    rmSync(staging, { recursive: true, force: true });
  }
  pruneBuilds(signature);
  return entry;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const entry = await currentCliBuild();
  process.stdout.write(`tally CLI built: ${path.relative(root, entry)}\n`);
}
