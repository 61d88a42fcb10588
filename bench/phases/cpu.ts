/**
 * CPU time of processes and of the whole machine, from Linux /proc, for the bench's CPU breakdown
 * (where a phase's per-block CPU goes: the worker, Postgres, the rest of the machine).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc times (USER_HZ; 100 on Linux for x86 and arm). */
const TICKS_PER_SECOND = 100;

/** CPU time (user + system) of process `pid` so far, all its threads, in ms; 0 once it is gone. */
export function processCpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/stat`);
}

/**
 * CPU time (user + system) of the main thread of process `pid` so far (the thread whose id is the
 * pid: Node's JavaScript thread), in ms; 0 once it is gone. The rest of a Node process's time is
 * its other threads: V8's helpers (concurrent and parallel garbage collection, compilation), worker
 * threads (a Temporal worker's workflow thread), the Temporal Core runtime's threads.
 */
export function mainThreadCpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/task/${pid}/stat`);
}

/** utime + stime of a `/proc/…/stat` file, in ms; 0 when it cannot be read. */
function statCpuMs(path: string): number {
  try {
    const stat = readFileSync(path, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // after "pid (comm) "
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND; // utime, stime
  } catch {
    return 0;
  }
}

/** Pids of every process whose name (`/proc/<pid>/comm`) is `name`: `postgres` (postmaster, backends, helpers), `temporal` (the dev server). */
export function pidsNamed(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/**
 * CPU time of the whole machine so far (all cores), in ms: `busy` is everything but idle, iowait
 * and steal; `steal` is what the hypervisor gave to other guests (a shared VM's cores are not all ours).
 */
export function machineCpuMs(): { busy: number; steal: number } {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  // user nice system idle iowait irq softirq steal (guest and guest_nice are inside user and nice)
  const [user, nice, system, , , irq, softirq, steal] = ticks.map(Number) as number[];
  const ms = (t: number) => (t * 1000) / TICKS_PER_SECOND;
  return { busy: ms(user! + nice! + system! + irq! + softirq!), steal: ms(steal ?? 0) };
}

/** A snapshot to measure CPU from: the workers', Postgres's and the Temporal server's process times, and the machine's. */
export type CpuSnapshot = { workers: number; workersMain: number; postgres: Map<number, number>; temporal: Map<number, number>; machine: { busy: number; steal: number } };

/** CPU time so far of every process named `name` ({@link pidsNamed}), in ms, by pid. */
export function cpuOfProcessesNamed(name: string): Map<number, number> {
  return new Map(pidsNamed(name).map((pid) => [pid, processCpuMs(pid)]));
}

/** CPU spent between two {@link cpuOfProcessesNamed} readings, in ms (a process new since `was` counts from 0, one gone is missed). Pure. */
export function spentMs(was: ReadonlyMap<number, number>, now: ReadonlyMap<number, number>): number {
  let ms = 0;
  for (const [pid, t] of now) ms += t - (was.get(pid) ?? 0);
  return ms;
}

/** The ids of `pid`'s children (Linux's `/proc/<pid>/task/<pid>/children`); none once it is gone. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The parent of process `pid` (field 4 of `/proc/<pid>/stat`); 0 once it is gone. */
function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/**
 * CPU so far of every Postgres autovacuum worker running now (`postgres: autovacuum worker …`, a
 * child of a postmaster in `postmasters`), in ms, by pid. `roles` remembers which children are
 * autovacuum workers, so a sample reads the postmasters' children lists and the workers' times only.
 */
function autovacuumWorkersCpu(postmasters: readonly number[], roles: Map<number, boolean>): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const pid of postmasters.flatMap(childrenOf)) {
    let autovacuum = roles.get(pid);
    if (autovacuum === undefined) {
      try {
        autovacuum = readFileSync(`/proc/${pid}/cmdline`, 'latin1').startsWith('postgres: autovacuum worker');
      } catch {
        continue; // gone meanwhile
      }
      roles.set(pid, autovacuum);
    }
    if (autovacuum) cpu.set(pid, processCpuMs(pid));
  }
  return cpu;
}

/**
 * Watches Postgres's autovacuum workers from now on, every `intervalMs`: they come and go within
 * a phase, so two snapshots (`postgresMs`) miss those that ended, yet they compete with the phase
 * for the CPU. `stop()` ends the watch and returns the CPU they spent meanwhile, in ms (up to one
 * interval of a worker that ended is missed); calling it again returns that again.
 */
export function watchAutovacuum(intervalMs = 250): { stop(): number } {
  const postgres = new Set(pidsNamed('postgres'));
  const postmasters = [...postgres].filter((pid) => !postgres.has(parentOf(pid)));
  const roles = new Map<number, boolean>();
  const before = autovacuumWorkersCpu(postmasters, roles);
  const last = new Map(before);
  const sample = () => {
    for (const [pid, ms] of autovacuumWorkersCpu(postmasters, roles)) last.set(pid, ms);
  };
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      let ms = 0;
      for (const [pid, t] of last) ms += t - (before.get(pid) ?? 0);
      return ms;
    },
  };
}

