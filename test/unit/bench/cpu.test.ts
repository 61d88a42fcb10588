import { describe, expect, it } from 'vitest';
import { cpuPerBlock, machineCpuMs, mainThreadCpuMs, pidsNamed, processCpuMs } from '../../../bench/phases/cpu.js';

describe('bench CPU breakdown', () => {
  it('cpuPerBlock() divides the deltas by the blocks, counts Postgres backends that started meanwhile whole, one decimal', () => {
    const before = { workers: 1_000, workersMain: 700, postgres: new Map([[10, 500], [11, 200]]), temporal: new Map([[20, 50]]), machine: { busy: 10_000, steal: 100 } };
    const after = { workers: 4_000, workersMain: 2_800, postgres: new Map([[10, 1_500], [12, 300]]), temporal: new Map([[20, 650]]), machine: { busy: 17_000, steal: 400 } };
    // postgres: pid 10 +1,000, pid 12 new +300 (pid 11 ended: missed) = 1,300 over 300 blocks
    expect(cpuPerBlock(before, after, 300)).toEqual({ workerMs: 10, workerMainMs: 7, postgresMs: 4.3, temporalMs: 2, machineMs: 23.3, stolenMs: 1 });
  });

  it('processCpuMs() reads this process\'s CPU time, and 0 for a pid that does not exist', () => {
    let x = 0;
    for (let i = 0; i < 5e6; i++) x += i % 7; // some CPU time, so at least one 10 ms tick
    expect(x).toBeGreaterThan(0);
    expect(processCpuMs(process.pid)).toBeGreaterThan(0);
    expect(processCpuMs(2 ** 22 + 1)).toBe(0); // above pid_max's ceiling
    // This loop ran on the main thread: it has ticks of its own, at most the process's total.
    const main = mainThreadCpuMs(process.pid);
    expect(main).toBeGreaterThan(0);
    expect(main).toBeLessThanOrEqual(processCpuMs(process.pid));
    expect(mainThreadCpuMs(2 ** 22 + 1)).toBe(0);
    expect(machineCpuMs().busy).toBeGreaterThan(0);
    expect(machineCpuMs().steal).toBeGreaterThanOrEqual(0);
    expect(pidsNamed('no-such-process-name')).toEqual([]);
  });
});
