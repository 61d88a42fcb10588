import { describe, expect, it } from 'vitest';
import { medianRun } from '../../../bench/run.js';

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
});
