import type { AuthenticatedUser } from '../../access/index.ts';
import type { Permission } from '../../domain/access/roles.ts';
import type { ConsoleDeps } from '../console-deps.ts';
import type { SafeHtml } from '../html.ts';

/**
 * One page of the console: a URL, the permission it needs, an optional entry in the shell's
 * navigation, and a render function. A new capability's page (shadow runs, backfills, the
 * executive and account views) is one more entry in `pages/index.ts`.
 */
export interface ConsolePage {
  /** A fastify route path, e.g. `/exceptions/:id`. */
  readonly path: string;
  readonly permission: Permission;
  readonly nav?: { readonly label: string; readonly href: string };
  readonly render: (context: PageContext) => Promise<PageView | undefined>;
}

export interface PageContext {
  readonly deps: ConsoleDeps;
  readonly user: AuthenticatedUser;
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string | undefined>>;
}

interface PageView {
  readonly title: string;
  readonly body: SafeHtml;
  /** Scripts beyond the console's own (e.g. the chart library), served from /assets. */
  readonly scripts?: readonly string[];
}
