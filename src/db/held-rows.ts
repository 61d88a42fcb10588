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

  /** Calls `listener` after every {@link give}; returns what removes it. */
  onRelease(listener: () => void): () => void {
    this.released.add(listener);
    return () => this.released.delete(listener);
  }

  /** Bytes of free slabs kept now (for tests). */
  get keptNow(): number {
    return this.free.length * this.slabBytes;
  }
}

/** The process's pool. */
export const heldSlabs = new SlabPool();

/**
 * Bytes of held rows (slabs in use, over every range of a process) above which a range that is not
 * its chain's earliest waits before it fetches more ({@link HeldBudget}). A range of about 110
 * Ethereum mainnet blocks holds about 11 MB by its end.
 */
export const HELD_BUDGET_BYTES = 48 * 2 ** 20;

/** A range's place in a {@link HeldBudget}. */
export type HeldTicket = {
  /** Resolves at once while the pool holds less than the budget or this range is its chain's earliest open one; otherwise when that becomes true (or the ticket is returned). */
  admit(): Promise<void>;
  /** Leaves the budget (the range ended, its rows written or dropped); wakes whoever waits. Idempotent. */
  leave(): void;
};

/**
 * Bounds the rows the ranges of a process hold until their ends (the slabs of `pool`): each range
 * asks `admit()` before it fetches more blocks, and waits while `budgetBytes` or more are held,
 * unless it is the earliest open range of its chain (the lowest first block among the ranges that
 * entered and have not left). That one always goes on, so it ends, writes its rows and frees them,
 * and the next one becomes the earliest: fetching waits for Postgres instead of the worker's
 * memory growing with every range in progress. Pure bookkeeping (no I/O).
 */
export class HeldBudget {
  /** Open ranges by chain: first block → how many ranges with that first block are open (an activity retried while its old attempt still runs here). */
  private readonly open = new Map<number, Map<number, number>>();
  private readonly waiting = new Set<{ chainId: number; from: number; wake: () => void }>();

  constructor(
    private readonly pool: SlabPool = heldSlabs,
    readonly budgetBytes = HELD_BUDGET_BYTES,
  ) {
    pool.onRelease(() => this.wakeAll());
  }

  /** Enters range `from…` of chain `chainId`; the ticket must be left once the range ended. */
  enter(chainId: number, from: number): HeldTicket {
    const ranges = this.open.get(chainId) ?? new Map<number, number>();
    this.open.set(chainId, ranges);
    ranges.set(from, (ranges.get(from) ?? 0) + 1);
    let left = false;
    const mine = new Set<() => void>();
    return {
      admit: () => {
        if (left || this.admits(chainId, from)) return Promise.resolve();
        return new Promise<void>((resolve) => {
          const waiter = { chainId, from, wake: () => { this.waiting.delete(waiter); mine.delete(waiter.wake); resolve(); } };
          this.waiting.add(waiter);
          mine.add(waiter.wake);
        });
      },
      leave: () => {
        if (left) return;
        left = true;
        for (const wake of [...mine]) wake();
        const count = ranges.get(from) ?? 0;
        if (count <= 1) ranges.delete(from);
        else ranges.set(from, count - 1);
        if (ranges.size === 0) this.open.delete(chainId);
        this.wakeAll();
      },
    };
  }

  /** Ranges waiting now (for tests and logs). */
  get waitingCount(): number {
    return this.waiting.size;
  }

  private admits(chainId: number, from: number): boolean {
    if (this.pool.inUseBytes < this.budgetBytes) return true;
    const ranges = this.open.get(chainId);
    if (!ranges) return true;
    for (const other of ranges.keys()) if (other < from) return false;
    return true;
  }

  private wakeAll(): void {
    for (const waiter of [...this.waiting]) if (this.admits(waiter.chainId, waiter.from)) waiter.wake();
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
