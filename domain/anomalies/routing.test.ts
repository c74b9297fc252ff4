import { describe, expect, it } from 'vitest';
import { parseAnomalyRoutesText, type AnomalyRoutes } from '../../contracts/anomaly-routes.ts';
import { formatProblem } from '../../contracts/yaml-config.ts';
import type { Anomaly } from './detector.ts';
import { anomalyId, routeAnomaly } from './routing.ts';

const ROUTES = `targets:
  oncall: https://hooks.example.com/oncall
  finance: https://hooks.example.com/finance
routes:
  - { target: oncall, severity: [high] }
  - { target: finance, metric: [cogs] }
  - { target: finance, customers: [acme], skus: [llm.tokens] }
`;

function routes(text = ROUTES): AnomalyRoutes {
  const parsed = parseAnomalyRoutesText(text, 'anomaly-routes.yaml');
  if (!parsed.ok) throw new Error(parsed.problems.map(formatProblem).join('\n'));
  return parsed.routes;
}

function anomaly(overrides: Partial<Anomaly> = {}): Anomaly {
  return {
    customer_id: 'acme',
    sku: 'llm.tokens',
    day: '2026-10-12',
    metric: 'usage',
    value: '9000',
    expected: '3000',
    lower: '2400',
    upper: '3700',
    score: 22,
    severity: 'high',
    ...overrides,
  };
}

describe('routeAnomaly', () => {
  it.each([
    { name: 'high severity of acme tokens: on-call and finance', given: {}, expected: ['oncall', 'finance'] },
    { name: 'low severity of acme tokens: finance only', given: { severity: 'low' as const }, expected: ['finance'] },
    { name: 'another customer, low: nobody', given: { customer_id: 'globex', severity: 'low' as const }, expected: [] },
    {
      name: 'COGS (no customer), medium: finance once though a customer route names the SKU',
      given: { customer_id: null, metric: 'cogs' as const, severity: 'medium' as const },
      expected: ['finance'],
    },
  ])('$name', ({ given, expected }) => {
    expect(routeAnomaly(anomaly(given), routes()).map((target) => target.target)).toEqual(expected);
  });

  it('ids are per metric, customer, SKU and day', () => {
    expect(anomalyId(anomaly())).toBe('usage:acme:llm.tokens:2026-10-12');
    expect(anomalyId(anomaly({ customer_id: null, metric: 'cogs' }))).toBe('cogs:*:llm.tokens:2026-10-12');
  });

  it('refuses a route to a target that does not exist, and a target that is not a URL, by line and field', () => {
    const parsed = parseAnomalyRoutesText(
      ROUTES.replace('https://hooks.example.com/finance', 'ftp://x'),
      'anomaly-routes.yaml',
    );
    expect(parsed.ok ? [] : parsed.problems.map(formatProblem)).toEqual([
      'anomaly-routes.yaml:3:12 targets.finance: a target is an http(s) URL',
    ]);
    const missing = parseAnomalyRoutesText(`${ROUTES}  - { target: pager }\n`, 'anomaly-routes.yaml');
    expect(missing.ok ? [] : missing.problems.map(formatProblem)).toEqual([
      'anomaly-routes.yaml:8:15 routes[3].target: no target named pager under targets (oncall, finance)',
    ]);
  });
});
