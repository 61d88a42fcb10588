import { describe, it, expect } from 'vitest';
import { coveringPartitions, cutRanges, formatRange, isValidRange, rangeSize, type BlockRange } from '../../../src/domain/block-range.js';

describe('src/domain/block-range.ts', () => {
  const cases: { name: string; from: number; to: number; size: number; want: BlockRange[] }[] = [
    { name: 'splits 0..9 by 4 into three ranges', from: 0, to: 9, size: 4, want: [{ from: 0, to: 3 }, { from: 4, to: 7 }, { from: 8, to: 9 }] },
    { name: 'splits 0..7 by 4 into two full ranges', from: 0, to: 7, size: 4, want: [{ from: 0, to: 3 }, { from: 4, to: 7 }] },
    { name: 'returns one range when the batch is larger than the span', from: 100, to: 149, size: 1000, want: [{ from: 100, to: 149 }] },
    { name: 'returns one single-block range for 5..5', from: 5, to: 5, size: 10, want: [{ from: 5, to: 5 }] },
    { name: 'splits 10..12 by 1 into one range per block', from: 10, to: 12, size: 1, want: [{ from: 10, to: 10 }, { from: 11, to: 11 }, { from: 12, to: 12 }] },
    { name: 'cuts 18000000..18000249 by 100 from its start, not from a multiple of 100', from: 18_000_000, to: 18_000_249, size: 100, want: [{ from: 18_000_000, to: 18_000_099 }, { from: 18_000_100, to: 18_000_199 }, { from: 18_000_200, to: 18_000_249 }] },
    { name: 'returns [] when to < from', from: 10, to: 9, size: 4, want: [] },
  ];
  for (const c of cases) {
    it(`cutRanges() ${c.name}`, () => {
      expect(cutRanges(c.from, c.to, c.size)).toEqual(c.want);
    });
  }

  const badSizes: { size: number; text: string }[] = [
    { size: 0, text: 'batchSize must be a positive integer, got 0' },
    { size: -1, text: 'batchSize must be a positive integer, got -1' },
    { size: 2.5, text: 'batchSize must be a positive integer, got 2.5' },
    { size: Number.NaN, text: 'batchSize must be a positive integer, got NaN' },
    { size: Number.POSITIVE_INFINITY, text: 'batchSize must be a positive integer, got Infinity' },
  ];
  for (const c of badSizes) {
    it(`cutRanges() throws RangeError for batchSize ${c.size}`, () => {
      expect(() => cutRanges(0, 9, c.size)).toThrow(new RangeError(c.text));
    });
  }
});

describe('src/domain/block-range.ts', () => {
  const cases: { range: BlockRange; want: number }[] = [
    { range: { from: 0, to: 9 }, want: 10 },
    { range: { from: 5, to: 5 }, want: 1 },
    { range: { from: 18_000_000, to: 18_000_099 }, want: 100 },
    { range: { from: 10, to: 9 }, want: 0 },
    { range: { from: 10, to: 0 }, want: 0 },
  ];
  for (const c of cases) {
    it(`rangeSize() returns ${c.want} for ${c.range.from}..${c.range.to}`, () => {
      expect(rangeSize(c.range)).toBe(c.want);
    });
  }
});

describe('src/domain/block-range.ts', () => {
  const cases: { name: string; range: BlockRange; want: boolean }[] = [
    { name: '0..0', range: { from: 0, to: 0 }, want: true },
    { name: '0..9', range: { from: 0, to: 9 }, want: true },
    { name: 'a range up to MAX_SAFE_INTEGER', range: { from: 1, to: Number.MAX_SAFE_INTEGER }, want: true },
    { name: '10..9 (to < from)', range: { from: 10, to: 9 }, want: false },
    { name: '-1..5 (negative from)', range: { from: -1, to: 5 }, want: false },
    { name: '1.5..3 (fractional from)', range: { from: 1.5, to: 3 }, want: false },
    { name: '1..2.5 (fractional to)', range: { from: 1, to: 2.5 }, want: false },
    { name: 'NaN..5', range: { from: Number.NaN, to: 5 }, want: false },
    { name: '0..Infinity', range: { from: 0, to: Number.POSITIVE_INFINITY }, want: false },
    { name: '0..MAX_SAFE_INTEGER+1', range: { from: 0, to: Number.MAX_SAFE_INTEGER + 1 }, want: false },
  ];
  for (const c of cases) {
    it(`isValidRange() returns ${c.want} for ${c.name}`, () => {
      expect(isValidRange(c.range)).toBe(c.want);
    });
  }
});

describe('src/domain/block-range.ts', () => {
  const cases: { range: BlockRange; want: string }[] = [
    { range: { from: 1000, to: 1499 }, want: 'blocks 1,000–1,499' },
    { range: { from: 0, to: 9 }, want: 'blocks 0–9' },
    { range: { from: 18_000_000, to: 18_000_099 }, want: 'blocks 18,000,000–18,000,099' },
  ];
  for (const c of cases) {
    it(`formatRange() prints ${c.range.from}..${c.range.to} as '${c.want}'`, () => {
      expect(formatRange(c.range)).toBe(c.want);
    });
  }
});

describe('coveringPartitions()', () => {
  const cases: [string, BlockRange, number, BlockRange[]][] = [
    ['a range inside one partition', { from: 12, to: 17 }, 10, [{ from: 10, to: 19 }]],
    ['a range crossing a boundary', { from: 8, to: 11 }, 10, [{ from: 0, to: 9 }, { from: 10, to: 19 }]],
    ['the last block of a partition', { from: 9, to: 9 }, 10, [{ from: 0, to: 9 }]],
    ['the first block of a partition', { from: 10, to: 10 }, 10, [{ from: 10, to: 19 }]],
    ['several partitions', { from: 5, to: 35 }, 10, [{ from: 0, to: 9 }, { from: 10, to: 19 }, { from: 20, to: 29 }, { from: 30, to: 39 }]],
    ['the default size across 20,000,000', { from: 19_999_999, to: 20_000_000 }, 1_000_000, [{ from: 19_000_000, to: 19_999_999 }, { from: 20_000_000, to: 20_999_999 }]],
  ];
  it.each(cases)('gives the partitions of %s', (_name, range, size, expected) => {
    expect(coveringPartitions(range, size)).toEqual(expected);
  });
  it('refuses a size below 1 and a bad range', () => {
    expect(() => coveringPartitions({ from: 0, to: 1 }, 0)).toThrow('partition size must be a positive integer, got 0');
    expect(() => coveringPartitions({ from: 5, to: 4 }, 10)).toThrow('expected 0 ≤ from ≤ to, got 5..4');
    expect(() => coveringPartitions({ from: -1, to: 4 }, 10)).toThrow('expected 0 ≤ from ≤ to, got -1..4');
  });
});