/** Takes a snapshot for `workerPids`. */
export function cpuSnapshot(workerPids: readonly number[]): CpuSnapshot {
  return {
    workers: workerPids.reduce((sum, pid) => sum + processCpuMs(pid), 0),
    workersMain: workerPids.reduce((sum, pid) => sum + mainThreadCpuMs(pid), 0),
    postgres: cpuOfProcessesNamed('postgres'),
    temporal: cpuOfProcessesNamed('temporal'),
    machine: machineCpuMs(),
  };
}

/**
 * CPU per block between two snapshots, in ms: the workers (`workerMainMs` of it in their main
 * threads, the rest in their other threads, mostly V8's garbage collection helpers), Postgres
 * (backends that ended meanwhile are missed), the Temporal dev server, the whole machine (busy),
 * and the time the hypervisor stole.
 */
export type CpuPerBlock = {
  workerMs: number; workerMainMs: number; postgresMs: number; temporalMs: number; machineMs: number; stolenMs: number;
  /** Postgres's autovacuum workers ({@link watchAutovacuum}; mostly not in `postgresMs`, which misses processes that ended). */
  autovacuumMs?: number;
};

/** CPU per block between `before` and `after` over `blocks` blocks, in ms, two decimals (the Temporal server and the chain server spend about 0.2 ms); `autovacuumMs`, when given, is what {@link watchAutovacuum} saw meanwhile. Pure. */
export function cpuPerBlock(before: CpuSnapshot, after: CpuSnapshot, blocks: number, autovacuumMs?: number): CpuPerBlock {
  const per = (ms: number) => Math.round((ms / blocks) * 100) / 100;
  return {
    ...(autovacuumMs === undefined ? {} : { autovacuumMs: per(autovacuumMs) }),
    workerMs: per(after.workers - before.workers),
    workerMainMs: per(after.workersMain - before.workersMain),
    postgresMs: per(spentMs(before.postgres, after.postgres)),
    temporalMs: per(spentMs(before.temporal, after.temporal)),
    machineMs: per(after.machine.busy - before.machine.busy),
    stolenMs: per(after.machine.steal - before.machine.steal),
  };
}

/** Where Linux shows the smallest block of free memory (2^order pages) a virtio balloon reports to its host. */
export const PAGE_REPORTING_ORDER_FILE = '/sys/module/page_reporting/parameters/page_reporting_order';
/** The virtio balloon driver's directory: it lists the devices bound to it (`virtio<N>`). */
export const BALLOON_DRIVER_DIR = '/sys/bus/virtio/drivers/virtio_balloon';

/** What {@link pageReportingSetting} and {@link freePageReportingOrder} read: a file's text, a folder's names (both throw when missing). */
export type SysFs = { read(path: string): string; list(dir: string): string[] };

/** The machine's own `/sys`, read with `readFileSync` and `readdirSync`. */
export const REAL_SYS_FS: SysFs = { read: (path) => readFileSync(path, 'utf8'), list: (dir) => readdirSync(dir) };

/** The largest free page reporting order that reports anything: MAX_ORDER − 1 on x86-64 (Linux's buddy allocator has no larger free blocks). */
export const MAX_REPORTED_ORDER = 10;

/**
 * The free page reporting order set on this machine (`page_reporting_order`, an integer ≥ 0: the
 * smallest block of free memory, 2^order pages, reported to the host), when it has a virtio
 * balloon device; null when it has none, or no page_reporting module, or the file holds no
 * integer. Unlike {@link freePageReportingOrder} it keeps orders above 10, which report nothing:
 * a run made with the reporting turned off (order 11, as session 19's were) says so in its result.
 */
export function pageReportingSetting(fs: SysFs = REAL_SYS_FS): number | null {
  let order: number;
  let balloons: string[];
  try {
    order = Number(fs.read(PAGE_REPORTING_ORDER_FILE).trim());
    balloons = fs.list(BALLOON_DRIVER_DIR).filter((name) => name.startsWith('virtio'));
  } catch {
    return null; // no page_reporting module or no balloon driver: not such a virtual machine
  }
  return balloons.length > 0 && Number.isInteger(order) && order >= 0 ? order : null;
}

/**
 * The order of free page reporting, when this machine is a virtual machine whose balloon driver
 * reports free memory to its host (Linux's virtio_balloon with page reporting: the host takes the
 * pages back, and touching them again costs host page faults the guest cannot see); null when
 * there is no such reporting. Orders above 10 (MAX_ORDER − 1 on x86-64) report nothing.
 * Session 18 measured the first `--phases c` run after a minute's pause: with order 5 (this
 * machine's), Postgres at 5.0 ms per mainnet block in three runs (4.8–5.6 in six earlier ones);
 * with order 11, 3.7–4.1 in four; and full runs with order 11 had the ceiling at 494–552 blocks/s
 * against 360–400 with 5 (README, Performance: Latest runs).
 */
export function freePageReportingOrder(fs: SysFs = REAL_SYS_FS): number | null {
  const order = pageReportingSetting(fs);
  return order !== null && order <= MAX_REPORTED_ORDER ? order : null;
}
