import { describe, it, expect } from 'vitest';
import { advanceCursor, pendingRange, type Cursor, type StoredBatch } from '../../../src/domain/cursor.js';

/** A fake 32-byte hash whose last digits spell `tag`, e.g. h('109') = 0x000…109. */
const h = (tag: string): string => `0x${tag.padStart(64, '0')}`;

/** A stored batch `from..to` whose first parent is `parent` and last hash is h(to). */
const batch = (from: number, to: number, parent: string): StoredBatch => ({
  from,
  to,
  firstParentHash: parent,
  lastHash: h(String(to)),
  blockCount: to - from + 1,
  transactionCount: 0,
  logCount: 0,
});

const mapOf = (...batches: StoredBatch[]) => new Map(batches.map((b) => [b.from, b]));

describe('src/domain/cursor.ts', () => {
  it('advanceCursor() consumes the contiguous prefix 100..119 and leaves 130..139 in the map', () => {
    const b100 = batch(100, 109, h('99'));
    const b110 = batch(110, 119, h('109'));
    const b130 = batch(130, 139, h('129'));
    const finished = mapOf(b130, b110, b100);
    const result = advanceCursor({ blockNumber: 99, blockHash: h('99') }, finished);
    expect(result).toEqual({ kind: 'advanced', cursor: { blockNumber: 119, blockHash: h('119') }, consumed: [b100, b110] });
    expect([...finished.keys()]).toEqual([130]);
    expect(finished.get(130)).toBe(b130);
  });

  it('advanceCursor() waits when the batch right after the cursor has not finished (out-of-order completion)', () => {
    const b110 = batch(110, 119, h('109'));
    const finished = mapOf(b110);
    const result = advanceCursor({ blockNumber: 99, blockHash: h('99') }, finished);
    expect(result).toEqual({ kind: 'advanced', cursor: { blockNumber: 99, blockHash: h('99') }, consumed: [] });
    expect([...finished.keys()]).toEqual([110]);
  });

  it('advanceCursor() consumes 100..119 once the late batch 100..109 finishes after 110..119', () => {
    const b100 = batch(100, 109, h('99'));
    const b110 = batch(110, 119, h('109'));
    const finished = mapOf(b110);
    advanceCursor({ blockNumber: 99, blockHash: h('99') }, finished);
    finished.set(100, b100);
    const result = advanceCursor({ blockNumber: 99, blockHash: h('99') }, finished);
    expect(result).toEqual({ kind: 'advanced', cursor: { blockNumber: 119, blockHash: h('119') }, consumed: [b100, b110] });
    expect(finished.size).toBe(0);
  });

  it('advanceCursor() returns the cursor unchanged for an empty map', () => {
    const result = advanceCursor({ blockNumber: 99, blockHash: h('99') }, new Map());
    expect(result).toEqual({ kind: 'advanced', cursor: { blockNumber: 99, blockHash: h('99') }, consumed: [] });
  });

  it('advanceCursor() reports a reorg at block 100 when the first batch does not link to the cursor, consuming nothing', () => {
    const b100 = batch(100, 109, h('bad99'));
    const b110 = batch(110, 119, h('109'));
    const finished = mapOf(b100, b110);
    const result = advanceCursor({ blockNumber: 99, blockHash: h('99') }, finished);
    expect(result).toEqual({ kind: 'reorg', atBlock: 100, expectedParentHash: h('99'), actualParentHash: h('bad99') });
    expect([...finished.keys()]).toEqual([100, 110]);
  });

  it('advanceCursor() stops before a broken seam at 110 after progress, then reports it on the next call', () => {
    const b100 = batch(100, 109, h('99'));
    const b110 = batch(110, 119, h('bad109'));
    const finished = mapOf(b100, b110);

    const first = advanceCursor({ blockNumber: 99, blockHash: h('99') }, finished);
    expect(first).toEqual({ kind: 'advanced', cursor: { blockNumber: 109, blockHash: h('109') }, consumed: [b100] });
    expect([...finished.keys()]).toEqual([110]);

    if (first.kind !== 'advanced') throw new Error('unreachable');
    const second = advanceCursor(first.cursor, finished);
    expect(second).toEqual({ kind: 'reorg', atBlock: 110, expectedParentHash: h('109'), actualParentHash: h('bad109') });
    expect([...finished.keys()]).toEqual([110]);
  });

  it('advanceCursor() links a null cursor hash (nothing stored yet) to any parent hash', () => {
    const b0 = batch(0, 9, h('anything'));
    const b10 = batch(10, 19, h('9'));
    const finished = mapOf(b0, b10);
    const result = advanceCursor({ blockNumber: -1, blockHash: null }, finished);
    expect(result).toEqual({ kind: 'advanced', cursor: { blockNumber: 19, blockHash: h('19') }, consumed: [b0, b10] });
    expect(finished.size).toBe(0);
  });

  it('advanceCursor() still checks the seams after the first batch when the cursor hash is null', () => {
    const b0 = batch(0, 9, h('anything'));
    const b10 = batch(10, 19, h('bad9'));
    const finished = mapOf(b0, b10);
    const result = advanceCursor({ blockNumber: -1, blockHash: null }, finished);
    expect(result).toEqual({ kind: 'advanced', cursor: { blockNumber: 9, blockHash: h('9') }, consumed: [b0] });
    expect([...finished.keys()]).toEqual([10]);
  });
});

describe('src/domain/cursor.ts', () => {
  const cases: { cursor: Cursor; target: number; want: { from: number; to: number } | null }[] = [
    { cursor: { blockNumber: 99, blockHash: h('99') }, target: 250, want: { from: 100, to: 250 } },
    { cursor: { blockNumber: -1, blockHash: null }, target: 0, want: { from: 0, to: 0 } },
    { cursor: { blockNumber: 99, blockHash: h('99') }, target: 99, want: null },
    { cursor: { blockNumber: 99, blockHash: h('99') }, target: 50, want: null },
  ];
  for (const c of cases) {
    it(`pendingRange() returns ${JSON.stringify(c.want)} for cursor ${c.cursor.blockNumber} and target ${c.target}`, () => {
      expect(pendingRange(c.cursor, c.target)).toEqual(c.want);
    });
  }
});
