/**
 * What the bench phases share: the measurement record, the chain server child process with its
 * stats, row counting and table truncation. Bench support only: `src/` never imports it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/db/index.js';
import type { ServerStats } from '../chain/server.js';
import type { CpuPerBlock } from './cpu.js';

/** The repository's root folder (the bench's child processes run there). */
export const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** How long the chain server may take to serialize its cache and listen, in ms. */
const SERVER_START_TIMEOUT_MS = 600_000;

/** Rows of the four chain tables. */
export type RowCounts = { blocks: number; transactions: number; logs: number; withdrawals: number };

/** One phase's result. Rates per second of wall time; `rpcRequestsPerBlock` counts HTTP requests. */
export type PhaseResult = {
  blocks: number;
  seconds: number;
  blocksPerSecond: number;
  rowsPerSecond: number;
  rows: RowCounts;
  /** Stored rows equal the generated ones, table by table. */
  rowsMatch: boolean;
  rpcRequestsPerBlock: number | null;
  rpcCallsPerBlock: number | null;
  /** CPU the chain server spent during the phase, in ms (it must stay far from the bottleneck). */
  serverCpuMs: number | null;
  /** Worker processes (phase c) and their highest peak RSS in MB during the phase. */
  workers?: number;
  workerPeakRssMb?: number;
  /** Phase c: CPU per block in ms of the worker processes, of Postgres and of the whole machine (all cores). */
  cpuPerBlock?: CpuPerBlock;
  /** Phase a: CPU per block of every `postgres` process during the timed writes, in ms. */
  postgresMsPerBlock?: number;
  /** Phase a: CPU per block of Postgres's autovacuum workers during the timed writes, in ms (`watchAutovacuum`). */
  autovacuumMsPerBlock?: number;
  /** Phase c: ranges and blocks each worker ran, by its identity (from the sync's history). */
  rangesByWorker?: Record<string, { ranges: number; blocks: number }>;
};

/** Sum of the four counts. */
export function totalRows(c: RowCounts): number {
  return c.blocks + c.transactions + c.logs + c.withdrawals;
}

/** Builds a phase result from the wall time and the stored rows compared with `expected`. */
export function phaseResult(blocks: number, seconds: number, stored: RowCounts, expected: RowCounts, rpc: { before: ServerStats; after: ServerStats } | null): PhaseResult {
  const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
  return {
    blocks,
    seconds: round(seconds, 2),
    blocksPerSecond: round(blocks / seconds),
    rowsPerSecond: Math.round(totalRows(stored) / seconds),
    rows: stored,
    rowsMatch: (['blocks', 'transactions', 'logs', 'withdrawals'] as const).every((t) => stored[t] === expected[t]),
    rpcRequestsPerBlock: rpc ? round((rpc.after.httpRequests - rpc.before.httpRequests) / blocks, 2) : null,
    rpcCallsPerBlock: rpc ? round((rpc.after.calls - rpc.before.calls) / blocks, 2) : null,
    serverCpuMs: rpc ? rpc.after.cpuMs - rpc.before.cpuMs : null,
  };
}

/** Counts the stored rows of chain `chainId`. */
export async function countRows(db: Kysely<Database>, chainId: number): Promise<RowCounts> {
  const count = async (table: 'blocks' | 'transactions' | 'logs' | 'withdrawals') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).where('chain_id', '=', chainId).executeTakeFirstOrThrow()).n);
  return { blocks: await count('blocks'), transactions: await count('transactions'), logs: await count('logs'), withdrawals: await count('withdrawals') };
}

/** Empties the chain tables and cursors (between phases; the indexes stay). */
export async function truncateChainTables(db: Kysely<Database>): Promise<void> {
  await sql`truncate blocks, transactions, logs, withdrawals, cursors`.execute(db);
}

/** The chain server running as a child process (so its CPU is not the indexer's). */
export type ChainServerProcess = { url: string; pid: number; stats(): Promise<ServerStats>; stop(): Promise<void> };

/**
 * Starts `bench/synthetic-chain.ts` with `args` and waits for its `{"url": …}` line.
 * @throws Error with its output when it exits first or does not listen within 10 minutes.
 */
export async function startChainServer(args: readonly string[]): Promise<ChainServerProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'bench/synthetic-chain.ts', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the chain server did not listen in time')), SERVER_START_TIMEOUT_MS);
    child.once('exit', (code) => reject(new Error(`the chain server exited with ${code}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { url: string }).url);
    });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url,
    pid: child.pid!,
    stats: async () => (await (await fetch(`${url}/stats`)).json()) as ServerStats,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Cuts blocks `0..blocks−1` into inclusive ranges of `size`. */
export function ranges(blocks: number, size: number): { from: number; to: number }[] {
  const out: { from: number; to: number }[] = [];
  for (let from = 0; from < blocks; from += size) out.push({ from, to: Math.min(blocks - 1, from + size - 1) });
  return out;
}
