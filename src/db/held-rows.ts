/**
 * Memory for encoded rows a range holds until it writes them (src/db/store-batch.ts: the block,
 * log and withdrawal tuples of a range, written with one COPY each at its end): fixed-size slabs
 * reused from range to range instead of a fresh Buffer per answer. Pure memory bookkeeping (no
 * I/O).
 *
 * Why: a fresh Buffer per answer (≈0.6 MB of log tuples per mainnet JSON-RPC batch, ≈35 MB a
 * second) is freed only when V8 next collects, which it does after about 64 MB of such memory:
 * the worker's resident set grew by that much (up to 402 MB in the bench, against 355–375 MB with
 * slabs). Slabs are taken while a range holds rows and given back once their COPY ended.
 * {@link HeldBudget} makes ranges wait before they start while too many bytes of slabs are in use.
 */

/** Bytes of one slab. */
export const SLAB_BYTES = 256 * 1024;
/** Bytes of free slabs a pool keeps for the next ranges (more are left to the garbage collector). */
export const KEPT_SLAB_BYTES = 64 * 2 ** 20;

/** Free slabs of {@link SLAB_BYTES}, shared by every range of a process. */
export class SlabPool {
  private free: Buffer[] = [];
  private readonly released = new Set<() => void>();
  /** Bytes of the slabs taken and not given back yet: the rows ranges hold now. */
  inUseBytes = 0;

  constructor(
    readonly slabBytes = SLAB_BYTES,
    readonly keptBytes = KEPT_SLAB_BYTES,
  ) {}

  /** A slab (a free one, or a new one; its bytes are not zeroed). */
  take(): Buffer {
    this.inUseBytes += this.slabBytes;
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.slabBytes);
  }

  /** Gives `slabs` back (nothing may read or write them any more); keeps up to `keptBytes` of free slabs. */
  give(slabs: readonly Buffer[]): void {
    if (slabs.length === 0) return;
    this.inUseBytes -= slabs.length * this.slabBytes;
    for (const slab of slabs) if ((this.free.length + 1) * this.slabBytes <= this.keptBytes) this.free.push(slab);
    for (const listener of this.released) listener();
  }

  /** Calls `listener` after every {@link give}. */
  onRelease(listener: () => void): void {
    this.released.add(listener);
  }

  /** Bytes of free slabs kept now (for tests). */
  get keptNow(): number {
    return this.free.length * this.slabBytes;
  }
}

/** The process's pool. */
export const heldSlabs = new SlabPool();

/**
 * Bytes of held rows (slabs in use, over every range of a process) from which a range waits before
 * it starts ({@link HeldBudget}). A range of about 110 Ethereum mainnet blocks holds about 11 MB by
 * its end.
 */
export const HELD_BUDGET_BYTES = 48 * 2 ** 20;

/**
 * Bounds, loosely, the rows the ranges of a process hold until their ends (the slabs of `pool`): a
 * range asks {@link start} before it takes a connection or fetches anything, and waits while
 * `budgetBytes` or more are held and another range runs; a range that started never waits. So
 * fetching waits for Postgres instead of the worker's memory growing with every range in progress.
 * A range that waits holds nothing (no connection, no lock, no rows), and the ranges that run never
 * wait for it: the budget cannot stall a worker. It is loose: the ranges that run go on
 * accumulating rows until their ends. Pure bookkeeping (no I/O).
 */
export class HeldBudget {
  private running = 0;
  private readonly waiting = new Set<() => void>();

  constructor(
    private readonly pool: SlabPool = heldSlabs,
    readonly budgetBytes = HELD_BUDGET_BYTES,
  ) {
    pool.onRelease(() => this.wake());
  }

  /**
   * Resolves once the range may start: at once while less than `budgetBytes` are held or no other
   * range runs (and no range waits); otherwise, first come first served, one at a time as rows are
   * given back or the ranges running end. Its result ends the range's turn (call it once the range ended; idempotent).
   * @throws the signal's reason when `signal` aborts while it waits.
   */
  start(signal?: AbortSignal): Promise<() => void> {
    const admitted = (): (() => void) => {
      this.running += 1;
      let ended = false;
      return () => {
        if (ended) return;
        ended = true;
        this.running -= 1;
        this.wake();
      };
    };
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.waiting.size === 0 && this.admits()) return Promise.resolve(admitted());
    return new Promise<() => void>((resolve, reject) => {
      const onAbort = () => {
        this.waiting.delete(go);
        reject(signal!.reason);
        this.wake();
      };
      const go = () => {
        this.waiting.delete(go);
        signal?.removeEventListener('abort', onAbort);
        resolve(admitted());
      };
      this.waiting.add(go);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Ranges waiting now, and running now (for tests and logs). */
  get counts(): { waiting: number; running: number } {
    return { waiting: this.waiting.size, running: this.running };
  }

  private admits(): boolean {
    return this.running === 0 || this.pool.inUseBytes < this.budgetBytes;
  }

  /**
   * Starts the first waiting range if the budget admits it: one per call, since a range that just
   * started holds nothing yet (every rows given back or range ended calls it again).
   */
  private wake(): void {
    const first = this.waiting.values().next();
    if (!first.done && this.admits()) first.value();
  }
}

/** The process's budget over {@link heldSlabs}. */
export const heldBudget = new HeldBudget();

/**
 * The encoded tuples of one table a range holds: the bytes of every chunk appended, one after
 * another, in slabs of a {@link SlabPool} (a tuple may span two slabs: COPY data is a byte stream).
 */
export class HeldRows {
  private slabs: Buffer[] = [];
  /** Bytes used of the last slab. */
  private fill = 0;
  /** Bytes held. */
  bytes = 0;

  constructor(
    readonly columns: string[],
    private readonly pool: SlabPool = heldSlabs,
  ) {}

  /** Copies `chunk` after the bytes held. */
  append(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.slabs.length === 0 || this.fill === this.pool.slabBytes) {
        this.slabs.push(this.pool.take());
        this.fill = 0;
      }
      const slab = this.slabs[this.slabs.length - 1]!;
      const n = Math.min(chunk.length - at, slab.length - this.fill);
      slab.set(chunk.subarray(at, at + n), this.fill);
      this.fill += n;
      at += n;
    }
    this.bytes += chunk.length;
  }

  /** The bytes held, as views of the slabs (valid until {@link free}). */
  chunks(): Buffer[] {
    return this.slabs.map((slab, i) => (i === this.slabs.length - 1 ? slab.subarray(0, this.fill) : slab));
  }

  /** Gives the slabs back to the pool (call once nothing reads the views any more: their COPY ended, or the batch did). Idempotent. */
  free(): void {
    this.pool.give(this.slabs);
    this.slabs = [];
    this.fill = 0;
    this.bytes = 0;
  }
}
