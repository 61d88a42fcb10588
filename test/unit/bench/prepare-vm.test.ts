import { describe, expect, it } from 'vitest';
import { BALLOON_DRIVER_DIR, PAGE_REPORTING_ORDER_FILE } from '../../../bench/phases/cpu.js';
import { memFreeBytes, prepareVm, reportingStep, touchChunks, TOUCH_CHUNK_BYTES, type PrepareIo } from '../../../bench/prepare-vm.js';

const MIB = 1024 * 1024;

/** A machine with a balloon device whose reporting order is `order` (null: no page_reporting module), `freeKiB` free, and a clock that moves 500 ms per read. */
function machine(order: string | null, freeKiB: number, writable = true) {
  const writes: [string, string][] = [];
  const lines: string[] = [];
  let clock = 0;
  const io: PrepareIo = {
    read: (path) => {
      if (path !== PAGE_REPORTING_ORDER_FILE || order === null) throw new Error(`ENOENT: ${path}`);
      return order;
    },
    list: (dir) => {
      if (dir !== BALLOON_DRIVER_DIR) throw new Error(`ENOENT: ${dir}`);
      return ['bind', 'virtio3'];
    },
    write: (path, text) => {
      if (!writable) throw new Error(`EACCES: permission denied, open '${path}'`);
      writes.push([path, text]);
    },
    meminfo: () => `MemTotal:       24684000 kB\nMemFree:        ${freeKiB} kB\nMemAvailable:   23000000 kB\n`,
    log: (line) => lines.push(line),
    now: () => (clock += 500),
  };
  return { io, writes, lines };
}

describe('bench:prepare-vm', () => {
  it('memFreeBytes() reads MemFree in bytes and refuses text without it', () => {
    expect(memFreeBytes('MemTotal: 100 kB\nMemFree:        14680064 kB\nBuffers: 1 kB\n')).toBe(14_680_064 * 1024);
    expect(() => memFreeBytes('MemTotal: 100 kB\n')).toThrow('/proc/meminfo has no "MemFree: <n> kB" line');
  });

  it('touchChunks() is whole 256 MiB pieces of the free memory beyond what is left, never below 0', () => {
    expect(TOUCH_CHUNK_BYTES).toBe(256 * MIB);
    expect(touchChunks(14 * 1024 * MIB, 1024 * MIB)).toBe(52);
    expect(touchChunks(1024 * MIB + 256 * MIB - 1, 1024 * MIB)).toBe(0);
    expect(touchChunks(1024 * MIB + 256 * MIB, 1024 * MIB)).toBe(1);
    expect(touchChunks(512 * MIB, 1024 * MIB)).toBe(0);
  });

  it('reportingStep() turns reporting off at orders up to 10, leaves it above, and does nothing without a balloon', () => {
    expect(reportingStep(null)).toEqual({ kind: 'no-balloon' });
    expect(reportingStep(0)).toEqual({ kind: 'turn-off', order: 0 });
    expect(reportingStep(9)).toEqual({ kind: 'turn-off', order: 9 });
    expect(reportingStep(10)).toEqual({ kind: 'turn-off', order: 10 });
    expect(reportingStep(11)).toEqual({ kind: 'already-off', order: 11 });
  });

  it('prepareVm() writes order 11 first, then holds every piece at once and lets them go, and says how fast the memory was written', () => {
    const { io, writes, lines } = machine('9\n', 2 * 1024 * 1024); // 2 GiB free: 4 pieces beyond 1 GiB
    const held: number[] = [];
    const writesBeforeEachTouch: number[] = [];
    const outcome = prepareVm(1024 * MIB, io, (bytes) => {
      writesBeforeEachTouch.push(writes.length);
      return held.push(bytes);
    });
    expect(writesBeforeEachTouch).toEqual([1, 1, 1, 1]); // reporting off before any memory is written, or the host could take it back again
    expect(writes).toEqual([[PAGE_REPORTING_ORDER_FILE, '11\n']]);
    expect(held).toEqual([TOUCH_CHUNK_BYTES, TOUCH_CHUNK_BYTES, TOUCH_CHUNK_BYTES, TOUCH_CHUNK_BYTES]);
    expect(outcome).toEqual({ reporting: { kind: 'turn-off', order: 9 }, touchedBytes: 4 * TOUCH_CHUNK_BYTES, seconds: 0.5 });
    expect(lines).toEqual([
      `free page reporting turned off: ${PAGE_REPORTING_ORDER_FILE} 9 → 11`,
      "wrote 1.0 GiB of free memory (of 2.0 GiB) in 0.5 s, 2.00 GiB/s (a second run much faster than this one means this one paid the host's page faults, which bench phases now will not)",
    ]);
  });

  it('prepareVm() leaves an order above 10 as it is, and does nothing where no balloon reports', () => {
    const off = machine('11\n', 2 * 1024 * 1024);
    expect(prepareVm(1024 * MIB, off.io, () => null).reporting).toEqual({ kind: 'already-off', order: 11 });
    expect(off.writes).toEqual([]);
    expect(off.lines[0]).toBe(`free page reporting already off (${PAGE_REPORTING_ORDER_FILE} is 11)`);
    const none = machine(null, 2 * 1024 * 1024);
    let touched = 0;
    expect(prepareVm(1024 * MIB, none.io, () => (touched += 1))).toEqual({ reporting: { kind: 'no-balloon' }, touchedBytes: 0, seconds: 0 });
    expect(touched).toBe(0);
    expect(none.lines).toEqual(['no virtio balloon reporting free memory here: nothing to prepare']);
  });

  it('prepareVm() names the file it could not write (not root), and refuses when too little is free, before touching anything', () => {
    let touched = 0;
    const count = () => (touched += 1);
    expect(() => prepareVm(1024 * MIB, machine('9\n', 2 * 1024 * 1024, false).io, count)).toThrow(
      `could not write 11 to ${PAGE_REPORTING_ORDER_FILE} (run as root): EACCES: permission denied, open '${PAGE_REPORTING_ORDER_FILE}'`,
    );
    expect(() => prepareVm(1024 * MIB, machine('11\n', 1024 * 1024 + 1024).io, count)).toThrow('only 1025 MiB free, less than --leave-mb 1024 + 256: nothing to touch');
    expect(touched).toBe(0);
  });
});
