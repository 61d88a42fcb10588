/**
 * HeldRows, SlabPool and HeldBudget (src/db/held-rows.ts): appended bytes come back whole and in
 * order across slab boundaries, slabs are reused after `free`, a pool keeps no more free slabs
 * than it may and counts the bytes in use, and past the budget a range starts only once rows are
 * given back or the ranges running end, one at a time, first come first served.
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

  it('under the budget every range starts at once', async () => {
    const pool = new SlabPool(16, 64);
    const budget = new HeldBudget(pool, 64);
    new HeldRows(['a'], pool).append(bytes(48)); // 48 of 64 bytes held
    expect(await settled(budget.start())).toBe(true);
    expect(await settled(budget.start())).toBe(true);
    expect(budget.counts).toEqual({ waiting: 0, running: 2 });
  });

  it('at the budget a range waits while another runs; freed rows let it start, first come first served', async () => {
    const pool = new SlabPool(16, 64);
    const budget = new HeldBudget(pool, 64);
    const endFirst = await budget.start();
    const rows = new HeldRows(['a'], pool);
    rows.append(bytes(64)); // 64 of 64: at the budget
    const order: string[] = [];
    const second = budget.start().then((end) => (order.push('second'), end));
    const third = budget.start().then((end) => (order.push('third'), end));
    expect(await settled(second)).toBe(false);
    expect(budget.counts).toEqual({ waiting: 2, running: 1 });
    rows.free(); // one give: one range starts (it holds nothing yet)
    expect(await settled(second)).toBe(true);
    expect(await settled(third)).toBe(false);
    expect(budget.counts).toEqual({ waiting: 1, running: 2 });
    endFirst(); // a range ended: the next one starts
    expect(await settled(third)).toBe(true);
    expect(order).toEqual(['second', 'third']);
    expect(budget.counts).toEqual({ waiting: 0, running: 2 });
    endFirst(); // idempotent
    expect(budget.counts.running).toBe(2);
  });

  it('when the last range running ends, a waiting one starts though the rows are still held (no stall)', async () => {
    const pool = new SlabPool(16, 64);
    const budget = new HeldBudget(pool, 32);
    const end = await budget.start();
    new HeldRows(['a'], pool).append(bytes(32)); // held by something that never frees them
    const waiting = budget.start();
    expect(await settled(waiting)).toBe(false);
    end();
    expect(await settled(waiting)).toBe(true);
    expect(budget.counts).toEqual({ waiting: 0, running: 1 });
  });

  it('a range cancelled while it waits leaves the queue with the signal\'s reason; one cancelled before asking never waits', async () => {
    const pool = new SlabPool(16, 64);
    const budget = new HeldBudget(pool, 16);
    await budget.start();
    new HeldRows(['a'], pool).append(bytes(16));
    const controller = new AbortController();
    const waiting = budget.start(controller.signal);
    expect(await settled(waiting.catch(() => undefined))).toBe(false);
    controller.abort(new Error('activity cancelled'));
    await expect(waiting).rejects.toThrow('activity cancelled');
    expect(budget.counts).toEqual({ waiting: 0, running: 1 });
    await expect(budget.start(AbortSignal.abort())).rejects.toThrow();
    expect(budget.counts).toEqual({ waiting: 0, running: 1 });
  });
});
