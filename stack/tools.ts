import { execFile, spawn } from 'node:child_process';
import { access, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { TallyError } from '../contracts/tally-error.ts';

const execFileAsync = promisify(execFile);

/** The Go-built servers of the embedded stack and its tests, pinned: `go install module@version` builds exactly this. */
export const PINNED_TOOLS = {
  temporal: { module: 'github.com/temporalio/cli/cmd/temporal', version: 'v1.5.1' },
  'nats-server': { module: 'github.com/nats-io/nats-server/v2', version: 'v2.12.15' },
  /**
   * The Temporal server and its SQL schema tool (the cluster test builds them on demand; the same
   * version as docker-compose.yml's images, a test holds them together). Go >= 1.25.8.
   */
  'temporal-server': { module: 'go.temporal.io/server/cmd/server', version: 'v1.30.4', installedAs: 'server' },
  'temporal-sql-tool': { module: 'go.temporal.io/server/cmd/tools/sql', version: 'v1.30.4', installedAs: 'sql' },
  /** Stripe's OpenAPI-validating mock; only the request-shape test builds it (on demand). */
  'stripe-mock': { module: 'github.com/stripe/stripe-mock', version: 'v0.203.0' },
} as const;
export type ToolName = keyof typeof PINNED_TOOLS;

class ToolBuildError extends TallyError {
  constructor(message: string) {
    super('tool_build_failed', message, { permanent: true });
  }
}

function toolPath(toolsDir: string, name: ToolName): string {
  return path.join(toolsDir, 'bin', name);
}

/**
 * Returns the path of a pinned tool, building it with `go install` into `<toolsDir>/bin` when it
 * is missing or was built from another version (recorded in `<toolsDir>/bin/<name>.version`).
 */
export async function ensureTool(toolsDir: string, name: ToolName, log: (line: string) => void): Promise<string> {
  const { module, version } = PINNED_TOOLS[name];
  const binary = toolPath(toolsDir, name);
  const stampFile = `${binary}.version`;
  const built = await readFile(stampFile, 'utf8').then(
    (text) => text.trim(),
    () => '',
  );
  if (built === `${module}@${version}` && (await exists(binary))) return binary;

  const go = await findGo();
  await mkdir(path.dirname(binary), { recursive: true });
  log(`building ${name} ${version} with ${go.version} (first time only; a few minutes)…`);
  const startedMs = Date.now();
  await goInstall(go.path, `${module}@${version}`, path.dirname(binary), (line) => log(`  ${name}: ${line}`));
  // `go install` names the binary after the package's folder (…/cmd/server → server): give it the tool's name.
  const tool = PINNED_TOOLS[name];
  if ('installedAs' in tool) await rename(path.join(path.dirname(binary), tool.installedAs), binary);
  await writeFile(stampFile, `${module}@${version}\n`);
  log(`built ${name} in ${Math.round((Date.now() - startedMs) / 1000)} s`);
  return binary;
}

/** How often a build says where it is, at most (a cold Temporal build takes minutes). */
const PROGRESS_EVERY_MS = 5_000;

/**
 * `go install -v module@version` into `gobin`, saying every few seconds what it is doing: the
 * modules it downloads, then how many packages it has compiled and the latest one.
 */
async function goInstall(goPath: string, target: string, gobin: string, progress: (line: string) => void) {
  const startedMs = Date.now();
  const child = spawn(goPath, ['install', '-v', target], {
    env: { ...process.env, GOBIN: gobin, CGO_ENABLED: '0', GOFLAGS: '-mod=mod' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const tail: string[] = [];
  let downloads = 0;
  let packages = 0;
  let latest = 'resolving modules';
  createInterface({ input: child.stderr }).on('line', (line) => {
    tail.push(line);
    if (tail.length > 200) tail.shift();
    const download = /^go: downloading (\S+)/.exec(line);
    if (download) {
      downloads += 1;
      latest = `downloading ${download[1]}`;
    } else if (/^[\w.-]+(\/[\w.~-]+)+$/.test(line.trim())) {
      packages += 1;
      latest = `at ${line.trim()}`;
    }
  });
  const timer = setInterval(() => {
    const seconds = Math.round((Date.now() - startedMs) / 1000);
    progress(`${seconds} s: ${downloads} modules downloaded, ${packages} packages built; ${latest}`);
  }, PROGRESS_EVERY_MS);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    if (code !== 0) throw new ToolBuildError(`go install ${target} failed:\n${tail.join('\n').trim()}`);
  } catch (error) {
    if (error instanceof ToolBuildError) throw error;
    throw new ToolBuildError(`go install ${target} failed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    clearInterval(timer);
  }
}

async function findGo(): Promise<{ path: string; version: string }> {
  for (const candidate of ['go', '/usr/local/go/bin/go']) {
    try {
      const { stdout } = await execFileAsync(candidate, ['version']);
      const match = /go(\d+)\.(\d+)/.exec(stdout);
      if (match && (Number(match[1]) > 1 || Number(match[2]) >= 25)) {
        return { path: candidate, version: stdout.trim().split(' ')[2] ?? 'go' };
      }
      throw new ToolBuildError(
        `Go >= 1.25 is needed to build the local servers (Temporal, NATS, stripe-mock); found: ${stdout.trim()}`,
      );
    } catch (error) {
      if (error instanceof ToolBuildError) throw error;
    }
  }
  throw new ToolBuildError(
    'Go >= 1.25 is needed to build the local servers (Temporal, NATS, stripe-mock), and `go` was not found on PATH. ' +
      'Install Go, or point Tally at existing services with TEMPORAL_ADDRESS, NATS_URL and DATABASE_URL.',
  );
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
