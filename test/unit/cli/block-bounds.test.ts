/**
 * `gaps` and `verify` refuse block numbers above the stored cursor with one line naming the bound;
 * `backfill` warns when its `--to` is above the head the running sync last read.
 */
import { describe, expect, it } from 'vitest';
import { aboveCursorProblem, aboveHeadWarning } from '../../../src/cli/block-bounds.js';

const VERIFY_WHY = 'verify looks at or below the cursor, where every block should be stored';

describe('aboveCursorProblem()', () => {
  it.each([
    [[{ name: '--from', blockNumber: 644 }, { name: '--to', blockNumber: 645 }], 144, '--from 644 is above the cursor 144: ' + VERIFY_WHY],
    [[{ name: '--from', blockNumber: 100 }, { name: '--to', blockNumber: 800 }], 144, '--to 800 is above the cursor 144: ' + VERIFY_WHY],
    [[{ name: '--from', blockNumber: 0 }, { name: '--to', blockNumber: 144 }], 144, null],
    [[{ name: 'START_BLOCK', blockNumber: 100_000 }], 157, 'START_BLOCK 100,000 is above the cursor 157: ' + VERIFY_WHY],
  ])('%j against cursor %i gives %j', (bounds, cursor, expected) => {
    expect(aboveCursorProblem(bounds, cursor, VERIFY_WHY)).toBe(expected);
  });
});

describe('aboveHeadWarning()', () => {
  it('warns, naming --to and the head with thousands separators, only when --to is above a known head', () => {
    expect([aboveHeadWarning(9_007_199_254_740_991, 300), aboveHeadWarning(300, 300), aboveHeadWarning(301, null)]).toEqual([
      'warning: --to 9,007,199,254,740,991: blocks above the head 300 are waited for: the backfill ends once the chain reaches --to',
      null,
      null,
    ]);
  });
});
