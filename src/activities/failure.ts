import { ApplicationFailure } from '@temporalio/common';
import { IndexerError, RpcTransientError } from '../errors.js';

/** Shortest `nextRetryDelay` given to Temporal, in ms: the activities' first retry interval (activities-proxy.ts). */
export const MIN_NEXT_RETRY_DELAY_MS = 1_000;

/**
 * Turns any error into what Temporal should see, in one place: a non-retryable IndexerError
 * becomes `ApplicationFailure.nonRetryable` with its class name as type; a rate-limited
 * RpcTransientError carries the endpoint's Retry-After as `nextRetryDelay` (at least
 * MIN_NEXT_RETRY_DELAY_MS: Temporal fails an activity for good on a delay of 0); every other error
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
  // Retry-After: 0 (or a date already past) is "retry now"; Temporal reads a nextRetryDelay of 0 as
  // "no retry left" and fails the activity for good, so the shortest delay sent is MIN_NEXT_RETRY_DELAY_MS.
  const nextRetryDelay = error instanceof RpcTransientError && error.retryAfterMs !== undefined ? Math.max(MIN_NEXT_RETRY_DELAY_MS, error.retryAfterMs) : undefined;
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
