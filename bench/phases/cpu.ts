/**
 * CPU time of processes and of the whole machine, from Linux /proc, for the bench's CPU breakdown
 * (where a phase's per-block CPU goes: the worker, Postgres, the rest of the machine).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc times (USER_HZ; 100 on Linux for x86 and arm). */
const TICKS_PER_SECOND = 100;

/** CPU time (user + system) of process `pid` so far, in ms; 0 once it is gone. */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // after "pid (comm) "
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND; // utime, stime
  } catch {
    return 0;
  }
}

/** Pids of every process named `postgres` (the server's postmaster, backends and helpers). */
export function postgresPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Busy CPU time of the whole machine so far (all cores; everything but idle and iowait), in ms. */
export function machineBusyMs(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const n = ticks.map(Number);
  const total = n.reduce((a, b) => a + b, 0);
  return ((total - n[3]! - n[4]!) * 1000) / TICKS_PER_SECOND;
}

/** A snapshot to measure CPU from: the workers' and Postgres's process times and the machine's busy time. */
export type CpuSnapshot = { workers: number; postgres: Map<number, number>; machine: number };

/** Takes a snapshot for `workerPids`. */
export function cpuSnapshot(workerPids: readonly number[]): CpuSnapshot {
  return {
    workers: workerPids.reduce((sum, pid) => sum + processCpuMs(pid), 0),
    postgres: new Map(postgresPids().map((pid) => [pid, processCpuMs(pid)])),
    machine: machineBusyMs(),
  };
}

/** CPU per block between two snapshots, in ms: the workers, Postgres (backends that ended meanwhile are missed), the whole machine. */
export type CpuPerBlock = { workerMs: number; postgresMs: number; machineMs: number };

/** CPU per block between `before` and `after` over `blocks` blocks, in ms, one decimal. Pure. */
export function cpuPerBlock(before: CpuSnapshot, after: CpuSnapshot, blocks: number): CpuPerBlock {
  let postgres = 0;
  for (const [pid, ms] of after.postgres) postgres += ms - (before.postgres.get(pid) ?? 0);
  const per = (ms: number) => Math.round((ms / blocks) * 10) / 10;
  return { workerMs: per(after.workers - before.workers), postgresMs: per(postgres), machineMs: per(after.machine - before.machine) };
}
