/**
 * The sliding window shared by `chainSync` and `backfill`: runs `indexRange` over consecutive
 * batches, at most `concurrency` at once, and moves a cursor over the contiguous prefix of
 * finished batches whose parent hashes link. Deterministic: only Promise.race over activity
 * promises, no timers, no I/O.
 */
import { advanceCursor, createRangeSizer, type BlockRange, type Cursor, type StoredBatch } from '../domain/index.js';

/** How a window run ended. `reorg` names the first block whose parent hash did not link. */
export type WindowOutcome =
  | { kind: 'done'; cursor: Cursor }
  | { kind: 'stopped'; cursor: Cursor }
  | { kind: 'reorg'; cursor: Cursor; atBlock: number; expectedParentHash: string; actualParentHash: string };

/** What a window run needs; every callback is workflow code (activities, state updates). */
export type WindowOptions = {
  /** The last linked block below the range; its hash is null when unknown (links to anything). */
  cursor: Cursor;
  /** Last block number of the range, inclusive. */
  to: number;
  /** Blocks per batch: of every batch, or with `batchRows` of the first ones. */
  batchSize: number;
  /**
   * Rows (blocks + transactions + logs) a batch aims at once batches are stored: each new batch is
   * sized from the rows per block seen so far ({@link createRangeSizer}). 0 or absent: every batch
   * has `batchSize` blocks.
   */
  batchRows?: number;
  /** Batches in flight at once. */
  concurrency: number;
  /** Stores one batch (the `indexRange` activity). */
  index: (range: BlockRange) => Promise<StoredBatch>;
  /** Checked before each new batch: true stops scheduling (pause, continue-as-new). */
  shouldStop: () => boolean;
  /** Called with the new cursor after it moved over `consumed` batches (persist it here). */
  onAdvance: (cursor: Cursor, consumed: StoredBatch[]) => Promise<void>;
  /** Called whenever the number of batches in flight changes. */
  onInFlight?: (count: number) => void;
  /**
   * Asked at the first cursor move after a batch finished: true starts the next batches before
   * `onAdvance` persists the cursor (its activity round trip no longer delays them). Workflows
   * pass `() => patched(WINDOW_REFILL_FIRST)`, so runs recorded before this order replay unchanged.
   */
  refillFirst?: () => boolean;
  /**
   * Asked before a batch that the tail rule would make smaller: true caps it at the blocks left ÷
   * `concurrency` (never below `batchSize`), so a window's last batches shrink and the workers
   * sharing them finish together (guided self-scheduling) instead of one worker running the last
   * 1,000-block batches while the others idle. Workflows pass `() => patched(WINDOW_GUIDED_TAIL)`,
   * so runs recorded before replay unchanged.
   */
  guidedTail?: () => boolean;
  /**
   * Asked once, when the window starts: true makes a batch leave the window as it settles and the
   * window refill before each `onAdvance` (not only the first of a round), so the commands do not
   * depend on whether a batch settled while `onAdvance` was pending. Needed where `onAdvance`
   * awaits a local activity, whose resolution Temporal may hand the workflow before or after an
   * activity's result (first run against replay: "Missing associated machine for LocalActivity").
   * `chainSync` passes `() => patched(WINDOW_LEAVES_ON_SETTLE)`, so runs recorded before replay the
   * old order (in which two results of one activation refilled one slot before the save, not two).
   */
  leaveOnSettle?: () => boolean;
};

/** Patch marker of the window that starts the next batches before persisting the cursor. */
export const WINDOW_REFILL_FIRST = 'window-refill-first';
/** Patch marker of the window whose last batches shrink ({@link WindowOptions.guidedTail}). */
export const WINDOW_GUIDED_TAIL = 'window-guided-tail';
/** Patch marker of the window whose batches leave it as they settle ({@link WindowOptions.leaveOnSettle}). */
export const WINDOW_LEAVES_ON_SETTLE = 'window-leaves-on-settle';

