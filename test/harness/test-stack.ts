import path from 'node:path';
import { repositoryRoot, type ServiceEndpoints } from '../../config/services.ts';
import type { StackLayout } from '../../stack/index.ts';

/**
 * The test suite's own stack: separate ports and data from the user's `tally stack up`, so the two
 * never meet. TALLY_TEST_PORT_BASE moves it (two checkouts testing at once on one machine).
 */
export function testStackLayout(env: Record<string, string | undefined> = process.env): StackLayout {
  const portBase = Number.parseInt(env.TALLY_TEST_PORT_BASE ?? '17340', 10);
  return {
    dataDir: path.join(repositoryRoot, '.tally', `test-stack-${portBase}`),
    toolsDir: env.TALLY_TOOLS_DIR ?? path.join(repositoryRoot, '.tools'),
    portBase,
    temporalUi: false,
    namespace: 'billing',
  };
}

export interface ProvidedStack {
  readonly layout: StackLayout;
  readonly endpoints: ServiceEndpoints;
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: ProvidedStack;
  }
}
