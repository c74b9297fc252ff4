import type { Command } from 'commander';

export function registerDemoCommand(program: Command): void {
  program.command('demo').description('the main job on the embedded stack').action(async () => {
    process.stdout.write('demo: not yet\n');
  });
}
