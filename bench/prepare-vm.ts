/**
 * `npm run bench:prepare-vm` (as root): readies a virtual machine whose balloon device reports
 * free memory to its host for comparable bench runs. Two steps:
 *
 * 1. **Free page reporting off**: writes 11 to `page_reporting_order` (orders above 10 report
 *    nothing on x86-64), so memory the guest frees from now on stays backed by the host.
 * 2. **Free memory touched once**: holds and writes all of `MemFree` but `--leave-mb` (default
 *    1,024 MiB), then lets it go. Memory reported before step 1 is no longer backed by the host:
 *    the first write to each of its pages costs a host page fault the guest does not see. Without
 *    this step those faults land on whichever phase's Postgres first writes into that memory
 *    (extending a table's files takes fresh page cache), the ceiling most. Memory left untouched
 *    (the last `--leave-mb`) may stay unbacked.
 *
 * Session 27 measured it on this project's 2-core machine (24 GiB): this script wrote 13.3 GiB of
 * free memory in 28.4 s (0.47 GiB/s) after a minute of reporting (order 9, the machine's default)
 * and 12.8 GiB in 6.4 s (1.99 GiB/s) right after. One `--rounds 3` run started right after such a
 * minute (order 11 set just before it) made the ceiling 326.8, 300.4 and 362.4 blocks/s in its
 * three rounds; the nine rounds of the three full runs after this script made 330.5–383.1 (README,
 * Performance: Comparable runs on a virtual machine). One cold run on one machine: evidence, not
 * proof, that these faults are the bench's "slow state"; the machine's speed still drifts.
 *
 * The script changes nothing else and needs no database. It prints what it did; run it again
 * after the machine has sat with reporting on. To give memory back to the host again (the
 * machine's normal state), write its default order back, for example
 * `echo 9 > /sys/module/page_reporting/parameters/page_reporting_order`.
 *
 * Exit codes: 0 done (or nothing to do: no balloon reporting); 1 a step failed (not root, too
 * little free memory) or an option is bad.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { MAX_REPORTED_ORDER, PAGE_REPORTING_ORDER_FILE, pageReportingSetting, REAL_SYS_FS, type SysFs } from './phases/cpu.js';
import { nonNegativeInteger } from './synthetic-chain.js';

/** The order written to turn free page reporting off: above MAX_ORDER − 1 (10 on x86-64), so no block of free memory is ever large enough to be reported. */
export const REPORTING_OFF_ORDER = MAX_REPORTED_ORDER + 1;

/** Bytes in one mebibyte. */
const MIB = 1024 * 1024;

/** Size of each piece of memory held and written, in bytes (256 MiB). */
export const TOUCH_CHUNK_BYTES = 256 * MIB;

/**
 * `MemFree` from the text of `/proc/meminfo`, in bytes.
 * @throws Error when the text has no `MemFree:` line in kB.
 */
export function memFreeBytes(meminfo: string): number {
  const match = /^MemFree:\s+(\d+) kB$/m.exec(meminfo);
  if (!match) throw new Error('/proc/meminfo has no "MemFree: <n> kB" line');
  return Number(match[1]) * 1024;
}

/**
 * How many {@link TOUCH_CHUNK_BYTES} pieces to hold and write: all of `freeBytes` but
 * `leaveBytes`, rounded down to whole pieces (0 when less than one piece is left over).
 */
export function touchChunks(freeBytes: number, leaveBytes: number, chunkBytes = TOUCH_CHUNK_BYTES): number {
  return Math.max(0, Math.floor((freeBytes - leaveBytes) / chunkBytes));
}

/** What step 1 does for a reporting order read by {@link pageReportingSetting}. */
export type ReportingStep = { kind: 'no-balloon' } | { kind: 'already-off'; order: number } | { kind: 'turn-off'; order: number };

/** Step 1's decision: nothing without a reporting balloon, nothing when the order is already above 10, else write {@link REPORTING_OFF_ORDER}. */
export function reportingStep(order: number | null): ReportingStep {
  if (order === null) return { kind: 'no-balloon' };
  return order > MAX_REPORTED_ORDER ? { kind: 'already-off', order } : { kind: 'turn-off', order };
}

