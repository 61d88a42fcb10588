import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { median, medianRun, runBench } from '../../../bench/run.js';
import { positiveInteger } from '../../../bench/synthetic-chain.js';

describe('bench rounds', () => {
  const run = (blocksPerSecond: number) => ({ blocksPerSecond });

  it('medianRun() takes the run with the median blocks/s, the slower middle one of an even count, without reordering its input', () => {
    expect(medianRun([])).toBeNull();
    const one = run(300);
    expect(medianRun([one])).toBe(one);
    const [fast, slow] = [run(320.5), run(288)];
    expect(medianRun([fast, slow])).toBe(slow);
    const three = [run(301.5), run(262.6), run(349.6)];
    expect(medianRun(three)).toBe(three[0]);
    expect(three.map((r) => r.blocksPerSecond)).toEqual([301.5, 262.6, 349.6]);
    const four = [run(4), run(1), run(3), run(2)];
    expect(medianRun(four)).toBe(four[3]); // 1, 2, 3, 4: the slower of 2 and 3
  });

  it('median() of the per-round ratios: the middle value, the mean of the two middle ones of an even count, three decimals', () => {
    expect(median([])).toBeNull();
    expect(median([0.655, 0.642, 0.644])).toBe(0.644);
    expect(median([0.804, 0.688])).toBe(0.746);
    expect(median([0.076, 0.084, -0.433])).toBe(0.076);
    const values = [3, 1, 2];
    median(values);
    expect(values).toEqual([3, 1, 2]);
  });

  it('--rounds takes a whole number of at least 1; runBench refuses 0 before it creates anything', async () => {
    expect(positiveInteger('3')).toBe(3);
    for (const bad of ['0', '-1', '1.5', 'x']) expect(() => positiveInteger(bad)).toThrow(new InvalidArgumentError(`expected an integer ≥ 1, got ${bad}`));
    const outDir = mkdtempSync(join(tmpdir(), 'bench-rounds-'));
    try {
      await expect(runBench({ profile: 'light', blocks: 10, latencyMs: 0, workers: 1, rateLimit: 0, phases: 'a', baselineBlocks: 10, outDir, rounds: 0 }))
        .rejects.toThrow('--rounds must be a whole number of at least 1, got 0');
      expect(readdirSync(outDir)).toEqual([]);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });
});
