import { describe, expect, it } from 'vitest';
import { TransientDatabaseError } from './batch-writer.ts';
import { isInfrastructureFailure } from './ingest-consumer.ts';

describe('which write failures a message is never parked for', () => {
  it('waits out the database being away or restarting, and parks only for failures the database answered', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(isInfrastructureFailure(new TransientDatabaseError(undefined, refused))).toBe(true);
    expect(isInfrastructureFailure(new TransientDatabaseError('57P03', new Error('not yet accepting')))).toBe(true);
    expect(isInfrastructureFailure(new TransientDatabaseError('57P01', new Error('terminating connection')))).toBe(
      true,
    );
    expect(isInfrastructureFailure(new TransientDatabaseError('08006', new Error('connection failure')))).toBe(true);
    expect(
      isInfrastructureFailure(
        new TransientDatabaseError(
          undefined,
          new Error('Client has encountered a connection error and is not queryable'),
        ),
      ),
    ).toBe(true);
    expect(isInfrastructureFailure(new TransientDatabaseError('42P01', new Error('relation does not exist')))).toBe(
      false,
    );
    expect(isInfrastructureFailure(new TransientDatabaseError(undefined, new TypeError('x is undefined')))).toBe(false);
    expect(isInfrastructureFailure(new Error('a bug in the write path'))).toBe(false);
  });
});
