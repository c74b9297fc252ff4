import { InvalidArgumentError, type Command } from 'commander';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .option('--customers <n>', 'how many customers (at least 6: the sample contracts)', wholeNumber, 20)
    .option('--scale <factor>', 'usage per customer (1 ≈ 60-700 events a month)', positiveFactor, 2)
    .action(async (options: { customers: number; scale: number }) => {
      const { runDemo } = await import('../demo/run-demo.ts');
      await runDemo(options);
    });
}

function wholeNumber(text: string): number {
  if (!/^\d{1,4}$/.test(text) || Number.parseInt(text, 10) < 6)
    throw new InvalidArgumentError('a whole number, at least 6');
  return Number.parseInt(text, 10);
}

function positiveFactor(text: string): number {
  const value = Number(text);
  if (!/^\d{1,3}(\.\d{1,3})?$/.test(text) || value <= 0)
    throw new InvalidArgumentError('a positive number such as 0.5 or 2');
  return value;
}
