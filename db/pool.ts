import pg from 'pg';

/**
 * A connection pool. NUMERIC and int8 come back from `pg` as strings, which is what Tally wants:
 * money and quantities go straight into decimal.js. (`numeric[]` arrays would be parsed as floats:
 * never select `array_agg(numeric)`; cast to text[].)
 */
export function createPool(databaseUrl: string, options: { max?: number; applicationName?: string } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'tally',
  });
  // An idle client that loses its server (a Postgres restart) must not crash the process.
  pool.on('error', () => undefined);
  // Nor may a checked-out one between queries (the pool listens only while a client is idle): the
  // failure still reaches the caller through its next query, and the pool drops the broken client.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}

/** Runs `work` in a transaction owned by the caller; rolls back on any error. */
export async function withTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