/** Where the script reads and writes, and how it logs and tells time; tests give their own. */
export type PrepareIo = SysFs & { write(path: string, text: string): void; meminfo(): string; log(line: string): void; now(): number };

const REAL_IO: PrepareIo = {
  ...REAL_SYS_FS,
  write: (path, text) => writeFileSync(path, text),
  meminfo: () => readFileSync('/proc/meminfo', 'utf8'),
  log: (line) => process.stdout.write(`${line}\n`),
  now: () => performance.now(),
};

/** What {@link prepareVm} did: the reporting step, and the memory written (bytes) and how long it took (seconds). */
export type PrepareOutcome = { reporting: ReportingStep; touchedBytes: number; seconds: number };

/**
 * Runs both steps (file comment). `leaveBytes`: free memory left untouched. `touch` holds and
 * writes one piece of memory and returns it (the pieces are let go together at the end); tests
 * give a stand-in.
 * @throws Error naming the file when the reporting order cannot be written (not root), or when
 * less than one piece of memory is free beyond `leaveBytes`.
 */
export function prepareVm(leaveBytes: number, io: PrepareIo = REAL_IO, touch: (bytes: number) => unknown = touchMemory): PrepareOutcome {
  const reporting = reportingStep(pageReportingSetting(io));
  if (reporting.kind === 'no-balloon') {
    io.log('no virtio balloon reporting free memory here: nothing to prepare');
    return { reporting, touchedBytes: 0, seconds: 0 };
  }
  if (reporting.kind === 'turn-off') {
    try {
      io.write(PAGE_REPORTING_ORDER_FILE, `${REPORTING_OFF_ORDER}\n`);
    } catch (err) {
      throw new Error(`could not write ${REPORTING_OFF_ORDER} to ${PAGE_REPORTING_ORDER_FILE} (run as root): ${(err as Error).message}`);
    }
    io.log(`free page reporting turned off: ${PAGE_REPORTING_ORDER_FILE} ${reporting.order} → ${REPORTING_OFF_ORDER}`);
  } else {
    io.log(`free page reporting already off (${PAGE_REPORTING_ORDER_FILE} is ${reporting.order})`);
  }
  const free = memFreeBytes(io.meminfo());
  const chunks = touchChunks(free, leaveBytes);
  if (chunks === 0) throw new Error(`only ${Math.round(free / MIB)} MiB free, less than --leave-mb ${Math.round(leaveBytes / MIB)} + ${TOUCH_CHUNK_BYTES / MIB}: nothing to touch`);
  const held: unknown[] = [];
  const start = io.now();
  for (let i = 0; i < chunks; i++) held.push(touch(TOUCH_CHUNK_BYTES));
  const seconds = (io.now() - start) / 1000;
  held.length = 0;
  const touchedBytes = chunks * TOUCH_CHUNK_BYTES;
  const gib = touchedBytes / (1024 * MIB);
  io.log(`wrote ${gib.toFixed(1)} GiB of free memory (of ${(free / (1024 * MIB)).toFixed(1)} GiB) in ${seconds.toFixed(1)} s, ${(gib / Math.max(seconds, 0.001)).toFixed(2)} GiB/s (a second run much faster than this one means this one paid the host's page faults, which bench phases now will not)`);
  return { reporting, touchedBytes, seconds };
}

/** Holds `bytes` of fresh memory outside the JavaScript heap and writes every page of it. */
function touchMemory(bytes: number): Buffer {
  return Buffer.allocUnsafeSlow(bytes).fill(0x5a);
}

function main(): void {
  const opts = new Command('bench:prepare-vm')
    .description('Turns free page reporting off and writes the free memory once, so bench phases do not pay host page faults (run as root)')
    .option('--leave-mb <n>', 'MiB of free memory left untouched', nonNegativeInteger, 1024)
    .parse()
    .opts<{ leaveMb: number }>();
  prepareVm(opts.leaveMb * MIB);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    main();
  } catch (err) {
    process.stderr.write(`bench:prepare-vm: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
