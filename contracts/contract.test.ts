import { describe, expect, it } from 'vitest';
import { durationMs } from './config-fields.ts';
import { parseContractText } from './contract.ts';
import { formatProblem } from './yaml-config.ts';

const FILE = 'contracts/acme.yaml';
const VALID = `customer_id: acme
ratecard: standard
currency: USD
starts_at: 2026-01-01T00:00:00Z
grace: 1h
commit: { amount: "1000.00" }
credits:
  - { id: promo-q4, kind: promotional, amount: "50.00", granted_at: 2026-10-01T00:00:00Z, expires_at: 2026-12-31T23:59:59Z }
  - { id: prepaid-1, kind: prepaid, amount: "2000.00", granted_at: 2026-09-15T00:00:00Z }
review:
  total_above: "50000.00"
  change_pct_above: "50"
  shadow_variance_pct: "1"
  shadow_variance_abs: "100.00"
  timeout: 72h
provider: { kind: stripe, customer: cus_123 }
`;

const problems = (text: string): string[] => {
  const parsed = parseContractText(text, FILE);
  return parsed.ok ? [] : parsed.problems.map(formatProblem);
};

describe('parseContractText', () => {
  it('accepts the SPEC §3 example, normalizes instants and fills defaults', () => {
    const parsed = parseContractText(VALID, FILE);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.contract).toMatchObject({
      customer_id: 'acme',
      starts_at: '2026-01-01T00:00:00.000Z',
      grace: '1h',
      credits: [
        { id: 'promo-q4', expires_at: '2026-12-31T23:59:59.000Z' },
        { id: 'prepaid-1', granted_at: '2026-09-15T00:00:00.000Z' },
      ],
      review: { timeout: '72h' },
      revenue: { commit_policy: 'drawdown' },
    });
    expect(durationMs(parsed.contract.grace)).toBe(3_600_000);
  });

  it('takes the revenue commit policy when given', () => {
    const parsed = parseContractText(`${VALID}revenue: { commit_policy: ratable }\n`, FILE);
    expect(parsed.ok && parsed.contract.revenue.commit_policy).toBe('ratable');
    expect(problems(`${VALID}revenue: { commit_policy: monthly }\n`).join('\n')).toContain(
      `${FILE}:17:27 revenue.commit_policy: Invalid option`,
    );
  });

  it.each([
    [
      'an amount finer than the currency',
      ['"1000.00"', '"1000.001"'],
      `${FILE}:6:19 commit.amount: 1000.001 has more decimals than USD has minor units (2)`,
    ],
    [
      'a money amount as a YAML number',
      ['amount: "50.00"', 'amount: 50.00'],
      `${FILE}:8:48 credits[0].amount: amount must be a decimal in quotes`,
    ],
    [
      'a credit expiring before it is granted',
      ['expires_at: 2026-12-31T23:59:59Z', 'expires_at: 2026-09-01T00:00:00Z'],
      `${FILE}:8:103 credits[0].expires_at: expires_at must be after granted_at`,
    ],
    [
      'a duplicate credit id',
      ['id: prepaid-1', 'id: promo-q4'],
      `${FILE}:9:11 credits[1].id: credit id "promo-q4" is used twice`,
    ],
    ['an unknown credit kind', ['kind: prepaid', 'kind: gift'], `${FILE}:9:28 credits[1].kind: Invalid option`],
    [
      'a bad duration',
      ['timeout: 72h', 'timeout: three days'],
      `${FILE}:15:12 review.timeout: a duration like 30m, 1h, 72h or 2d`,
    ],
    [
      'an instant without an offset',
      ['starts_at: 2026-01-01T00:00:00Z', 'starts_at: 2026-01-01'],
      `${FILE}:4:12 starts_at: must be an RFC 3339 instant with an offset`,
    ],
    [
      'ends_at before starts_at',
      ['grace: 1h', 'ends_at: 2025-01-01T00:00:00Z\ngrace: 1h'],
      `${FILE}:5:10 ends_at: ends_at must be after starts_at`,
    ],
    ['an unknown field', ['grace: 1h', 'grace: 1h\ngrase: 2h'], `${FILE}:6:1 grase: unknown field "grase"`],
    ['a missing customer id', ['customer_id: acme\n', ''], `${FILE}:1:1 customer_id: is required`],
  ])('refuses %s, naming file, line and field', (_name, [from, to], expected) => {
    expect(VALID.includes(from as string)).toBe(true);
    expect(problems(VALID.replace(from as string, to as string)).join('\n')).toContain(expected);
  });

  it('takes a marketplace block per marketplace, and refuses one beside a provider', () => {
    const base = VALID.replace('provider: { kind: stripe, customer: cus_123 }\n', '');
    const aws = `${base}marketplace: { kind: aws, customer_account: "123456789012", license_arn: "arn:aws:license-manager::123456789012:license/l-1", metering_from: 2026-10-14T09:00:00Z }\n`;
    const parsed = parseContractText(aws, FILE);
    expect(parsed.ok && parsed.contract.marketplace).toEqual({
      kind: 'aws',
      customer_account: '123456789012',
      license_arn: 'arn:aws:license-manager::123456789012:license/l-1',
      metering_from: '2026-10-14T09:00:00.000Z',
    });
    expect(problems(`${base}marketplace: { kind: gcp, consumer_id: "project_number:1" }\n`)).toEqual([]);
    expect(problems(`${base}marketplace: { kind: aws, customer_account: "12345", license_arn: "x" }\n`)).toEqual([
      `${FILE}:16:45 marketplace.customer_account: customer_account is the 12-digit AWS account id`,
      `${FILE}:16:67 marketplace.license_arn: license_arn is a License Manager ARN`,
    ]);
    expect(problems(`${VALID}marketplace: { kind: azure, resource_id: r, plan_id: p }\n`)).toEqual([
      `${FILE}:16:11 provider: a contract billed by the azure marketplace is invoiced there, not by a provider; remove provider or marketplace`,
    ]);
  });
});
