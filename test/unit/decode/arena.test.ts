import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ARENA_PAGE_BYTES, arenaPagesHeld, createTupleArena, freeTuples, placeTuples } from '../../../src/decode/arena.js';

const bytes = (length: number, seed: number) => Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff);
const read = (memory: SharedArrayBuffer, start: number, length: number) => new Uint8Array(memory, start, length);

describe('src/decode/arena.ts', () => {
  it('places tuples in the first run of free pages, byte for byte, and frees them', () => {
    const arena = createTupleArena(8 * ARENA_PAGE_BYTES);
    const a = placeTuples(arena, bytes(ARENA_PAGE_BYTES + 1, 1))!; // two pages
    const b = placeTuples(arena, bytes(10, 2))!; // one page
    expect([a.start, a.count, a.length, b.start, b.count]).toEqual([0, 2, ARENA_PAGE_BYTES + 1, 2 * ARENA_PAGE_BYTES, 1]);
    expect(read(arena.memory, a.start, a.length)).toEqual(bytes(ARENA_PAGE_BYTES + 1, 1));
    expect(read(arena.memory, b.start, b.length)).toEqual(bytes(10, 2));
    expect(arenaPagesHeld(arena)).toEqual({ held: 3, total: 8 });
    freeTuples(arena, a);
    // First fit: a one-page answer goes back to page 0; a three-page one skips the two-page hole.
    const c = placeTuples(arena, bytes(5, 3))!;
    const d = placeTuples(arena, bytes(3 * ARENA_PAGE_BYTES, 4))!;
    expect([c.start, d.start]).toEqual([0, 3 * ARENA_PAGE_BYTES]);
    expect(read(arena.memory, b.start, b.length)).toEqual(bytes(10, 2)); // untouched by the others
    expect(arenaPagesHeld(arena)).toEqual({ held: 5, total: 8 });
  });

  it('returns null when no run of free pages is long enough, or for empty tuples', () => {
    const arena = createTupleArena(4 * ARENA_PAGE_BYTES);
    expect(placeTuples(arena, bytes(5 * ARENA_PAGE_BYTES, 0))).toBeNull();
    expect(placeTuples(arena, new Uint8Array(0))).toBeNull();
    const held = [0, 1, 2, 3].map(() => placeTuples(arena, bytes(1, 0))!);
    freeTuples(arena, held[1]!);
    freeTuples(arena, held[3]!);
    expect(placeTuples(arena, bytes(2 * ARENA_PAGE_BYTES, 0))).toBeNull(); // two free pages, not side by side
    expect(arenaPagesHeld(arena)).toEqual({ held: 2, total: 4 }); // the failed tries gave back what they took
  });

  it('frees a placement once: a second or late free does not free the pages of the placement that holds them now', () => {
    const arena = createTupleArena(2 * ARENA_PAGE_BYTES);
    const first = placeTuples(arena, bytes(100, 1))!;
    freeTuples(arena, first);
    const second = placeTuples(arena, bytes(100, 2))!;
    expect(second.start).toBe(first.start);
    freeTuples(arena, first); // late (the garbage collector's safety net): page 0 is the second's now
    expect(arenaPagesHeld(arena)).toEqual({ held: 1, total: 2 });
    expect(placeTuples(arena, bytes(100, 3))!.start).toBe(ARENA_PAGE_BYTES);
    expect(read(arena.memory, second.start, 100)).toEqual(bytes(100, 2));
  });

  it('never gives one page to two threads placing at once', async () => {
    const arena = createTupleArena(64 * ARENA_PAGE_BYTES);
    // Four threads each place and free 2,000 answers of one or two pages, checking their bytes before freeing.
    const thread = new URL('../../support/arena-thread.mjs', import.meta.url);
    const results = await Promise.all([1, 2, 3, 4].map((seed) => new Promise<{ placed: number; overwritten: number }>((resolve, reject) => {
      const worker = new Worker(thread, { execArgv: ['--import', 'tsx'], workerData: { arena, seed, rounds: 2000 } });
      worker.once('message', resolve);
      worker.once('error', reject);
    })));
    {
      expect(results.map((r) => r.overwritten)).toEqual([0, 0, 0, 0]);
      expect(results.map((r) => r.placed)).toEqual([2000, 2000, 2000, 2000]); // 64 pages: room for all four at once
      expect(arenaPagesHeld(arena)).toEqual({ held: 0, total: 64 });
    }
  });
});
