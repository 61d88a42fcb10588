import { describe, expect, it } from 'vitest';
import { BALLOON_DRIVER_DIR, cpuPerBlock, freePageReportingOrder, machineCpuMs, mainThreadCpuMs, PAGE_REPORTING_ORDER_FILE, pageReportingSetting, pidsNamed, processCpuMs } from '../../../bench/phases/cpu.js';

describe('bench CPU breakdown', () => {
  it('cpuPerBlock() divides the deltas by the blocks, counts Postgres backends that started meanwhile whole, two decimals', () => {
    const before = { workers: 1_000, workersMain: 700, postgres: new Map([[10, 500], [11, 200]]), temporal: new Map([[20, 50]]), machine: { busy: 10_000, steal: 100 } };
    const after = { workers: 4_000, workersMain: 2_800, postgres: new Map([[10, 1_500], [12, 300]]), temporal: new Map([[20, 650]]), machine: { busy: 17_000, steal: 400 } };
    // postgres: pid 10 +1,000, pid 12 new +300 (pid 11 ended: missed) = 1,300 over 300 blocks
    expect(cpuPerBlock(before, after, 300)).toEqual({ workerMs: 10, workerMainMs: 7, postgresMs: 4.33, temporalMs: 2, machineMs: 23.33, stolenMs: 1 });
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

  it('freePageReportingOrder() is the order when a virtio balloon device reports free pages, else null; pageReportingSetting() the order set whenever there is such a device', () => {
    const machine = (order: string | null, devices: string[] | null) => ({
      read: (path: string) => {
        if (path !== PAGE_REPORTING_ORDER_FILE || order === null) throw new Error(`ENOENT: ${path}`);
        return order;
      },
      list: (dir: string) => {
        if (dir !== BALLOON_DRIVER_DIR || devices === null) throw new Error(`ENOENT: ${dir}`);
        return devices;
      },
    });
    expect(freePageReportingOrder(machine('5\n', ['bind', 'uevent', 'virtio0']))).toBe(5);
    expect(freePageReportingOrder(machine('0\n', ['virtio3']))).toBe(0);
    expect(freePageReportingOrder(machine('11\n', ['virtio0']))).toBeNull(); // above MAX_ORDER − 1: nothing is reported
    expect(freePageReportingOrder(machine('5\n', ['bind', 'uevent']))).toBeNull(); // the driver, but no balloon device
    expect(freePageReportingOrder(machine('5\n', null))).toBeNull(); // no balloon driver
    expect(freePageReportingOrder(machine(null, ['virtio0']))).toBeNull(); // no page_reporting module
    expect(freePageReportingOrder(machine('x\n', ['virtio0']))).toBeNull();
    // The setting itself, reporting or not: a run with the reporting turned off records 11.
    expect(pageReportingSetting(machine('11\n', ['virtio0']))).toBe(11);
    expect(pageReportingSetting(machine('5\n', ['bind', 'virtio1']))).toBe(5);
    expect(pageReportingSetting(machine('0\n', ['virtio3']))).toBe(0);
    expect(pageReportingSetting(machine('11\n', ['bind', 'uevent']))).toBeNull(); // no balloon device
    expect(pageReportingSetting(machine('11\n', null))).toBeNull();
    expect(pageReportingSetting(machine(null, ['virtio0']))).toBeNull();
    expect(pageReportingSetting(machine('-1\n', ['virtio0']))).toBeNull();
    expect(pageReportingSetting(machine('x\n', ['virtio0']))).toBeNull();
  });
});
