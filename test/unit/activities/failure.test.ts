/**
 * `toApplicationFailure`: what Temporal sees of an activity's error, in particular the Retry-After
 * of a rate-limited endpoint as `nextRetryDelay`.
 */
import { describe, expect, it } from 'vitest';
import { MIN_NEXT_RETRY_DELAY_MS, toApplicationFailure } from '../../../src/activities/failure.js';
import { InvalidInputError, RpcTransientError } from '../../../src/errors.js';

describe('toApplicationFailure', () => {
  it('passes a Retry-After of 5 s on as nextRetryDelay 5000 ms, retryable', () => {
    const failure = toApplicationFailure(new RpcTransientError('rpc#1: HTTP 429', { retryAfterMs: 5_000 }));
    expect([failure.nextRetryDelay, failure.nonRetryable, failure.type]).toEqual([5_000, false, 'RpcTransientError']);
  });

  it.each([0, 1, 999])('raises a Retry-After of %i ms to the 1 s floor (Temporal fails an activity for good on a delay of 0)', (ms) => {
    expect(MIN_NEXT_RETRY_DELAY_MS).toBe(1_000);
    expect(toApplicationFailure(new RpcTransientError('rpc#1: HTTP 429', { retryAfterMs: ms })).nextRetryDelay).toBe(1_000);
  });

  it('leaves nextRetryDelay unset (the retry policy decides) without a Retry-After', () => {
    expect(toApplicationFailure(new RpcTransientError('rpc#1: HTTP 503')).nextRetryDelay).toBeUndefined();
  });

  it('makes a non-retryable IndexerError non-retryable, typed by its class', () => {
    const failure = toApplicationFailure(new InvalidInputError('bad range'));
    expect([failure.nonRetryable, failure.type, failure.message]).toEqual([true, 'InvalidInputError', 'bad range']);
  });
});
