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

  constructor(
    readonly slabBytes = SLAB_BYTES,
    readonly keptBytes = KEPT_SLAB_BYTES,
  ) {}

  /** A slab (a free one, or a new one; its bytes are not zeroed). */
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.slabBytes);
  }

  /** Gives `slabs` back (nothing may read or write them any more); keeps up to `keptBytes` of free slabs. */
  give(slabs: readonly Buffer[]): void {
    for (const slab of slabs) if ((this.free.length + 1) * this.slabBytes <= this.keptBytes) this.free.push(slab);
  }

  /** Bytes of free slabs kept now (for tests). */
  get keptNow(): number {
    return this.free.length * this.slabBytes;
  }
}

/** The process's pool. */
export const heldSlabs = new SlabPool();

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
