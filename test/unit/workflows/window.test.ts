/**
 * `runWindow` (the sliding window of `chainSync` and `backfill`) with hand-settled batches: the
 * order in which it starts batches and persists the cursor, with and without `refillFirst`.
 */
import { describe, expect, it } from 'vitest';
import type { BlockRange, StoredBatch } from '../../../src/domain/index.js';
import { cutRanges } from '../../../src/domain/index.js';
import { runWindow } from '../../../src/workflows/window.js';

/** A batch of blocks `from..to` whose hashes link: block n has hash `0xn`, its parent `0x(n-1)`. */
const stored = ({ from, to }: BlockRange): StoredBatch => ({
  from, to, firstParentHash: `0x${from - 1}`, lastHash: `0x${to}`, blockCount: to - from + 1, transactionCount: 0, logCount: 0,
});

/** Runs a window over blocks 0..39 in batches of 10, 2 at once; batches finish when the test says. */
function harness(refillFirst?: () => boolean) {
  const events: string[] = [];
  const finish = new Map<number, () => void>();
  const done = runWindow({
    cursor: { blockNumber: -1, blockHash: '0x-1' },
    to: 39,
    batchSize: 10,
    concurrency: 2,
    index: (range) => {
      events.push(`start ${range.from}`);
      return new Promise((resolve) => finish.set(range.from, () => resolve(stored(range))));
    },
    shouldStop: () => false,
    onAdvance: async (cursor, consumed) => {
      events.push(`advance ${cursor.blockNumber} (${consumed.map((b) => b.from).join(',')})`);
      await new Promise((resolve) => setTimeout(resolve, 5)); // a saveCursor round trip
      events.push(`saved ${cursor.blockNumber}`);
    },
    refillFirst,
  });
  const settle = async (from: number) => {
    finish.get(from)!();
    await new Promise((resolve) => setTimeout(resolve, 20));
  };
  return { events, settle, done };
}

describe('runWindow()', () => {
  it('without refillFirst: persists the cursor, then starts the next batch', async () => {
    const { events, settle, done } = harness();
    for (const from of [0, 10, 20, 30]) await settle(from);
    expect(await done).toEqual({ kind: 'done', cursor: { blockNumber: 39, blockHash: '0x39' } });
    expect(events).toEqual([
      'start 0', 'start 10',
      'advance 9 (0)', 'saved 9', 'start 20',
      'advance 19 (10)', 'saved 19', 'start 30',
      'advance 29 (20)', 'saved 29',
      'advance 39 (30)', 'saved 39',
    ]);
  });

  it('with refillFirst: starts the next batch before persisting the cursor (here over two batches at once)', async () => {
    let asked = 0;
    const { events, settle, done } = harness(() => (asked++, true));
    await settle(10); // finished above the first: the cursor cannot move, the window starts 20
    expect(events).toEqual(['start 0', 'start 10', 'start 20']);
    await settle(0);
    await settle(20);
    await settle(30);
    expect(await done).toEqual({ kind: 'done', cursor: { blockNumber: 39, blockHash: '0x39' } });
    expect(events).toEqual([
      'start 0', 'start 10', 'start 20',
      'start 30', 'advance 19 (0,10)', 'saved 19',
      'advance 29 (20)', 'saved 29',
      'advance 39 (30)', 'saved 39',
    ]);
    expect(asked).toBe(3); // once per round that moved the cursor
  });
});

/**
 * Runs a window over blocks 0..999 in adaptive batches (4 rows a block, 1 block + 1 transaction +
 * 2 logs, against batchRows 400: 100 blocks, the 10 × batchSize cap), 2 at once; returns how it
 * ended and the batches it cut.
 */
