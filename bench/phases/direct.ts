/**
 * Phase (d), the product's range activity without Temporal: `runIndexRange` (fetch, validate,
 * write in one transaction) called through the sync's own sliding window (`runWindow`: the same
 * batch sizes, adaptive or not, the same number of batches in flight, the same window options as
 * the workflow's new runs: next batches started before the cursor is saved, the last batches
 * shrunk), after the same first steps as the sync (the stored cursor read, the head read with
 * its round trip, the target from the finality setting) and with the cursor saved at each move,
 * each by the function its activity calls, so (d − c) / d is what Temporal costs. (Until session
 * 24 it began at block 0 without reading the cursor or the head, never saved the cursor and kept
 * full-size last batches: (d − c) / d counted those as Temporal's.) The bench runs it in a child process with the worker's malloc settings
 * ({@link runDirectProcess}), so (c) and (d) differ by Temporal (and by tsx against the compiled
 * build): in the bench process, with glibc's own settings, it paid about 1 ms less CPU per mainnet
 * block for its large buffers.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Kysely } from 'kysely';
import { connectDatabase } from '../../src/db/connect.js';
import { runIndexRange } from '../../src/activities/index-range.js';
import { readCursor, saveCursor } from '../../src/db/cursor-store.js';
import { syncTarget, type Finality } from '../../src/domain/finality.js';
import { fetchChainHead } from '../../src/rpc/chain-head.js';
import { workerFetchSlots } from '../../src/activities/index.js';
import { createDecodePool } from '../../src/decode/pool.js';
import type { Database } from '../../src/db/index.js';
import { createLogger } from '../../src/log.js';
import { createRpcPool } from '../../src/rpc/index.js';
import { runWindow } from '../../src/workflows/window.js';
import { cpuPerBlock, cpuSnapshot, watchAutovacuum, type CpuPerBlock } from './cpu.js';
import { REPO } from './common.js';
import { IMAGE_ENV } from './image-env.js';

/** Marks the child's protocol lines on its stdout, which its logger (pino) writes to as well. */
const PROTOCOL = '@bench-d ';
/** Longest phase (d) may take, in ms: its child is killed after it. */
const PHASE_TIMEOUT_MS = 2 * 60 * 60 * 1000;
/** How long a child that answered may take to exit on its own, in ms, before it is killed. */
const EXIT_GRACE_MS = 30_000;

/** What phase (d) needs besides the database: the chain server's URL and the product's config. */
export type DirectOptions = {
  url: string; chainId: number; blocks: number; batchSize: number; batchRows: number; concurrency: number; rpcTimeoutMs: number; fetchBufferBytes: number;
  /** As the config's `startBlock`, `finality` and `confirmationDepth` (START_BLOCK, FINALITY, CONFIRMATION_DEPTH): where the sync starts and what it may store. */
  startBlock: number; finality: Finality; confirmationDepth: number;
  /** As the config's `decodeThreads` (DECODE_THREADS): 0 none, null the default. */
  decodeThreads: number | null;
};

/**
 * Indexes blocks `0..blocks−1` from `url` as the sync's first pass does (chainSync in
 * src/workflows/sync-chain.ts: read the cursor, read the head, run the window to the target,
 * saving the cursor as it moves), without Temporal; returns the wall time in seconds.
 * @throws Error when the target is not block `blocks − 1`, when the window does not end `done` (a
 *   seam that does not link) or a batch fails.
 */
