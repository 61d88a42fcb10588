import { DbIntegrityError, DbTransientError, IndexerError } from '../errors.js';

/**
 * Maps a driver error to the indexer's classes by SQLSTATE (never by message text). Pure.
 * Class 08 (connection), 40001 (serialization), 40P01 (deadlock), 57014 (statement timeout or
 * cancel request), 57P01/57P02/57P03 (shutdown),
 * 53300 (too many connections) → DbTransientError; class 23 → DbIntegrityError; a connection
 * error without SQLSTATE (ECONNREFUSED, ECONNRESET, "Connection terminated", pg's "Query read timeout") → DbTransientError;
 * anything else is returned unchanged (stays retryable as an unknown error).
 */
export function classifyDbError(err: unknown, context: string): unknown {
  if (err instanceof IndexerError) return err;
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  const message = err instanceof Error ? err.message : String(err);
  // A SQLSTATE is five digits or capitals (Postgres, Appendix A); node's socket codes (ECONNREFUSED, ENOTFOUND) are not.
  // No SQLSTATE class starts with E, so E + capitals is an errno (EPIPE has five letters too).
  const label = typeof code !== 'string' ? '' : /^[0-9A-Z]{5}$/.test(code) && !/^E[A-Z]+$/.test(code) ? ` (SQLSTATE ${code})` : ` (${code})`;
  const text = `${context}: ${message}${label}`;
  if (typeof code === 'string') {
    if (code.startsWith('08') || ['40001', '40P01', '57014', '57P01', '57P02', '57P03', '53300'].includes(code)) {
      return new DbTransientError(text, { cause: err });
    }
    if (code.startsWith('23')) return new DbIntegrityError(text, { cause: err });
    if (/^E[A-Z]+$/.test(code)) return new DbTransientError(text, { cause: err });
  }
  if (/Connection terminated|connection error|timeout exceeded when trying to connect|Query read timeout/i.test(message)) {
    return new DbTransientError(text, { cause: err });
  }
  return err;
}