async function adaptiveWindow(guidedTail?: () => boolean) {
  const starts: BlockRange[] = [];
  const outcome = await runWindow({
    cursor: { blockNumber: -1, blockHash: '0x-1' },
    to: 999,
    batchSize: 10,
    batchRows: 400,
    concurrency: 2,
    index: async (range) => {
      starts.push(range);
      const batch = stored(range);
      return { ...batch, transactionCount: batch.blockCount, logCount: 2 * batch.blockCount };
    },
    shouldStop: () => false,
    onAdvance: async () => undefined,
    ...(guidedTail ? { guidedTail } : {}),
  });
  return { outcome, cuts: starts.map((r) => `${r.from}-${r.to}`) };
}

describe('runWindow() with batchRows', () => {
  it('sizes each batch it starts from the rows per block of the batches stored before it', async () => {
    const { outcome, cuts } = await adaptiveWindow();
    expect(outcome).toEqual({ kind: 'done', cursor: { blockNumber: 999, blockHash: '0x999' } });
    expect(cuts).toEqual([
      '0-9', '10-19', // started before any batch was stored
      '20-119', '120-219', '220-319', '320-419', '420-519', '520-619', '620-719', '720-819', '820-919', '920-999',
    ]);
  });
});

describe('runWindow() batch cutting', () => {
  /** Runs a window over 0..to with `options`; batches hold 1 transaction and 2 logs a block and finish in reverse order of start. */
  async function cuts(to: number, batchSize: number, batchRows: number | undefined, stopAfter = Infinity) {
    const starts: BlockRange[] = [];
    const outcome = await runWindow({
      cursor: { blockNumber: -1, blockHash: '0x-1' },
      to,
      batchSize,
      ...(batchRows === undefined ? {} : { batchRows }),
      concurrency: 3,
      index: async (range) => {
        starts.push(range);
        await new Promise((resolve) => setTimeout(resolve, 3 * (3 - (starts.length % 3)))); // out of order
        const batch = stored(range);
        return { ...batch, transactionCount: batch.blockCount, logCount: 2 * batch.blockCount };
      },
      shouldStop: () => starts.length >= stopAfter,
      onAdvance: async () => undefined,
    });
    return { outcome, starts };
  }

  it('with batchRows 0 or absent cuts exactly cutRanges(), whatever the batches hold', async () => {
    for (const batchRows of [0, undefined]) {
      const { outcome, starts } = await cuts(96, 10, batchRows);
      expect(outcome.kind).toBe('done');
      expect(starts.sort((a, b) => a.from - b.from)).toEqual(cutRanges(0, 96, 10));
    }
  });

  it('adaptive and stopped part-way: ends `stopped` at the last linked batch, and nothing is started twice or skipped', async () => {
    const { outcome, starts } = await cuts(9_999, 10, 400, 5);
    expect(outcome).toEqual({ kind: 'stopped', cursor: { blockNumber: starts[4]!.to, blockHash: `0x${starts[4]!.to}` } });
    expect(starts.map((r) => `${r.from}-${r.to}`)).toEqual(['0-9', '10-19', '20-29', '30-129', '130-229']);
  });
});

describe('runWindow() with guidedTail', () => {
  const cut = async (guidedTail?: () => boolean) => (await adaptiveWindow(guidedTail)).cuts;

  it('shrinks the last batches to the blocks left ÷ concurrency, never below batchSize, asking only when it would shrink one', async () => {
    let asked = 0;
    expect(await cut(() => (asked++, true))).toEqual([
      '0-9', '10-19', '20-119', '120-219', '220-319', '320-419', '420-519', '520-619', '620-719', '720-819',
      '820-909', '910-954', '955-977', '978-988', '989-998', '999-999',
    ]);
    expect(asked).toBe(6); // at 820 (90 of the sizer's 100), 910 (45), 955 (23), 978 (11), 989 and 999 (batchSize, 10)
  });

  it('without it, or when the patch is not in the history (false), cuts as before', async () => {
    const before = ['0-9', '10-19', '20-119', '120-219', '220-319', '320-419', '420-519', '520-619', '620-719', '720-819', '820-919', '920-999'];
    expect(await cut()).toEqual(before);
    expect(await cut(() => false)).toEqual(before);
  });
});

