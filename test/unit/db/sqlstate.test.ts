import { describe, it, expect } from 'vitest';
import { classifyDbError } from '../../../src/db/sqlstate.js';
import { DbIntegrityError, DbTransientError, InvalidInputError, RpcTransientError } from '../../../src/errors.js';

/** An error shaped like the ones `pg` throws: `code` holds the SQLSTATE (or a Node errno name). */
const pgError = (code: string | undefined, message: string): Error => Object.assign(new Error(message), code === undefined ? {} : { code });

describe('src/db/sqlstate.ts', () => {
  const cases: [string | undefined, string, 'transient' | 'integrity' | 'unchanged'][] = [
    ['08000', 'connection_exception', 'transient'],
    ['08003', 'connection_does_not_exist', 'transient'],
    ['08006', 'connection_failure', 'transient'],
    ['08P01', 'protocol_violation', 'transient'],
    ['40001', 'could not serialize access due to concurrent update', 'transient'],
    ['40P01', 'deadlock detected', 'transient'],
    ['57014', 'canceling statement due to statement timeout', 'transient'],
    ['57P01', 'terminating connection due to administrator command', 'transient'],
    ['57P02', 'crash_shutdown', 'transient'],
    ['57P03', 'the database system is starting up', 'transient'],
    ['53300', 'sorry, too many clients already', 'transient'],
    ['23505', 'duplicate key value violates unique constraint "blocks_pkey"', 'integrity'],
    ['23503', 'insert or update on table "logs" violates foreign key constraint', 'integrity'],
    ['23502', 'null value in column "hash" violates not-null constraint', 'integrity'],
    ['23514', 'new row violates check constraint', 'integrity'],
    ['ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432', 'transient'],
    ['ECONNRESET', 'read ECONNRESET', 'transient'],
    ['EPIPE', 'write EPIPE', 'transient'],
    ['ETIMEDOUT', 'connect ETIMEDOUT', 'transient'],
    [undefined, 'Connection terminated unexpectedly', 'transient'],
    [undefined, 'timeout exceeded when trying to connect', 'transient'],
    [undefined, 'Query read timeout', 'transient'],
    ['42P01', 'relation "blocks" does not exist', 'unchanged'],
    ['42601', 'syntax error at or near "selec"', 'unchanged'],
    ['22003', 'numeric field overflow', 'unchanged'],
    ['53100', 'could not extend file: No space left on device', 'unchanged'],
    ['40002', 'transaction_integrity_constraint_violation', 'unchanged'],
    [undefined, 'something else', 'unchanged'],
  ];
  for (const [code, message, want] of cases) {
    it(`classifyDbError() maps ${code ?? 'no code'} (${message}) to ${want === 'transient' ? 'DbTransientError' : want === 'integrity' ? 'DbIntegrityError' : 'the error unchanged'}`, () => {
      const err = pgError(code, message);
      const out = classifyDbError(err, 'storeBatch blocks 100–199');
      if (want === 'unchanged') {
        expect(out).toBe(err);
        return;
      }
      expect(out).toBeInstanceOf(want === 'transient' ? DbTransientError : DbIntegrityError);
      const label = code === undefined ? '' : /^E[A-Z]+$/.test(code) ? ` (${code})` : ` (SQLSTATE ${code})`;
      expect((out as Error).message).toBe(`storeBatch blocks 100–199: ${message}${label}`);
      expect((out as Error).cause).toBe(err);
      expect((out as DbTransientError).retryable).toBe(want === 'transient');
    });
  }

  it('classifyDbError() returns an IndexerError unchanged', () => {
    for (const err of [new InvalidInputError('from > to'), new RpcTransientError('x'), new DbIntegrityError('y')]) {
      expect(classifyDbError(err, 'ctx')).toBe(err);
    }
  });

  it('classifyDbError() returns a non-Error value unchanged', () => {
    expect(classifyDbError('boom', 'ctx')).toBe('boom');
    expect(classifyDbError(undefined, 'ctx')).toBe(undefined);
  });

  it('classifyDbError() maps a plain object with code 40P01 to DbTransientError', () => {
    const out = classifyDbError({ code: '40P01' }, 'ctx');
    expect(out).toBeInstanceOf(DbTransientError);
    expect((out as Error).message).toBe('ctx: [object Object] (SQLSTATE 40P01)');
  });
});
