/**
 * Adaptive batch size: how many blocks the next `indexRange` batch gets, from the rows per block
 * of the batches already stored. A batch's cost in Temporal (an activity, a few history events,
 * a task round trip) is the same whatever it holds, and its cost in Postgres (one transaction)
 * nearly so; its work grows with its rows. Sizing batches by rows keeps that fixed cost a small
 * share on light chains (10 transactions a block: about 1,000-block batches) without making
 * batches of full mainnet blocks (150 transactions, 300 logs: about 100-block batches) longer.
 * Pure and deterministic (workflow code): it depends only on the batches' results. Its constants
 * and what counts as a row are part of the sync's history: changing them changes the batches a
 * running adaptive sync cuts on replay, so a change needs a `patched()` marker in the window.
 */
import type { StoredBatch } from './cursor.js';

/** How many times `batchSize` an adapted batch may grow to, at most (and never past {@link ADAPTED_MAX_BLOCKS}). */
export const BATCH_GROWTH_LIMIT = 10;

/**
 * Most blocks an adapted batch grows to unless `batchSize` itself is larger. Rows say nothing of a
 * block's JSON-RPC cost (two calls, however empty): this keeps a batch of near-empty blocks within
 * its 10-minute start-to-close timeout on a slow endpoint, and a retry cheap.
 */
export const ADAPTED_MAX_BLOCKS = 2_000;

/** Weight of the newest batch in the running rows-per-block estimate (exponential moving average). */
const NEWEST_WEIGHT = 0.5;

/** Sizes consecutive batches; `observe` each stored batch, ask `next` for each new one. */
export type RangeSizer = {
  /** Blocks for the next batch: `batchSize` until a batch was observed (or when sizing is off), then the adapted size. */
  next(): number;
  /** Feeds the rows per block of a stored batch into the estimate. */
  observe(batch: StoredBatch): void;
};

/**
 * Makes a sizer. With `batchRows` 0, null or absent every batch has `batchSize` blocks (fixed
 * size, as before this existed). Otherwise the first batches have `batchSize` blocks, and once a
 * batch is stored each next one has `⌊batchRows / rowsPerBlock⌋` blocks, between 1 and
 * `max(batchSize, min(10 × batchSize, 2,000))`, where `rowsPerBlock` is a moving average of the stored batches'
 * `(blocks + transactions + logs) / blocks` that weighs the newest batch half, so a chain whose
 * blocks fill up over its history gets smaller batches within a few of them. Pure.
 * @param batchSize blocks per batch at first (`BATCH_SIZE`), a positive integer.
 * @param batchRows rows a batch aims at (`BATCH_ROWS`), a non-negative integer.
 * @throws RangeError when `batchSize` is not a positive integer or `batchRows` is negative or not an integer.
 * @example const s = createRangeSizer(100, 50_000); s.observe(lightBatchOf100Blocks3100Rows); s.next() // 1000 (capped: 1612 would be over 10 × 100)
 */
export function createRangeSizer(batchSize: number, batchRows?: number | null): RangeSizer {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  const target = batchRows ?? 0;
  if (!Number.isSafeInteger(target) || target < 0) throw new RangeError(`batchRows must be a non-negative integer, got ${batchRows}`);
  const most = Math.max(batchSize, Math.min(ADAPTED_MAX_BLOCKS, batchSize * BATCH_GROWTH_LIMIT));
  let rowsPerBlock: number | null = null;
  return {
    next() {
      if (target === 0 || rowsPerBlock === null) return batchSize;
      return Math.min(most, Math.max(1, Math.floor(target / rowsPerBlock)));
    },
    observe(batch) {
      if (target === 0 || batch.blockCount < 1) return;
      const perBlock = (batch.blockCount + batch.transactionCount + batch.logCount) / batch.blockCount;
      if (!Number.isFinite(perBlock)) return; // counts that are not numbers teach nothing
      rowsPerBlock = rowsPerBlock === null ? perBlock : rowsPerBlock * (1 - NEWEST_WEIGHT) + perBlock * NEWEST_WEIGHT;
    },
  };
}
