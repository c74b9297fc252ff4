import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { repositoryRoot } from '../../config/services.ts';

// The dependency rule of STYLE.md is enforced by lint; these cases prove the rule fires. The snippets
// are not files of the project, so type-aware parsing (and the rules that need it) is off here.
const eslint = new ESLint({
  cwd: repositoryRoot,
  overrideConfig: {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: false } },
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
});

async function lintAs(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(repositoryRoot, file) });
  return (result?.messages ?? []).map((message) => `${message.ruleId ?? 'fatal'}: ${message.message}`);
}

describe('the dependency rule', () => {
  it.each([
    ['domain/example.ts', "import pg from 'pg';\nexport const x = pg;\n"],
    ['workflows/example.ts', "import pg from 'pg';\nexport const x = pg;\n"],
    ['domain/example.ts', "import { createPool } from '../db/pool.ts';\nexport const x = createPool;\n"],
    // A sub-room of a room (domain/rating/segments/) reaches other rooms three folders up.
    [
      'domain/rating/segments/example.ts',
      "import { createPool } from '../../../db/pool.ts';\nexport const x = createPool;\n",
    ],
    ['workflows/example.ts', "import { connect } from '@nats-io/transport-node';\nexport const x = connect;\n"],
    ['contracts/example.ts', "import { migrate } from '../db/migrate.ts';\nexport const x = migrate;\n"],
    // Sandboxes stand in for third parties: only the demo and tests start one, and they import no room.
    [
      'workers/example.ts',
      "import { AwsMeteringEmulator } from '../sandboxes/marketplaces/aws-metering-emulator.ts';\nexport const x = AwsMeteringEmulator;\n",
    ],
    [
      'providers/example.ts',
      "import { AwsMeteringEmulator } from '../sandboxes/marketplaces/aws-metering-emulator.ts';\nexport const x = AwsMeteringEmulator;\n",
    ],
    ['sandboxes/example.ts', "import { Decimal } from '../domain/money.ts';\nexport const x = Decimal;\n"],
  ])('rejects %s importing a service', async (file, code) => {
    expect((await lintAs(file, code)).join('\n')).toMatch(/no-restricted-imports/);
  });

  it('keeps domain logic out of db/: queries import from domain/ only types and money', async () => {
    expect(
      (
        await lintAs(
          'db/queries/example.ts',
          "import { prepaidCreditPurchasedEntry } from '../../domain/journal/index.ts';\nexport const x = prepaidCreditPurchasedEntry;\n",
        )
      ).join('\n'),
    ).toMatch(/no-restricted-imports: .*db\/ imports from domain\/ only types and money/);
    expect(
      (
        await lintAs(
          'db/example.ts',
          "import { billingPeriod } from '../domain/period.ts';\nexport const x = billingPeriod;\n",
        )
      ).join('\n'),
    ).toMatch(/no-restricted-imports/);
    expect(
      await lintAs(
        'db/queries/example.ts',
        "import type { CreditGrant } from '../../domain/credit-ledger/index.ts';\nimport { Decimal } from '../../domain/money.ts';\nexport type X = CreditGrant;\nexport const y = new Decimal('1');\n",
      ),
    ).toEqual([]);
  });

  it('lets workflows import activity types, and domain import decimal.js', async () => {
    expect(
      await lintAs('workflows/example.ts', "import type { Decimal } from 'decimal.js';\nexport type X = Decimal;\n"),
    ).toEqual([]);
    expect(
      await lintAs('domain/example.ts', "import { Decimal } from 'decimal.js';\nexport const x = new Decimal('1');\n"),
    ).toEqual([]);
  });

  it.each([
    ['parseFloat', "export const x = parseFloat('1.5');\n"],
    ['Number()', "export const x = Number('1.5');\n"],
    ['toNumber()', "import { Decimal } from 'decimal.js';\nexport const x = new Decimal('1.5').toNumber();\n"],
    ['Date.now()', 'export const x = Date.now();\n'],
  ])('rejects %s in domain/', async (_name, code) => {
    expect((await lintAs('domain/example.ts', code)).join('\n')).toMatch(/no-restricted-syntax/);
  });
});
