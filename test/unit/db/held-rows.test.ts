/**
 * HeldRows, SlabPool and HeldBudget (src/db/held-rows.ts): appended bytes come back whole and in
 * order across slab boundaries, slabs are reused after `free`, a pool keeps no more free slabs
 * than it may and counts the bytes in use, and past the budget only each chain's earliest open
 * range is admitted until rows are freed or ranges leave.
 */
import { describe, expect, it } from 'vitest';
import { HeldBudget, HeldRows, SlabPool } from '../../../src/db/held-rows.js';

/** `n` bytes counting up from `from` (mod 256). */
const bytes = (n: number, from = 0): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (from + i) % 256);

describe('HeldRows', () => {
  it('gives back every appended byte in order, chunks split across slabs of 16 bytes', () => {
    const pool = new SlabPool(16, 64);
    const held = new HeldRows(['a', 'b'], pool);
    held.append(bytes(10, 0));
    held.append(bytes(20, 10)); // fills the first slab, the second, and 4 bytes of a third
    held.append(bytes(0));
    expect(held.bytes).toBe(30);
    const chunks = held.chunks();
    expect(chunks.map((c) => c.length)).toEqual([16, 14]);
    expect([...Buffer.concat(chunks)]).toEqual([...bytes(30, 0)]);
    expect(held.columns).toEqual(['a', 'b']);
  });

  it('gives its slabs back on free (twice frees nothing more), and the next holder reuses them', () => {
    const pool = new SlabPool(16, 64);
    const held = new HeldRows(['a'], pool);
    held.append(bytes(40));
    const slabs = held.chunks().map((c) => c.buffer);
    held.free();
    held.free();
    expect(pool.keptNow).toBe(48);
    expect([held.bytes, held.chunks().length]).toEqual([0, 0]);
    const next = new HeldRows(['a'], pool);
    next.append(bytes(40, 7));
    const reused = next.chunks().map((c) => c.buffer);
    expect(reused.map((b) => slabs.indexOf(b)).sort()).toEqual([0, 1, 2]); // the same three slabs (identity)
    expect([...Buffer.concat(next.chunks())]).toEqual([...bytes(40, 7)]);
    expect(pool.keptNow).toBe(0);
  });

  it('a pool keeps at most keptBytes of free slabs', () => {
    const pool = new SlabPool(16, 32);
    const held = new HeldRows(['a'], pool);
    held.append(bytes(16 * 5));
    held.free();
    expect(pool.keptNow).toBe(32);
  });
});

/** Whether `promise` settled within a few turns of the event loop. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('HeldBudget', () => {
  it('counts the bytes of slabs in use in the pool', () => {
    const pool = new SlabPool(16, 64);
    const held = new HeldRows(['a'], pool);
    held.append(bytes(40));
    expect(pool.inUseBytes).toBe(48);
    held.free();
    expect(pool.inUseBytes).toBe(0);
  });

  it('under the budget every range is admitted at once', async () => {
    const pool = new SlabPool(16, 64);
    const budget = new HeldBudget(pool, 64);
    const first = budget.enter(1, 0);
    const second = budget.enter(1, 100);
    new HeldRows(['a'], pool).append(bytes(48)); // 48 of 64 bytes held
    expect(await settled(first.admit())).toBe(true);
    expect(await settled(second.admit())).toBe(true);
  });

  it('at the budget a later range waits and the earliest goes on; freed rows wake the later one', async () => {
    const pool = new SlabPool(16, 64);
    const budget = new HeldBudget(pool, 64);
    const earliest = budget.enter(1, 0);
    const later = budget.enter(1, 100);
    const rows = new HeldRows(['a'], pool);
    rows.append(bytes(64)); // 64 of 64: at the budget
    const waiting = later.admit();
    expect(await settled(waiting)).toBe(false);
    expect(budget.waitingCount).toBe(1);
    expect(await settled(earliest.admit())).toBe(true);
    rows.free();
    expect(await settled(waiting)).toBe(true);
    expect(budget.waitingCount).toBe(0);
  });

  it('when the earliest range leaves, the next one is the earliest and goes on, the budget still full', async () => {
    const pool = new SlabPool(16, 64);
    const budget = new HeldBudget(pool, 32);
    const first = budget.enter(1, 0);
    const second = budget.enter(1, 100);
    const third = budget.enter(1, 200);
    new HeldRows(['a'], pool).append(bytes(32)); // held by someone else, never freed here
    const secondWaits = second.admit();
    const thirdWaits = third.admit();
    expect(await settled(secondWaits)).toBe(false);
    first.leave();
    expect(await settled(secondWaits)).toBe(true);
    expect(await settled(thirdWaits)).toBe(false);
    second.leave();
    expect(await settled(thirdWaits)).toBe(true);
    expect(await settled(third.admit())).toBe(true);
  });

  it('the earliest range is per chain; a range that leaves while it waits is let go; leaving twice changes nothing', async () => {
    const pool = new SlabPool(16, 64);
    const budget = new HeldBudget(pool, 16);
    const chain1 = budget.enter(1, 500);
    const chain2Early = budget.enter(2, 0);
    const chain2Late = budget.enter(2, 100);
    new HeldRows(['a'], pool).append(bytes(16));
    expect(await settled(chain1.admit())).toBe(true); // chain 1's only range, though chain 2's start lower
    expect(await settled(chain2Early.admit())).toBe(true);
    const late = chain2Late.admit();
    expect(await settled(late)).toBe(false);
    chain2Late.leave();
    expect(await settled(late)).toBe(true);
    expect(budget.waitingCount).toBe(0);
    chain2Late.leave();
    expect(await settled(chain2Late.admit())).toBe(true);
  });

  it('two attempts of the same range: the range stays open until both left', async () => {
    const pool = new SlabPool(16, 64);
    const budget = new HeldBudget(pool, 16);
    const attempt1 = budget.enter(1, 0);
    const attempt2 = budget.enter(1, 0);
    const later = budget.enter(1, 100);
    new HeldRows(['a'], pool).append(bytes(16));
    const waits = later.admit();
    attempt1.leave();
    expect(await settled(waits)).toBe(false);
    attempt2.leave();
    expect(await settled(waits)).toBe(true);
  });
});
