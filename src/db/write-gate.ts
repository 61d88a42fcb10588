/**
 * How many of a worker's ranges write their held rows at once: the block, log and withdrawal rows
 * a range holds until its end and then writes with one COPY each (src/db/store-batch.ts). Each
 * range's transaction rows still stream into its open COPY as its blocks arrive; only the held
 * rows' COPYs take turns here.
 *
 * Why: every range writing at once costs Postgres more CPU per row. With the default eight ranges
 * in flight, three or four ranges' log COPYs ran at once (sampling `pg_stat_activity` through a
 * 3,000-block mainnet bench run), waiting on each other for the relations' extension lock and for
 * buffer content locks, each inserting into the middle of the primary keys instead of at their
 * right-hand edge; Postgres spent 5.3–5.7 ms of CPU per mainnet block, against 4.8–5.2 with at
 * most two held-rows writers (README, Performance). The same rows COPY'd on 8 connections instead
 * of 2 cost Postgres 4.8–5.0 ms per block against 4.5–4.6.
 */

/** Ranges of a worker that write their held rows at once unless `WRITE_CONCURRENCY` says otherwise. */
export const DEFAULT_WRITE_CONCURRENCY = 2;

/**
 * Longest a range waits for its turn, in ms; then it writes anyway (beside those writing). A range
 * that has its turn can wait on another transaction's row locks (another attempt of the same
 * blocks, still open in this process, whose end waits here): the bound makes sure such a wait
 * ends. In a mainnet run a turn lasts about half a second and a range waits up to a few turns.
 */
export const WRITE_GATE_MAX_WAIT_MS = 10_000;

/**
 * First come, first served turns for the held rows' COPYs of a process's ranges: at most `limit`
 * at once (0: no limit), and none waits longer than `maxWaitMs`. Pure bookkeeping and timers (no
 * I/O); a waiting range holds nothing of the gate's.
 */
export class WriteGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  /**
   * @param limit ranges writing at once (0: no limit); may be changed later (`configure`).
   * @param maxWaitMs longest wait for a turn, in ms.
   * @throws RangeError when `limit` is not an integer ≥ 0 or `maxWaitMs` not a number ≥ 0.
   */
  constructor(
    limit = DEFAULT_WRITE_CONCURRENCY,
    readonly maxWaitMs = WRITE_GATE_MAX_WAIT_MS,
  ) {
    if (!(maxWaitMs >= 0)) throw new RangeError(`a write gate needs a wait ≥ 0 ms, got ${maxWaitMs}`);
    this.limit = WriteGate.checked(limit);
  }

  /** Ranges writing at once (0: no limit). */
  limit: number;

  /**
   * Sets {@link limit} (the worker does it from `WRITE_CONCURRENCY` at its start) and lets in
   * whoever the new limit admits. @throws RangeError when `limit` is not an integer ≥ 0.
   */
  configure(limit: number): void {
    this.limit = WriteGate.checked(limit);
    this.wake();
  }

  /**
   * Resolves when the caller may write: at once while fewer than `limit` write and nobody waits,
   * else when an earlier writer ends its turn (first come, first served), or after `maxWaitMs`
   * whatever happens. Its result ends the turn (idempotent; call it when the COPYs ended, failed
   * or not). @throws the signal's reason when `signal` aborts while it waits.
   */
  enter(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (this.waiting.length === 0 && this.admits()) return Promise.resolve(this.admitted());
    return new Promise<() => void>((resolve, reject) => {
      const leave = () => {
        const at = this.waiting.indexOf(go);
        if (at >= 0) this.waiting.splice(at, 1);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const go = () => {
        leave();
        resolve(this.admitted());
      };
      const onAbort = () => {
        leave();
        reject(signal!.reason as Error);
        this.wake();
      };
      const timer = setTimeout(go, this.maxWaitMs); // overdue: writes beside the others
      timer.unref();
      this.waiting.push(go);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Ranges writing now (an overdue one included) and waiting now (for tests and logs). */
  get counts(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  private admits(): boolean {
    return this.limit === 0 || this.running < this.limit;
  }

  private admitted(): () => void {
    this.running += 1;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.running -= 1;
      this.wake();
    };
  }

  /** Lets in the waiting ranges, first come first, while the limit admits them. */
  private wake(): void {
    while (this.waiting.length > 0 && this.admits()) this.waiting[0]!();
  }

  private static checked(limit: number): number {
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`a write gate needs a limit that is an integer ≥ 0, got ${limit}`);
    return limit;
  }
}

/** The process's gate, used by every range's writes (`writeBatch`); the worker configures its limit. */
export const writeGate = new WriteGate();
