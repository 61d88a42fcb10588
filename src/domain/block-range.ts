import { formatCount } from './format-count.js';

/** Inclusive block range `{ from, to }`: both ends are stored, so `size = to − from + 1` blocks. */
export type BlockRange = { readonly from: number; readonly to: number };

/** Number of blocks in `range` (inclusive ends); 0 when `to < from`. Pure; never throws. */
export function rangeSize(range: BlockRange): number {
  return range.to < range.from ? 0 : range.to - range.from + 1;
}

/** True when `from` and `to` are safe integers ≥ 0 with `from ≤ to`. Pure. */
export function isValidRange(range: BlockRange): boolean {
  return (
    Number.isSafeInteger(range.from) &&
    Number.isSafeInteger(range.to) &&
    range.from >= 0 &&
    range.from <= range.to
  );
}

/**
 * Cuts the inclusive range `[from, to]` into consecutive batches of at most `batchSize` blocks.
 * Returns `[]` when `to < from`. Pure.
 * @throws RangeError when `batchSize` is not a positive integer.
 * @example cutRanges(0, 9, 4) // [{from:0,to:3},{from:4,to:7},{from:8,to:9}]
 */
export function cutRanges(from: number, to: number, batchSize: number): BlockRange[] {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  const ranges: BlockRange[] = [];
  for (let start = from; start <= to; start += batchSize) {
    ranges.push({ from: start, to: Math.min(to, start + batchSize - 1) });
  }
  return ranges;
}

/** Formats a range for logs and summaries: `blocks 1,000–1,499`. Pure. */
export function formatRange(range: BlockRange): string {
  return `blocks ${formatCount(range.from)}–${formatCount(range.to)}`;
}

/**
 * The range partitions of `partitionSize` blocks that `range` falls in, ascending: partition k
 * holds blocks `k·partitionSize … (k+1)·partitionSize − 1` (inclusive ends). Pure.
 * @throws RangeError for a size below 1 or a range that is not `0 ≤ from ≤ to` in safe integers.
 */
export function coveringPartitions(range: BlockRange, partitionSize: number): BlockRange[] {
  if (!Number.isSafeInteger(partitionSize) || partitionSize < 1) throw new RangeError(`partition size must be a positive integer, got ${partitionSize}`);
  if (!Number.isSafeInteger(range.from) || !Number.isSafeInteger(range.to) || range.from < 0 || range.from > range.to) {
    throw new RangeError(`expected 0 ≤ from ≤ to, got ${range.from}..${range.to}`);
  }
  const out: BlockRange[] = [];
  for (let start = Math.floor(range.from / partitionSize) * partitionSize; start <= range.to; start += partitionSize) {
    out.push({ from: start, to: start + partitionSize - 1 });
  }
  return out;
}

/**
 * Block numbers to check: all of `from..to` (inclusive), or `sample` of them spread evenly with
 * both ends included, block `from + round(i · (size − 1) / (sample − 1))` for i in 0..sample−1
 * (`from` alone when `sample` is 1), in increasing order. Pure and deterministic (workflow code
 * uses it); never throws.
 * @example pickBlocks(0, 10, 3) // [0, 5, 10]
 */
export function pickBlocks(from: number, to: number, sample?: number): number[] {
  const size = to - from + 1;
  if (!sample || sample >= size) return Array.from({ length: size }, (_, i) => from + i);
  if (sample === 1) return [from];
  const picked = new Set<number>();
  for (let i = 0; i < sample; i++) picked.add(from + Math.round((i * (size - 1)) / (sample - 1)));
  return [...picked];
}
