import { CALCULATION_VERSION, customerPeriodWorkflowId } from '../workflows/definitions.ts';

/** Deep links into the Temporal Web UI (when its address is known): one per workflow, and filtered lists. */
export function workflowLink(uiUrl: string | undefined, namespace: string, workflowId: string): string | undefined {
  if (uiUrl === undefined) return undefined;
  return `${uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

export function workflowListLink(uiUrl: string | undefined, namespace: string, query: string): string | undefined {
  if (uiUrl === undefined) return undefined;
  return `${uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows?query=${encodeURIComponent(query)}`;
}

/** The live customer-period workflow of an invoice. */
export function periodWorkflowId(customerId: string, period: string): string {
  return customerPeriodWorkflowId({ customerId, period, mode: 'live', calculationVersion: CALCULATION_VERSION });
}