export async function runDirect(options: DirectOptions & { db: Kysely<Database> }): Promise<number> {
  const log = createLogger({ level: 'warn', pretty: false });
  const pool = createRpcPool({ urls: [options.url], timeoutMs: options.rpcTimeoutMs, log });
  const fetchSlots = workerFetchSlots(options.fetchBufferBytes); // as createActivities shares it over a worker's ranges
  const decodePool = options.decodeThreads === 0 ? undefined : createDecodePool(options.decodeThreads ?? undefined); // as the worker makes it
  const { db, chainId } = options;
  const startedAt = performance.now();
  let seconds: number;
  try {
    const cursor = (await readCursor(db, chainId)) ?? { blockNumber: options.startBlock - 1, blockHash: null };
    const { target } = syncTarget(await fetchChainHead(pool), options.finality, options.confirmationDepth);
    if (target !== options.blocks - 1) throw new Error(`phase d: the chain's target is block ${target}, not ${options.blocks - 1}`);
    const outcome = await runWindow({
      cursor,
      to: target,
      batchSize: options.batchSize,
      batchRows: options.batchRows,
      concurrency: options.concurrency,
      index: (range) => runIndexRange({ db, pool, chainId, log, fetchSlots, decodePool }, { chainId, ...range }),
      shouldStop: () => false,
      onAdvance: (next) => saveCursor(db, chainId, next),
      refillFirst: () => true,
      guidedTail: () => true,
    });
    // Timed to the last cursor saved, as phase (c) is: closing the pool and the decode thread is not indexing.
    seconds = (performance.now() - startedAt) / 1000;
    if (outcome.kind !== 'done') throw new Error(`phase d ended ${outcome.kind} at cursor ${outcome.cursor.blockNumber}`);
  } finally {
    pool.close();
    await decodePool?.close();
  }
  return seconds;
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
  // The options (with the database URL) go through the environment, not argv, which `ps` shows.
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', fileURLToPath(import.meta.url)], {
    cwd: REPO, env: { ...process.env, ...IMAGE_ENV, BENCH_DIRECT_OPTIONS: JSON.stringify(childOptions) }, stdio: ['pipe', 'pipe', 'pipe'],
  });
  const output: string[] = []; // stderr and stdout's log lines, for the error message
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
  child.stdin.on('error', () => undefined); // a child that died early: its exit and output say why
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ?? String(code)));
    child.once('error', (err) => resolve(err.message)); // could not be started
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), PHASE_TIMEOUT_MS);
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    for (;;) {
      const line = await lines.next();
      if (line.done) throw new Error(`phase d's process exited (${await exited}):\n${output.join('')}`);
      if (line.value.startsWith(PROTOCOL)) return JSON.parse(line.value.slice(PROTOCOL.length)) as Record<string, unknown>;
      output.push(`${line.value}\n`);
    }
  };
  let answered = false;
  let autovacuum: { stop(): number } | undefined;
  try {
    await next(); // ready: connected, modules loaded
    const before = cpuSnapshot([child.pid!]);
    autovacuum = watchAutovacuum();
    child.stdin.write('go\n');
    const answer = await next();
    const cpu = cpuPerBlock(before, cpuSnapshot([child.pid!]), options.blocks, autovacuum.stop());
    if (typeof answer.seconds !== 'number') throw new Error(`phase d failed: ${String(answer.error)}\n${output.join('')}`);
    answered = true;
    return { seconds: answer.seconds, cpuPerBlock: cpu };
  } finally {
    autovacuum?.stop();
    clearTimeout(timer);
    child.stdin.end();
    // A child that answered closes its database and exits (writing a --cpu-prof profile); any other is killed.
    const grace = answered ? setTimeout(() => child.kill('SIGTERM'), EXIT_GRACE_MS) : undefined;
    if (!answered && child.exitCode === null) child.kill('SIGTERM');
    await exited;
    clearTimeout(grace);
  }
}

/** The child's side: connect, say ready, run on "go" (return at once if stdin closes first), print the seconds (or the error), exit. */
async function childMain(): Promise<void> {
  const options = JSON.parse(process.env.BENCH_DIRECT_OPTIONS ?? '') as DirectOptions & { databaseUrl: string };
  const say = (message: Record<string, unknown>) => process.stdout.write(`${PROTOCOL}${JSON.stringify(message)}\n`);
  const db = connectDatabase(options.databaseUrl);
  try {
    await db.selectNoFrom((eb) => eb.val(1).as('one')).execute();
    say({ ready: true });
    const input = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
    if ((await input.next()).done) return; // the bench went away before the start signal
    try {
      say({ seconds: await runDirect({ ...options, db }) });
    } catch (err) {
      say({ error: err instanceof Error ? err.stack ?? err.message : String(err) });
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
