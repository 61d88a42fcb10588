/**
 * The sync's rate over the last minute: blocks stored per second in a sliding window, from the
 * count of blocks stored at each cursor move. A lifetime average says little about a sync that
 * has run for days, or that was paused (it kept showing the rate from before the pause).
 * Deterministic (times are workflow time), so the sync workflow may keep it.
 */

/** Width of the window, in ms. */
export const RATE_WINDOW_MS = 60_000;

/** Blocks stored so far (`stored`) at workflow time `atMs` (ms since the epoch). */
type Sample = { atMs: number; stored: number };

/**
 * Counts of blocks stored over time, kept for {@link RATE_WINDOW_MS} (plus the one sample just
 * before the window, its baseline). `record` after each move of the cursor; `perSecond` for the
 * rate at a time. Memory: one sample per cursor move within the last minute.
 */
export class RecentRate {
  private readonly samples: Sample[];

  /** Starts counting at `startedAtMs` with `stored` blocks (0 for a new run). */
  constructor(startedAtMs: number, stored = 0) {
    this.samples = [{ atMs: startedAtMs, stored }];
  }

  /** Notes that `stored` blocks were stored by `atMs` (not earlier than the last note), and forgets what the window no longer needs. */
  record(atMs: number, stored: number): void {
    this.samples.push({ atMs, stored });
    while (this.samples.length > 2 && this.samples[1]!.atMs <= atMs - RATE_WINDOW_MS) this.samples.shift();
  }

  /**
   * Blocks stored per second over the last {@link RATE_WINDOW_MS} before `nowMs` (over the time
   * since the start when that is shorter), rounded to 0.1: the blocks stored since the baseline,
   * the last sample at or before the window's start (or the first sample, when none is).
   * @example const r = new RecentRate(0); r.record(30_000, 300); r.perSecond(30_000) // 10
   */
  perSecond(nowMs: number): number {
    const from = nowMs - RATE_WINDOW_MS;
    let base = this.samples[0]!;
    for (const s of this.samples) if (s.atMs <= from) base = s;
    const last = this.samples[this.samples.length - 1]!;
    const seconds = Math.max(0.001, (nowMs - Math.max(base.atMs, from)) / 1000);
    // The blocks stored since the baseline, spread over the window from its start (or from the baseline when it is inside it).
    return Math.round(((last.stored - base.stored) / seconds) * 10) / 10;
  }
}
