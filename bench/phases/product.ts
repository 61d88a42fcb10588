/**
 * Phase (c), the product: the worker as the Docker image runs it (compiled, `node dist/src/worker.js`,
 * with the image's {@link IMAGE_ENV}) as child processes (one per `workers`, each with its own
 * endpoint path `/w<i>`, i.e. its own request budget at the server) on one task queue of a Temporal
 * dev server, and the `chainSync` workflow started with the default configuration
 * (`parseConfig` defaults: batch size, window, confirmation depth), timed from the start until its
 * cursor, as the sync saves it in Postgres (`cursors`), reaches the last block (the row's
 * `updated_at`, when the sync saved it, not when a poll every PROGRESS_POLL_MS saw it): read there, not by
 * querying the workflow, whose query tasks (10 a second) loaded the Temporal server and the
 * worker being measured (about a third of the Temporal server's CPU in the mainnet run). Each worker's peak RSS is its VmHWM, reset once it serves
 * (so start-up is not counted). CPU per block of the workers, of Postgres and of the whole machine
 * is measured over the same span.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Client, Connection } from '@temporalio/client';
import { parseConfig } from '../../src/config/parse.js';
import pg from 'pg';
import { chainSyncWorkflowId, type ChainSyncInput } from '../../src/workflows/definitions.js';
import { startWorkerProcess, type GroupProcess } from '../../test/support/processes.js';
import { waitFor } from '../../test/support/stack.js';
import { cpuPerBlock, cpuSnapshot, watchAutovacuum, type CpuPerBlock } from './cpu.js';
import { REPO } from './common.js';
import { IMAGE_ENV } from './image-env.js';

/** The compiled worker the image runs (`npm run build`), relative to the repository. */
export const COMPILED_WORKER = 'dist/src/worker.js';

/**
 * Compiles src/ and migrations/ to dist/ as the Docker image does (`npm run build`: tsc with
 * tsconfig.build.json; about 10 s) and returns the worker's entry, relative to the repository.
 * @throws Error with tsc's output when the build fails.
 */
export function buildProduct(): string {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: REPO, stdio: 'pipe' });
  } catch (err) {
    const out = err as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`tsc -p tsconfig.build.json (npm run build) failed:\n${String(out.stdout ?? '')}${String(out.stderr ?? '')}`, { cause: err });
  }
  return COMPILED_WORKER;
}

/** How often the sync's progress is read while it runs, in ms (the resolution of the timing). */
const PROGRESS_POLL_MS = 100;
/** Longest a product run may take, in ms. */
const RUN_TIMEOUT_MS = 3 * 60 * 60 * 1000;

/** Result of one product run: wall seconds, the highest worker peak RSS in MB, CPU per block, the sync's input, and the ranges each worker ran (from the sync's history). */
export type ProductRun = { seconds: number; workerPeakRssMb: number; cpuPerBlock: CpuPerBlock; input: ChainSyncInput; rangesByWorker: RangesByWorker };

/**
 * Runs the sync of blocks `0..blocks−1` (the server must serve `blocks + confirmationDepth`
 * blocks so the default depth finality targets block `blocks − 1`).
 * `env` overrides worker/config variables (e.g. `CONCURRENCY`).
 */
