/**
 * Which failures the client blames on `DATABASE_URL`: those that came from Postgres or from the
 * connection to it, as opposed to the client's own refusals and file-system errors (an `archive
 * --export` directory that cannot be written). Pure.
 */
import { causeChain } from './failure-text.js';

/** Node error codes (errno) a Postgres connection fails with before any SQLSTATE is known. */
const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);
/** What node-postgres says, without any code, when the connection drops, times out or lacks a password. */
const CONNECTION_MESSAGE = /Connection terminated|connection error|timeout exceeded when trying to connect|^SASL: /i;

/**
 * Whether `err` or one of its causes came from Postgres (it carries a SQLSTATE: five digits or
 * capitals, such as `28P01` for a refused password or `3D000` for a missing database) or from the
 * connection to it (a socket errno such as ECONNREFUSED without a file path, or node-postgres'
 * connection messages). Pure; never throws.
 * @example isDatabaseFailure(Object.assign(new Error('password authentication failed for user "indexer"'), { code: '28P01' })) // true
 */
export function isDatabaseFailure(err: unknown): boolean {
  return causeChain(err).some((e) => {
    if (typeof e !== 'object' || e === null) return false;
    const { code, path } = e as { code?: unknown; path?: unknown };
    if (typeof code === 'string') {
      if (/^[0-9A-Z]{5}$/.test(code) && !/^E[A-Z]+$/.test(code)) return true; // a SQLSTATE (none starts with E + capitals)
      if (CONNECTION_ERRNOS.has(code) && path === undefined) return true;
    }
    return e instanceof Error && CONNECTION_MESSAGE.test(e.message);
  });
}
