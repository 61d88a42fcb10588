/**
 * The lines `status` prints for a running sync's failing activities (pure).
 */
import { describe, expect, it } from 'vitest';
import { retryingLines, retryingNote } from '../../../src/cli/retrying.js';

const NOW_MS = 1_800_000_000_000;
const at = (ms: number) => ({ seconds: { toString: () => String(Math.floor(ms / 1000)) }, nanos: (ms % 1000) * 1e6 });

describe('retryingLines()', () => {
  it('nothing for activities on their first attempt, or without a failure', () => {
    expect(retryingLines([{ activityType: { name: 'indexRange' }, attempt: 1 }, { activityType: { name: 'getChainHead' }, attempt: 3, lastFailure: null }], NOW_MS)).toEqual([]);
  });

  it('the retried ones, highest attempt first, at most three, with the next attempt and the first line of the failure', () => {
    expect(retryingLines([
      { activityType: { name: 'indexRange' }, attempt: 2, lastFailure: { message: 'creating the partitions of chain 1 for blocks 276–277: connect ECONNREFUSED 127.0.0.1:5432\n    at …' }, nextAttemptScheduleTime: at(NOW_MS + 1_500) },
      { activityType: { name: 'getChainHead' }, attempt: 7, lastFailure: { message: 'no RPC endpoint answered the head (127.0.0.1:8545#1)' }, nextAttemptScheduleTime: at(NOW_MS + 40_000) },
      { activityType: { name: 'indexRange' }, attempt: 3, lastFailure: { message: 'no RPC endpoint is usable' }, nextAttemptScheduleTime: null },
      { activityType: { name: 'indexRange' }, attempt: 2, lastFailure: { message: 'no RPC endpoint is usable' }, nextAttemptScheduleTime: { seconds: (NOW_MS - 5_000) / 1000 } },
    ], NOW_MS)).toEqual([
      '  retrying  getChainHead, attempt 7 (next in 40 s): no RPC endpoint answered the head (127.0.0.1:8545#1)',
      '  retrying  indexRange, attempt 3: no RPC endpoint is usable',
      '  retrying  indexRange, attempt 2 (next in 2 s): creating the partitions of chain 1 for blocks 276–277: connect ECONNREFUSED 127.0.0.1:5432',
    ]);
  });
});

describe('retryingNote()', () => {
  it('counts the retried activities with a failure, for the state status shows', () => {
    const failed = (attempt: number) => ({ activityType: { name: 'indexRange' }, attempt, lastFailure: { message: 'no RPC endpoint is usable' } });
    expect(retryingNote([])).toBe('');
    expect(retryingNote([failed(1), { attempt: 5, lastFailure: null }, { attempt: 5, lastFailure: { message: '' } }])).toBe('');
    expect(retryingNote([failed(1), failed(2)])).toBe('1 activity retrying');
    expect(retryingNote([failed(2), failed(9), failed(3), failed(4)])).toBe('4 activities retrying');
  });
});