export async function runProduct(options: {
  serverUrl: string; databaseUrl: string; temporalAddress: string; chainId: number; blocks: number; workers: number; env: Record<string, string>; nodeArgs?: readonly string[];
  /** The worker's entry file (default: src/worker.ts through tsx; the bench passes the compiled one, {@link buildProduct}). */
  entry?: string;
}): Promise<ProductRun> {
  const taskQueue = `bench-${Date.now()}`;
  const connection = await Connection.connect({ address: options.temporalAddress });
  const client = new Client({ connection });
  const workers: GroupProcess[] = [];
  const database = new pg.Client({ connectionString: options.databaseUrl });
  let autovacuum: { stop(): number } | undefined;
  try {
    for (let i = 1; i <= options.workers; i++) {
      workers.push(await startWorkerProcess({
        RPC_URL: `${options.serverUrl}/w${i}`, CHAIN_ID: String(options.chainId), DATABASE_URL: options.databaseUrl,
        TEMPORAL_ADDRESS: options.temporalAddress, TASK_QUEUE: taskQueue, INSTANCE_ID: `bench-w${i}-${process.pid}`, ...IMAGE_ENV, ...options.env,
      }, connection, 'default', [taskQueue], options.nodeArgs ?? [], options.entry));
    }
    for (const w of workers) writeFileSync(`/proc/${w.pid}/clear_refs`, '5'); // reset VmHWM
    const cfg = parseConfig({ RPC_URL: options.serverUrl, CHAIN_ID: String(options.chainId), ...options.env });
    const input: ChainSyncInput = {
      chainId: options.chainId, startBlock: cfg.startBlock, batchSize: cfg.batchSize, batchRows: cfg.batchRows, concurrency: cfg.concurrency, confirmationDepth: cfg.confirmationDepth,
      finality: cfg.finality, pollIntervalMs: cfg.pollIntervalMs, maxRetries: cfg.maxRetries, gapCheckIntervalMs: cfg.gapCheckIntervalMs,
    };
    await database.connect();
    // The stored cursor and when the sync saved it: `updated_at` is the saving statement's now(),
    // on this machine's clock as Date.now() is.
    let savedAtMs = Number.NaN;
    const savedCursor = async (): Promise<number> => {
      const { rows } = await database.query<{ block_number: string; saved_ms: string }>('select block_number, extract(epoch from updated_at) * 1000 as saved_ms from cursors where chain_id = $1', [options.chainId]);
      if (rows.length === 0) return -1;
      savedAtMs = Number(rows[0]!.saved_ms);
      return Number(rows[0]!.block_number);
    };
    const cpuBefore = cpuSnapshot(workers.map((w) => w.pid));
    autovacuum = watchAutovacuum();
    const startedAtMs = Date.now();
    const handle = await client.workflow.start('chainSync', { workflowId: chainSyncWorkflowId(options.chainId), taskQueue, args: [input] });
    const outcome = await waitFor(`the sync to store block ${options.blocks - 1}`, async () => {
      if (workers.some((w) => w.exitReason() !== undefined)) return 'exited' as const;
      return (await savedCursor()) >= options.blocks - 1 ? ('stored' as const) : false;
    }, { timeoutMs: RUN_TIMEOUT_MS, intervalMs: PROGRESS_POLL_MS });
    const dead = workers.find((w) => w.exitReason() !== undefined);
    if (outcome === 'exited' && dead) throw new Error(`worker ${dead.pid} exited (${dead.exitReason()}):\n${dead.tail.join('\n')}`);
    const seenAtMs = Date.now();
    // Timed to the moment the cursor was saved, not to when this poll saw it (up to
    // PROGRESS_POLL_MS and a query later), as phase (d) stops its clock when its window ends; the
    // poll's time if the clock stepped meanwhile.
    const seconds = ((savedAtMs > startedAtMs && savedAtMs <= seenAtMs ? savedAtMs : seenAtMs) - startedAtMs) / 1000;
    const cpu = cpuPerBlock(cpuBefore, cpuSnapshot(workers.map((w) => w.pid)), options.blocks, autovacuum.stop());
    const workerPeakRssMb = Math.max(...workers.map((w) => peakRssMb(w.pid)));
    await handle.terminate('bench run finished');
    const rangesByWorker = rangesPerWorker((await handle.fetchHistory()).events ?? []);
    return { seconds, workerPeakRssMb, cpuPerBlock: cpu, input, rangesByWorker };
  } finally {
    autovacuum?.stop();
    await Promise.all(workers.map((w) => w.stop()));
    await connection.close();
    await database.end().catch(() => undefined);
  }
}

/** Ranges (`indexRange` activities) and their blocks, by the identity of the worker that ran them (`bench-w<i>-…`), as a sync's history records them. */
export type RangesByWorker = Record<string, { ranges: number; blocks: number }>;

/**
 * What each worker ran, from a workflow history's `ActivityTaskScheduled` (the range, from the
 * JSON payload of its input) and `ActivityTaskStarted` (the identity of the worker of the last
 * attempt) events; ranges not started yet are left out. Pure.
 */
export function rangesPerWorker(events: readonly { eventId?: unknown; activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null; input?: { payloads?: { data?: Uint8Array | null }[] | null } | null } | null; activityTaskStartedEventAttributes?: { scheduledEventId?: unknown; identity?: string | null } | null }[]): RangesByWorker {
  const blocksOf = new Map<string, number>();
  for (const e of events) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name !== 'indexRange') continue;
    const data = scheduled.input?.payloads?.[0]?.data;
    const range = data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { from: number; to: number }) : null;
    if (range) blocksOf.set(String(e.eventId), range.to - range.from + 1);
  }
  const byWorker: RangesByWorker = {};
  for (const e of events) {
    const started = e.activityTaskStartedEventAttributes;
    const blocks = started ? blocksOf.get(String(started.scheduledEventId)) : undefined;
    if (!started || blocks === undefined) continue;
    const worker = (byWorker[started.identity ?? '?'] ??= { ranges: 0, blocks: 0 });
    worker.ranges += 1;
    worker.blocks += blocks;
  }
  return byWorker;
}

/** VmHWM of process `pid` in MB (Linux /proc). */
function peakRssMb(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Math.round(Number(match[1]) / 1024) : NaN;
}
