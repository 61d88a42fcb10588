/**
 * Checks of the block numbers an operator passes against what the indexer knows: the stored
 * cursor (`gaps` and `verify` look only at or below it) and the chain's head (a `backfill` above
 * it waits for blocks not mined yet). Pure: the client reads the cursor and the head, then asks.
 */
import { formatCount } from '../domain/index.js';

/** A block number a command was given, and where it came from: `--from`, `--to`, `START_BLOCK`. */
export type BlockBound = { name: string; blockNumber: number };

/**
 * The line refusing the first of `bounds` above `cursor` (the last stored block number), or null
 * when none is: `--to 645 is above the cursor 144: <why>`, block numbers with thousands
 * separators, `why` saying what the command looks at. Pure; never throws.
 * @example aboveCursorProblem([{ name: '--from', blockNumber: 100_000 }], 157, 'gaps looks below the cursor, where every block should be stored')
 *   // '--from 100,000 is above the cursor 157: gaps looks below the cursor, where every block should be stored'
 */
export function aboveCursorProblem(bounds: readonly BlockBound[], cursor: number, why: string): string | null {
  const above = bounds.find((b) => b.blockNumber > cursor);
  return above ? `${above.name} ${formatCount(above.blockNumber)} is above the cursor ${formatCount(cursor)}: ${why}` : null;
}

/**
 * The warning `backfill` prints when its `--to` (a block number) is above `head` (the highest
 * block number the running sync last read), or null when it is not or the head is unknown (null).
 * The backfill still starts: its batches above the head retry until the chain gets there. Pure.
 * @example aboveHeadWarning(9_007_199_254_740_991, 300)
 *   // 'warning: --to 9,007,199,254,740,991: blocks above the head 300 are waited for: the backfill ends once the chain reaches --to'
 */
export function aboveHeadWarning(to: number, head: number | null): string | null {
  if (head === null || to <= head) return null;
  return `warning: --to ${formatCount(to)}: blocks above the head ${formatCount(head)} are waited for: the backfill ends once the chain reaches --to`;
}
