import { ApplicationFailure } from '@temporalio/common';
import { IndexerError, RpcTransientError } from '../errors.js';

/**
 * Turns any error into what Temporal should see, in one place: a non-retryable IndexerError
 * becomes `ApplicationFailure.nonRetryable` with its class name as type; a rate-limited
 * RpcTransientError carries the endpoint's Retry-After as `nextRetryDelay`; every other error
 * becomes a retryable ApplicationFailure typed by its class name. The message never holds a URL
 * (errors are built with endpoint labels). No `cause` is attached: the message is complete, and a
 * cause would print it twice in the Web UI.
 */
export function toApplicationFailure(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const error = err instanceof Error ? err : new Error(String(err));
  const type = error.name || 'Error';
  if (error instanceof IndexerError && !error.retryable) {
    return ApplicationFailure.create({ message: error.message, type, nonRetryable: true });
  }
  const nextRetryDelay = error instanceof RpcTransientError && error.retryAfterMs !== undefined ? error.retryAfterMs : undefined;
  return ApplicationFailure.create({ message: error.message, type, nonRetryable: false, ...(nextRetryDelay !== undefined ? { nextRetryDelay } : {}) });
}

/** Wraps an activity body so every error passes through {@link toApplicationFailure}. */
export function asActivity<I, O>(body: (input: I) => Promise<O>): (input: I) => Promise<O> {
  return async (input: I) => {
    try {
      return await body(input);
    } catch (err) {
      throw toApplicationFailure(err);
    }
  };
}
