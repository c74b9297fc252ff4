import type { AnomalyRoutes } from '../../contracts/anomaly-routes.ts';
import type { Anomaly } from './detector.ts';

export interface RoutedTarget {
  readonly target: string;
  readonly url: string;
}

/**
 * The targets an anomaly is alerted to: every route whose filters all match (customer, SKU, metric,
 * severity; a missing filter matches anything), each target once, in the order of the routes. A COGS
 * anomaly has no customer, so a route filtered by customers never matches it.
 */
export function routeAnomaly(anomaly: Anomaly, routes: AnomalyRoutes): RoutedTarget[] {
  const targets: RoutedTarget[] = [];
  for (const route of routes.routes) {
    if (
      route.customers !== undefined &&
      (anomaly.customer_id === null || !route.customers.includes(anomaly.customer_id))
    )
      continue;
    if (route.skus !== undefined && !route.skus.includes(anomaly.sku)) continue;
    if (route.metric !== undefined && !route.metric.includes(anomaly.metric)) continue;
    if (route.severity !== undefined && !route.severity.includes(anomaly.severity)) continue;
    const url = routes.targets[route.target];
    if (url === undefined || targets.some((known) => known.target === route.target)) continue;
    targets.push({ target: route.target, url });
  }
  return targets;
}

/** `<metric>:<customer or *>:<sku>:<day>`: one anomaly per series and day, whoever finds it. */
export function anomalyId(anomaly: Pick<Anomaly, 'metric' | 'customer_id' | 'sku' | 'day'>): string {
  return `${anomaly.metric}:${anomaly.customer_id ?? '*'}:${anomaly.sku}:${anomaly.day}`;
}
