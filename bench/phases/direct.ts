/**
 * Phase (d), the product's range activity without Temporal: `runIndexRange` (fetch, validate,
 * write in one transaction) called through the sync's own sliding window (`runWindow`: the same
 * batch sizes, adaptive or not, the same number of batches in flight), so (d − c) / d is what
 * Temporal costs. The bench runs it in a child process with the worker's malloc settings
 * ({@link runDirectProcess}), so (c) and (d) differ by Temporal alone: in the bench process, with
 * glibc's own settings, it paid about 1 ms less CPU per mainnet block for its large buffers.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Kysely } from 'kysely';
import { connectDatabase } from '../../src/db/connect.js';
import { runIndexRange } from '../../src/activities/index-range.js';
import { workerFetchSlots } from '../../src/activities/index.js';
import type { Database } from '../../src/db/index.js';
import { createLogger } from '../../src/log.js';
import { createRpcPool } from '../../src/rpc/index.js';
import { runWindow } from '../../src/workflows/window.js';
import { cpuPerBlock, cpuSnapshot, type CpuPerBlock } from './cpu.js';
import { IMAGE_ENV } from './product.js';

/** What phase (d) needs besides the database: the chain server's URL and the product's config. */
export type DirectOptions = { url: string; chainId: number; blocks: number; batchSize: number; batchRows: number; concurrency: number; rpcTimeoutMs: number; fetchBufferBytes: number };

/**
 * Indexes blocks `0..blocks−1` from `url`; returns the wall time in seconds.
 * @throws Error when the window does not end `done` (a seam that does not link) or a batch fails.
 */
export async function runDirect(options: DirectOptions & { db: Kysely<Database> }): Promise<number> {
  const log = createLogger({ level: 'warn', pretty: false });
  const pool = createRpcPool({ urls: [options.url], timeoutMs: options.rpcTimeoutMs, log });
  const fetchSlots = workerFetchSlots(options.fetchBufferBytes); // as createActivities shares it over a worker's ranges
  const startedAt = performance.now();
  try {
    const outcome = await runWindow({
      cursor: { blockNumber: -1, blockHash: null },
      to: options.blocks - 1,
      batchSize: options.batchSize,
      batchRows: options.batchRows,
      concurrency: options.concurrency,
      index: (range) => runIndexRange({ db: options.db, pool, chainId: options.chainId, log, fetchSlots }, { chainId: options.chainId, ...range }),
      shouldStop: () => false,
      onAdvance: async () => undefined,
    });
    if (outcome.kind !== 'done') throw new Error(`phase d ended ${outcome.kind} at cursor ${outcome.cursor.blockNumber}`);
  } finally {
    pool.close();
  }
  return (performance.now() - startedAt) / 1000;
}

/**
 * Runs {@link runDirect} in a child process (`node --import tsx` this file) with the image's
 * malloc settings ({@link IMAGE_ENV}), as the worker of phase (c) runs, writing to `databaseUrl`;
 * `nodeArgs` go before the script, as the bench gives them to the worker (`BENCH_WORKER_NODE_ARGS`).
 * @returns the wall seconds and the child's CPU per block (from its start signal to its answer).
 * @throws Error with the child's output when it fails or exits early.
 */
export async function runDirectProcess(options: DirectOptions & { databaseUrl: string; nodeArgs?: readonly string[] }): Promise<{ seconds: number; cpuPerBlock: CpuPerBlock }> {
  const { nodeArgs = [], ...childOptions } = options;
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', fileURLToPath(import.meta.url), JSON.stringify(childOptions)], {
    env: { ...process.env, ...IMAGE_ENV }, stdio: ['pipe', 'pipe', 'pipe'],
  });
  const errors: string[] = [];
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => errors.push(chunk));
  child.stdin.on('error', () => undefined); // a child that died early: its exit and stderr say why
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const next = async (): Promise<Record<string, unknown>> => {
    const line = await lines.next();
    if (line.done) throw new Error(`phase d's process exited (${await exited}):\n${errors.join('')}`);
    return JSON.parse(line.value) as Record<string, unknown>;
  };
  try {
    await next(); // {"ready": true}: connected, modules loaded
    const before = cpuSnapshot([child.pid!]);
    child.stdin.write('go\n');
    const answer = await next();
    const cpu = cpuPerBlock(before, cpuSnapshot([child.pid!]), options.blocks);
    if (typeof answer.seconds !== 'number') throw new Error(`phase d failed: ${String(answer.error)}`);
    return { seconds: answer.seconds, cpuPerBlock: cpu };
  } finally {
    child.stdin.end();
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  }
}

/** The child's side: connect, say ready, run on "go", print the seconds (or the error), exit. */
async function childMain(): Promise<void> {
  const options = JSON.parse(process.argv[2]!) as DirectOptions & { databaseUrl: string };
  const db = connectDatabase(options.databaseUrl);
  try {
    await db.selectNoFrom((eb) => eb.val(1).as('one')).execute();
    process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
    const input = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
    await input.next();
    try {
      process.stdout.write(`${JSON.stringify({ seconds: await runDirect({ ...options, db }) })}\n`);
    } catch (err) {
      process.stdout.write(`${JSON.stringify({ error: err instanceof Error ? err.stack ?? err.message : String(err) })}\n`);
    }
  } finally {
    await db.destroy();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  childMain().then(() => process.exit(0), (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}
