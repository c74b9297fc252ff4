import type { ConsoleDeps } from '../console-deps.ts';
import { workflowLink, workflowListLink } from '../temporal-links.ts';

export { externalLink } from './format.ts';

export function workflowLinkOf(deps: ConsoleDeps, workflowId: string): string | undefined {
  return workflowLink(deps.settings.temporalUiUrl, deps.temporalNamespace, workflowId);
}

export function workflowListLinkOf(deps: ConsoleDeps, query: string): string | undefined {
  return workflowListLink(deps.settings.temporalUiUrl, deps.temporalNamespace, query);
}
