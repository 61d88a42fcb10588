/**
 * The sync's rate over the last minute (RecentRate): blocks stored in the window over its length,
 * the run's age when it is younger, 0 once nothing was stored for a minute (a paused sync).
 */
import { describe, expect, it } from 'vitest';
import { RATE_WINDOW_MS, RecentRate } from '../../../src/workflows/recent-rate.js';

const T0 = 1_800_000_000_000;

describe('RecentRate', () => {
  it('a run younger than the window: the blocks stored over its age', () => {
    const rate = new RecentRate(T0);
    expect(rate.perSecond(T0)).toBe(0);
    rate.record(T0 + 10_000, 500);
    rate.record(T0 + 20_000, 1_000);
    expect(rate.perSecond(T0 + 20_000)).toBe(50);
    expect(rate.perSecond(T0 + 40_000)).toBe(25); // nothing since: the same blocks over twice the time
  });

  it('an older run: only the blocks stored in the last minute count, over the minute', () => {
    const rate = new RecentRate(T0);
    rate.record(T0 + 10_000, 6_000); // a fast start, then slower
    rate.record(T0 + 70_000, 6_600);
    rate.record(T0 + 100_000, 6_900);
    // Window (40 s, 100 s]: the baseline is the sample at 10 s (6,000); 900 blocks in 60 s.
    expect(rate.perSecond(T0 + 100_000)).toBe(15);
    // Window (60 s, 120 s]: the same 900 blocks, the move at 70 s inside it.
    expect(rate.perSecond(T0 + 120_000)).toBe(15);
    // Window (71 s, 131 s]: only the move at 100 s (300 blocks).
    expect(rate.perSecond(T0 + 131_000)).toBe(5);
  });

  it('paused (no move) for a whole window: 0, however fast it was before', () => {
    const rate = new RecentRate(T0);
    rate.record(T0 + 30_000, 9_000);
    expect(rate.perSecond(T0 + 30_000)).toBe(300);
    expect(rate.perSecond(T0 + 30_000 + RATE_WINDOW_MS)).toBe(0);
  });

  it('keeps one sample before the window and those inside it, however long the run', () => {
    const rate = new RecentRate(T0);
    for (let i = 1; i <= 10_000; i++) rate.record(T0 + i * 1_000, i * 10); // ten blocks a second for 10,000 s
    expect((rate as unknown as { samples: unknown[] }).samples.length).toBe(61);
    expect(rate.perSecond(T0 + 10_000_000)).toBe(10);
  });
});
