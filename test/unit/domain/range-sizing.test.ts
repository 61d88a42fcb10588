/** `createRangeSizer`: batch sizes from the rows per block of stored batches (`BATCH_ROWS`). */
import { describe, expect, it } from 'vitest';
import { createRangeSizer, type StoredBatch } from '../../../src/domain/index.js';

/** A stored batch of `blocks` blocks holding `transactions` transactions and `logs` logs. */
const batch = (blocks: number, transactions: number, logs: number): StoredBatch => ({
  from: 0, to: blocks - 1, firstParentHash: '0x0', lastHash: '0x1', blockCount: blocks, transactionCount: transactions, logCount: logs,
});

describe('createRangeSizer()', () => {
  it('gives batchSize until a batch is stored', () => {
    const sizer = createRangeSizer(100, 50_000);
    expect([sizer.next(), sizer.next()]).toEqual([100, 100]);
  });

  it('sizes mainnet-like blocks (451 rows a block) to 110 blocks', () => {
    const sizer = createRangeSizer(100, 50_000);
    sizer.observe(batch(100, 15_000, 30_000)); // 45,100 rows: 451 a block; 50,000 / 451 = 110.8
    expect(sizer.next()).toBe(110);
  });

  it('caps light blocks (31 rows a block) at 10 × batchSize', () => {
    const sizer = createRangeSizer(100, 50_000);
    sizer.observe(batch(100, 1_000, 2_000)); // 50,000 / 31 = 1,612
    expect(sizer.next()).toBe(1_000);
    const wide = createRangeSizer(200, 50_000);
    wide.observe(batch(100, 1_000, 2_000));
    expect(wide.next()).toBe(1_612);
  });

  it('never grows past 2,000 blocks (or batchSize when larger), nor under 1 block', () => {
    const sizes = [50, 500, 5_000].map((batchSize) => {
      const empty = createRangeSizer(batchSize, 10_000_000);
      empty.observe(batch(batchSize, 0, 0)); // 1 row a block: 10,000,000 blocks wanted
      return empty.next();
    });
    expect(sizes).toEqual([500, 2_000, 5_000]);
    const heavy = createRangeSizer(100, 1_000);
    heavy.observe(batch(1, 3_000, 9_000)); // 12,001 rows in one block
    expect(heavy.next()).toBe(1);
  });

  it('weighs the newest batch half: blocks that fill up shrink the batches within a few of them', () => {
    const sizer = createRangeSizer(100, 10_000);
    sizer.observe(batch(1_000, 0, 0)); // 1 row a block → capped at 1,000
    expect(sizer.next()).toBe(1_000);
    sizer.observe(batch(100, 9_900, 0)); // 100 rows a block: estimate (1 + 100) / 2 = 50.5
    expect(sizer.next()).toBe(198);
    sizer.observe(batch(100, 9_900, 0)); // (50.5 + 100) / 2 = 75.25
    expect(sizer.next()).toBe(132);
  });

  it('with batchRows 0 or absent, keeps batchSize whatever it observes', () => {
    for (const sizer of [createRangeSizer(100, 0), createRangeSizer(100), createRangeSizer(100, null)]) {
      sizer.observe(batch(100, 0, 0));
      expect(sizer.next()).toBe(100);
    }
  });

  it('ignores a batch whose counts are not numbers (the estimate stays)', () => {
    const sizer = createRangeSizer(100, 50_000);
    sizer.observe(batch(100, 15_000, 30_000));
    sizer.observe({ ...batch(100, 0, 0), logCount: Number.NaN });
    expect(sizer.next()).toBe(110);
  });

  it('throws RangeError naming a bad batchSize or batchRows', () => {
    expect(() => createRangeSizer(0, 1)).toThrow(new RangeError('batchSize must be a positive integer, got 0'));
    expect(() => createRangeSizer(10, -1)).toThrow(new RangeError('batchRows must be a non-negative integer, got -1'));
    expect(() => createRangeSizer(10, 1.5)).toThrow(new RangeError('batchRows must be a non-negative integer, got 1.5'));
  });
});