/**
 * A window over blocks 0..`to` in batches of 10, `concurrency` at once, refillFirst on, whose
 * batches and cursor saves (the saveCursor local activity) end when the test says.
 */
function gated({ to = 39, concurrency = 2, leaveOnSettle = true } = {}) {
  const events: string[] = [];
  const finish = new Map<number, () => void>();
  const saves: (() => void)[] = [];
  const done = runWindow({
    cursor: { blockNumber: -1, blockHash: '0x-1' },
    to,
    batchSize: 10,
    concurrency,
    index: (range) => {
      events.push(`start ${range.from}`);
      return new Promise((resolve) => finish.set(range.from, () => resolve(stored(range))));
    },
    shouldStop: () => false,
    onAdvance: async (cursor) => {
      events.push(`advance ${cursor.blockNumber}`);
      await new Promise<void>((resolve) => saves.push(resolve));
      events.push(`saved ${cursor.blockNumber}`);
    },
    refillFirst: () => true,
    leaveOnSettle: () => leaveOnSettle,
  });
  const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
  return {
    events,
    done,
    tick,
    /** Settles batch `from` without letting the window run (several in one activation). */
    finish: (from: number) => finish.get(from)!(),
    settle: async (from: number) => { finish.get(from)!(); await tick(); },
    save: async () => { saves.shift()!(); await tick(); },
  };
}

describe('runWindow() when a batch settles while the cursor is being saved', () => {
  // Temporal may hand a worker an activity's result and a local activity's in one activation in
  // either order (first run against replay): the commands must not depend on it, or the replay
  // fails ("Nondeterminism error: Missing associated machine for LocalActivity(12)", seen in CI
  // under load when a query made the worker replay a sync's history).
  it('starts the same batches and saves the same cursors in the same order as when it settles after the save', async () => {
    const after = gated();
    for (const from of [0, 10, 20, 30]) {
      await after.settle(from);
      await after.save();
    }
    const during = gated();
    await during.settle(0);
    await during.settle(10); // while the cursor of block 9 is being saved
    await during.save();
    await during.save();
    for (const from of [20, 30]) {
      await during.settle(from);
      await during.save();
    }
    const expected = [
      'start 0', 'start 10', 'start 20', 'advance 9', 'saved 9',
      'start 30', 'advance 19', 'saved 19',
      'advance 29', 'saved 29',
      'advance 39', 'saved 39',
    ];
    expect([await after.done, after.events]).toEqual([{ kind: 'done', cursor: { blockNumber: 39, blockHash: '0x39' } }, expected]);
    expect([await during.done, during.events]).toEqual([{ kind: 'done', cursor: { blockNumber: 39, blockHash: '0x39' } }, expected]);
  });
});

describe('runWindow() leaveOnSettle', () => {
  /** Blocks 0..59, 3 at once; batches 0 and 10 settle in one tick (one activation): what the window started before the first save. */
  async function twoAtOnce(leaveOnSettle: boolean) {
    const window = gated({ to: 59, concurrency: 3, leaveOnSettle });
    window.finish(0);
    window.finish(10);
    await window.tick();
    const beforeSave = [...window.events];
    await window.save();
    for (const from of [20, 30, 40, 50]) {
      await window.settle(from);
      await window.save();
    }
    await window.done;
    return beforeSave;
  }

  it('refills both free slots before the save; without it (runs recorded before the patch), one slot before and one after, as they were recorded', async () => {
    expect(await twoAtOnce(true)).toEqual(['start 0', 'start 10', 'start 20', 'start 30', 'start 40', 'advance 19']);
    expect(await twoAtOnce(false)).toEqual(['start 0', 'start 10', 'start 20', 'start 30', 'advance 19']);
  });
});
