/**
 * The client names DATABASE_URL for failures from Postgres or the connection to it, and only
 * those: its own refusals and file-system errors keep their own message.
 */
import { describe, expect, it } from 'vitest';
import { isDatabaseFailure } from '../../../src/cli/database-failure.js';
import { DbTransientError } from '../../../src/errors.js';

const withCode = (message: string, props: Record<string, unknown>): Error => Object.assign(new Error(message), props);

describe('isDatabaseFailure()', () => {
  it.each([
    ['a refused password (SQLSTATE 28P01)', withCode('password authentication failed for user "indexer"', { code: '28P01' }), true],
    ['a missing database (3D000)', withCode('database "x" does not exist', { code: '3D000' }), true],
    ['a refused connection', withCode('connect ECONNREFUSED 127.0.0.1:5432', { code: 'ECONNREFUSED', syscall: 'connect' }), true],
    ['an unknown host', withCode('getaddrinfo ENOTFOUND db', { code: 'ENOTFOUND', syscall: 'getaddrinfo' }), true],
    ['a dropped connection', new Error('Connection terminated unexpectedly'), true],
    ['a URL without the password the server asks for', new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string'), true],
    ['a classified error around a driver error', new DbTransientError('reading the cursor of chain 1: connect ECONNREFUSED', { cause: withCode('connect ECONNREFUSED', { code: 'ECONNREFUSED' }) }), true],
    ['a directory that cannot be written', withCode("EACCES: permission denied, mkdir '/x'", { code: 'EACCES', syscall: 'mkdir', path: '/x' }), false],
    ['a file-system errno that a socket also has, with a path', withCode('EPIPE', { code: 'EPIPE', syscall: 'write', path: '/x/blocks.copy' }), false],
    ['a plain error', new Error('block 5 of chain 1 is not stored'), false],
    ['a string', 'boom', false],
  ])('%s: %s', (_what, err, expected) => {
    expect(isDatabaseFailure(err)).toBe(expected);
  });
});
