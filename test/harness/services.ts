import { inject } from 'vitest';
import { createPool } from '../../db/pool.ts';
import type pg from 'pg';
import type { ProvidedStack } from './test-stack.ts';

/** The run's stack, started by global setup. */
export function testStack(): ProvidedStack {
  return inject('stack');
}

/** A pool on the test database; close it in afterAll. */
export function testPool(max = 5): pg.Pool {
  return createPool(testStack().endpoints.databaseUrl, { max, applicationName: 'tally-test' });
}
