import { userInfo } from 'node:os';
import type { Command } from 'commander';
import {
  AccessError,
  addUser,
  authenticatePassword,
  disableUser,
  issueToken,
  listUsers,
  unlockUser,
} from '../access/index.ts';
import { migrate } from '../db/migrate.ts';
import { readSecret } from './console-credentials.ts';
import { printTable, withDatabase } from './services.ts';

/**
 * The console's accounts. Whoever runs these holds the database's credentials already, so they act
 * as the operator (recorded in the audit log as `cli:<os user>`); in the console an admin does the same.
 */
export function registerUsersCommands(program: Command): void {
  const users = program.command('users');
  const operator = { operator: `cli:${userInfo().username}` };

  users
    .command('add <name>')
    .description('add a console user; the password is read from stdin, or generated and printed once')
    .requiredOption('--role <role>', 'viewer | reviewer | admin')
    .action(async (name: string, options: { role: string }) => {
      await withDatabase(async (pool) => {
        await migrate(pool);
        const password = process.stdin.isTTY ? '' : await readSecret('');
        const added = await addUser(pool, operator, {
          username: name,
          role: options.role,
          ...(password === '' ? {} : { password }),
        });
        process.stdout.write(`added ${added.username} (${added.role})\n`);
        if (added.generatedPassword !== undefined)
          process.stdout.write(`password (shown once, not stored): ${added.generatedPassword}\n`);
      });
    });

  users
    .command('list')
    .description('console users with their role and status')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }) => {
      await withDatabase(async (pool) => {
        await migrate(pool);
        const listed = await listUsers(pool);
        if (options.json) return void process.stdout.write(`${JSON.stringify(listed, null, 2)}\n`);
        if (listed.length === 0) return void process.stdout.write('no users (tally users add NAME --role …)\n');
        printTable(
          listed.map((user) => ({
            user: user.username,
            role: user.role,
            status: user.status,
            created: `${user.createdAt} by ${user.createdBy}`,
            'last sign-in': user.lastLoginAt ?? '',
          })),
          ['user', 'role', 'status', 'created', 'last sign-in'],
        );
      });
    });

  users
    .command('disable <name>')
    .description('disable a user: their sessions end and their tokens stop working (users are never deleted)')
    .action(async (name: string) => {
      await withDatabase(async (pool) => {
        await disableUser(pool, operator, name);
        process.stdout.write(`disabled ${name}\n`);
      });
    });

  users
    .command('unlock <name>')
    .description('lift a lockout after repeated failed logins')
    .action(async (name: string) => {
      await withDatabase(async (pool) => {
        await unlockUser(pool, operator, name);
        process.stdout.write(`unlocked ${name}\n`);
      });
    });

  users
    .command('token <name>')
    .description(
      "a personal token for the CLI (TALLY_USER_TOKEN), after the user's password (stdin or prompt); shown once",
    )
    .option('--days <n>', 'days the token is valid', '90')
    .action(async (name: string, options: { days: string }) => {
      const days = Number.parseInt(options.days, 10);
      if (!Number.isSafeInteger(days) || days < 1 || days > 366)
        throw new AccessError('bad_request', '--days is a whole number from 1 to 366');
      await withDatabase(async (pool) => {
        const password = await readSecret(`password for ${name}: `);
        const user = await authenticatePassword(pool, { username: name, password, from: 'cli' });
        const issued = await issueToken(pool, user, days);
        process.stdout.write(`${issued.token}\n`);
        process.stderr.write(
          `token ${issued.tokenId} for ${name}, valid until ${issued.expiresAt}; shown once: export TALLY_USER_TOKEN=<it>\n`,
        );
      });
    });
}
