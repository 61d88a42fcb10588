/**
 * WriteGate (src/db/write-gate.ts): at most `limit` turns at once, first come first served; a
 * turn ended twice frees one place; 0 means no limit; a raised limit lets waiters in at once; an
 * aborted wait rejects with the signal's reason and keeps its place for nobody; a wait longer
 * than `maxWaitMs` ends with a turn beside the others; bad limits are refused.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_WRITE_CONCURRENCY, WriteGate, writeGate } from '../../../src/db/write-gate.js';

/** Whether `promise` settled by the time pending microtasks and a macrotask ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('WriteGate', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lets in `limit` writers at once and the next ones as turns end, first come first served', async () => {
    const gate = new WriteGate(2, 60_000);
    const first = await gate.enter();
    const second = await gate.enter();
    const order: string[] = [];
    const third = gate.enter().then((end) => (order.push('third'), end));
    const fourth = gate.enter().then((end) => (order.push('fourth'), end));
    expect(await settled(third)).toBe(false);
    expect(gate.counts).toEqual({ running: 2, waiting: 2 });
    second();
    second(); // ending a turn twice frees one place, not two
    const endThird = await third;
    expect(await settled(fourth)).toBe(false);
    expect(order).toEqual(['third']);
    expect(gate.counts).toEqual({ running: 2, waiting: 1 });
    first();
    const endFourth = await fourth;
    expect(order).toEqual(['third', 'fourth']);
    endThird();
    endFourth();
    expect(gate.counts).toEqual({ running: 0, waiting: 0 });
  });

  it('has no limit at 0, and a raised limit lets the waiting writers in at once', async () => {
    const open = new WriteGate(0, 60_000);
    const ends = await Promise.all([open.enter(), open.enter(), open.enter()]);
    expect(open.counts).toEqual({ running: 3, waiting: 0 });
    for (const end of ends) end();

    const gate = new WriteGate(1, 60_000);
    const first = await gate.enter();
    const waiting = [gate.enter(), gate.enter()];
    expect(gate.counts).toEqual({ running: 1, waiting: 2 });
    gate.configure(3);
    const [second, third] = await Promise.all(waiting);
    expect(gate.counts).toEqual({ running: 3, waiting: 0 });
    for (const end of [first, second!, third!]) end();
    expect(gate.counts).toEqual({ running: 0, waiting: 0 });
  });

  it('rejects a wait whose signal aborts, with its reason, and the writers after it keep their order', async () => {
    const gate = new WriteGate(1, 60_000);
    const first = await gate.enter();
    const controller = new AbortController();
    const aborted = gate.enter(controller.signal);
    const next = gate.enter();
    const reason = new Error('the batch failed');
    controller.abort(reason);
    await expect(aborted).rejects.toBe(reason);
    expect(gate.counts).toEqual({ running: 1, waiting: 1 });
    first();
    const end = await next;
    expect(gate.counts).toEqual({ running: 1, waiting: 0 });
    end();
    await expect(gate.enter(AbortSignal.abort(reason))).rejects.toBe(reason); // aborted before it asked
    expect(gate.counts).toEqual({ running: 0, waiting: 0 });
  });

  it('ends a wait after maxWaitMs with a turn beside the writers, which counts until it ends', async () => {
    vi.useFakeTimers();
    const gate = new WriteGate(1, 10_000);
    const first = await gate.enter();
    const overdue = gate.enter();
    await vi.advanceTimersByTimeAsync(9_999);
    expect(await Promise.race([overdue.then(() => 'in'), Promise.resolve('waiting')])).toBe('waiting');
    await vi.advanceTimersByTimeAsync(1);
    const end = await overdue;
    expect(gate.counts).toEqual({ running: 2, waiting: 0 });
    const third = gate.enter(); // two run, over the limit of one: it waits for both
    first();
    expect(gate.counts).toEqual({ running: 1, waiting: 1 });
    end();
    const endThird = await third;
    expect(gate.counts).toEqual({ running: 1, waiting: 0 });
    endThird();
  });

  it('refuses a limit that is not an integer ≥ 0 and a negative wait', () => {
    expect(() => new WriteGate(-1)).toThrow('a write gate needs a limit that is an integer ≥ 0, got -1');
    expect(() => new WriteGate(1.5)).toThrow('a write gate needs a limit that is an integer ≥ 0, got 1.5');
    expect(() => new WriteGate(1, -5)).toThrow('a write gate needs a wait ≥ 0 ms, got -5');
    expect(() => new WriteGate(1).configure(Number.NaN)).toThrow('a write gate needs a limit that is an integer ≥ 0, got NaN');
  });

  it('is the process gate at the default limit until the worker configures it', () => {
    expect(DEFAULT_WRITE_CONCURRENCY).toBe(2);
    expect(writeGate.limit).toBe(2);
    expect(writeGate.maxWaitMs).toBe(10_000);
  });
});