/**
 * Runs the window from `cursor + 1` to `to`. Returns when every batch is stored and linked
 * (`done`), when `shouldStop` turned true and in-flight batches drained (`stopped`), or when a
 * seam did not link (`reorg`, after in-flight batches drained; nothing past the seam counted).
 * @throws the first activity failure that Temporal gave up on (non-retryable or out of attempts).
 * Invariant: `onAdvance` is called only for batches already committed, in block order.
 */
export async function runWindow(options: WindowOptions): Promise<WindowOutcome> {
  const leaveOnSettle = options.leaveOnSettle?.() ?? false;
  const sizer = createRangeSizer(options.batchSize, options.batchRows);
  let nextFrom = options.cursor.blockNumber + 1; // first block of the next batch; the batches are cut as they start
  /** Batches in flight, by first block: each leaves as it settles (leaveOnSettle), else when the loop's race returns it. */
  const inFlight = new Map<number, Promise<number>>();
  const finished = new Map<number, StoredBatch>();
  let cursor = options.cursor;
  let failure: unknown = null;
  const report = () => options.onInFlight?.(inFlight.size);

  const drain = async () => {
    await Promise.allSettled(inFlight.values());
    inFlight.clear();
    report();
  };

  /** Starts batches while the window has room. */
  const refill = () => {
    while (failure === null && inFlight.size < options.concurrency && nextFrom <= options.to && !options.shouldStop()) {
      let size = sizer.next();
      const share = Math.max(options.batchSize, Math.ceil((options.to - nextFrom + 1) / options.concurrency));
      if (share < size && options.guidedTail?.()) size = share;
      const range = { from: nextFrom, to: Math.min(options.to, nextFrom + size - 1) };
      nextFrom = range.to + 1;
      const promise = options.index(range).then(
        (batch) => {
          sizer.observe(batch);
          finished.set(batch.from, batch);
          if (leaveOnSettle) inFlight.delete(range.from);
          return range.from;
        },
        (err: unknown) => {
          failure ??= err;
          if (leaveOnSettle) inFlight.delete(range.from);
          return range.from;
        },
      );
      inFlight.set(range.from, promise);
    }
  };

  if (!leaveOnSettle) {
    // The order of runs recorded before WINDOW_LEAVES_ON_SETTLE, unchanged so they replay.
    for (;;) {
      refill();
      report();
      if (failure !== null) {
        await drain();
        throw failure;
      }
      if (inFlight.size === 0) {
        return { kind: nextFrom > options.to ? 'done' : 'stopped', cursor };
      }
      const settled = await Promise.race(inFlight.values());
      inFlight.delete(settled);
      if (failure !== null) continue;
      let refilled = false;
      for (;;) {
        const advance = advanceCursor(cursor, finished);
        if (advance.kind === 'reorg') {
          await drain();
          return { kind: 'reorg', cursor, atBlock: advance.atBlock, expectedParentHash: advance.expectedParentHash, actualParentHash: advance.actualParentHash };
        }
        if (advance.consumed.length === 0) break;
        cursor = advance.cursor;
        if (!refilled && options.refillFirst?.()) {
          refilled = true;
          refill();
          report();
        }
        await options.onAdvance(cursor, advance.consumed);
      }
    }
  }
  for (;;) {
    // The cursor moves over every finished batch that links before anything else, and (with
    // refillFirst) the window refills before each move is persisted. So the commands that follow
    // depend only on which batches have settled, never on whether one settled while `onAdvance`
    // was pending or after it: a worker that replays the history takes the same path.
    while (failure === null) {
      const advance = advanceCursor(cursor, finished);
      if (advance.kind === 'reorg') {
        await drain();
        return { kind: 'reorg', cursor, atBlock: advance.atBlock, expectedParentHash: advance.expectedParentHash, actualParentHash: advance.actualParentHash };
      }
      if (advance.consumed.length === 0) break;
      cursor = advance.cursor;
      if (options.refillFirst?.()) {
        refill();
        report();
      }
      await options.onAdvance(cursor, advance.consumed);
    }
    refill();
    report();
    if (failure !== null) {
      await drain();
      throw failure;
    }
    if (inFlight.size === 0) {
      return { kind: nextFrom > options.to ? 'done' : 'stopped', cursor };
    }
    await Promise.race(inFlight.values());
  }
}
