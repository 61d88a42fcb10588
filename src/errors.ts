/**
 * Error classes of the indexer. The `name` of each class is the `type` string that Temporal
 * retry policies match (`nonRetryableErrorTypes`), so it is set explicitly and never minified.
 *
 * | class | when | retried? |
 * | --- | --- | --- |
 * | ConfigError | bad env var or flag at start-up | never: exit 1 before work starts |
 * | InvalidInputError | an argument breaks its contract (from > to) | no |
 * | RpcTransientError | timeout, reset, HTTP 408/429/5xx, JSON-RPC -32603/-32005 | yes |
 * | RpcBadResponseError | response fails validation (missing field, broken link) | yes, other endpoint |
 * | RpcUnsupportedError | -32601/-32004 from every endpoint | no |
 * | ChainMismatchError | an endpoint serves another chain than CHAIN_ID | no |
 * | DbTransientError | SQLSTATE class 08, 40001, 40P01, 57P01, 53300, a concurrent write of the same range | yes |
 * | StoredChainLinkError | a backfill's edge block does not link to the stored block next to its range | yes |
 * | DbIntegrityError | SQLSTATE class 23 outside the batch writer: a bug | no |
 */

/** Options shared by every indexer error: the wrapped cause, as in `Error`. */
export type IndexerErrorOptions = { cause?: unknown };

/** Base class of every error the indexer throws on purpose. `retryable` drives the Temporal mapping. */
export abstract class IndexerError extends Error {
  /** Whether Temporal should retry the activity that threw it. */
  abstract readonly retryable: boolean;
  constructor(message: string, options?: IndexerErrorOptions) {
    super(message, options);
  }
}

/** A bad environment variable or CLI flag, found at start-up. Never retried: exit 1. */
export class ConfigError extends IndexerError {
  override readonly name = 'ConfigError';
  readonly retryable = false;
  /** @param problems one line per problem, each naming the variable. */
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

/** An argument breaks its contract (for example `from > to`). Not retried. */
export class InvalidInputError extends IndexerError {
  override readonly name = 'InvalidInputError';
  readonly retryable = false;
}

/** A timeout, connection reset, HTTP 408/429/5xx or JSON-RPC -32603/-32005. Retried with backoff. */
export class RpcTransientError extends IndexerError {
  override readonly name = 'RpcTransientError';
  readonly retryable = true;
  /**
   * @param retryAfterMs the endpoint's Retry-After hint in ms, when it sent one.
   * @param rateLimited true for HTTP 429, JSON-RPC -32005/429/-32007 and rate-limit messages.
   */
  constructor(message: string, options?: IndexerErrorOptions & { retryAfterMs?: number; rateLimited?: boolean }) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
    this.rateLimited = options?.rateLimited ?? false;
  }
  readonly retryAfterMs: number | undefined;
  readonly rateLimited: boolean;
}

/** A response that fails validation (missing field, wrong block, broken parent link). Retried, on another endpoint. */
export class RpcBadResponseError extends IndexerError {
  override readonly name = 'RpcBadResponseError';
  readonly retryable = true;
}

/** HTTP 413 or a refused batch: the endpoint wants smaller JSON-RPC batches. Retried with a split batch. */
export class RpcBatchTooLargeError extends IndexerError {
  override readonly name = 'RpcBatchTooLargeError';
  readonly retryable = true;
}

/** A method every endpoint refuses with -32601/-32004. Not retried. */
export class RpcUnsupportedError extends IndexerError {
  override readonly name = 'RpcUnsupportedError';
  readonly retryable = false;
}

/** An endpoint whose `eth_chainId` differs from `CHAIN_ID` (EIP-155). Not retried. */
export class ChainMismatchError extends IndexerError {
  override readonly name = 'ChainMismatchError';
  readonly retryable = false;
}

/** Connection lost, serialization failure, deadlock, admin shutdown, too many connections. Retried. */
export class DbTransientError extends IndexerError {
  override readonly name = 'DbTransientError';
  readonly retryable = true;
}

/**
 * A backfill's first block is not the child of the stored block below its range, or its last block
 * not the parent of the stored block above it: the endpoint lags behind a reorg (it serves blocks
 * of a chain reorganized away), or the stored block is from such a chain and the sync has not
 * rolled it back yet. Nothing of the range is stored; retried (with backoff) until the two agree.
 */
export class StoredChainLinkError extends IndexerError {
  override readonly name = 'StoredChainLinkError';
  readonly retryable = true;
}

/** An integrity violation (SQLSTATE class 23) the idempotent writes should never cause: a bug. Not retried. */
export class DbIntegrityError extends IndexerError {
  override readonly name = 'DbIntegrityError';
  readonly retryable = false;
}

/** Type names of the errors Temporal must not retry; used in every activity proxy's retry policy. */
export const NON_RETRYABLE_ERROR_TYPES: readonly string[] = [
  'ConfigError',
  'InvalidInputError',
  'RpcUnsupportedError',
  'ChainMismatchError',
  'DbIntegrityError',
  // No error of this name is thrown any more (a reorg below the finalized block is rolled back like
  // any other, and logged as deeper than the confirmation depth); kept so the retry policies of
  // running workflows stay as they were recorded.
  'ReorgBeyondFinalityError',
];
