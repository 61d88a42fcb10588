/**
 * Child processes for crash tests on the real stack: the indexer worker (`src/worker.ts`) and a
 * Temporal dev server (the pinned CLI, SQLite file) as killable process groups, and a restart of
 * the Postgres cluster that `scripts/stack up` started. Test support only: `src/` never imports it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import pg from 'pg';
import { freePort, killGroup, retryOnPortTaken } from './devnet.js';
import { TEMPORAL_DEV_SERVER_ARGS, temporalCliPath, waitFor } from './stack.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** Lines of a child's output kept for error messages. */
const OUTPUT_TAIL_LINES = 40;
/** How long a child gets to start serving, in ms (the worker bundles the workflows first). */
const STARTUP_TIMEOUT_MS = 120_000;
/** How long stop() waits after SIGTERM before SIGKILL, in ms. */
const STOP_GRACE_MS = 10_000;

/** A child process running in its own process group. */
export type GroupProcess = {
  readonly pid: number;
  /** Output lines (stdout and stderr) kept for error messages. */
  readonly tail: readonly string[];
  /** Exit description once it exited (`code 1`, `SIGKILL`), else undefined. */
  exitReason(): string | undefined;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  /** Sends `signal` to the whole group and waits until the process exited. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** SIGTERM to the group, SIGKILL after 10 s; idempotent. */
  stop(): Promise<void>;
};

const live = new Set<GroupProcess>();
process.once('exit', () => {
  for (const child of live) killGroup(child.pid, 'SIGKILL');
});

/** Spawns `command` detached (its own process group), keeping the tail of its output. */
function spawnGroup(command: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv }): GroupProcess {
  const child: ChildProcess = spawn(command, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not spawn ${command}`);
  const pid = child.pid;
  const tail: string[] = [];
  keepTail(child.stdout, tail);
  keepTail(child.stderr, tail);
  let reason: string | undefined;
  let handle: GroupProcess | undefined;
  const exited = new Promise<void>((resolve) => {
    const done = (why: string) => {
      reason ??= why;
      if (handle) live.delete(handle);
      resolve();
    };
    child.once('error', (err) => done(`failed to spawn: ${err.message}`));
    child.once('exit', (code, signal) => done(signal ?? `code ${code}`));
  });
  // Signals go to the group only while its leader runs, so a recycled id is never hit.
  const signalGroup = (signal: NodeJS.Signals) => {
    if (reason === undefined) killGroup(pid, signal);
  };
  handle = {
    pid,
    tail,
    exitReason: () => reason,
    exited,
    kill: async (signal) => {
      signalGroup(signal);
      await exited;
    },
    stop: async () => {
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    },
  };
  live.add(handle);
  return handle;
}

// ----------------------------------------------------------------------------------------- worker

/** Environment of a worker child: what `src/worker.ts` reads; one chain (`RPC_URL` + `CHAIN_ID`) or a `CHAINS_FILE`. */
export type WorkerEnv = ({ RPC_URL: string; CHAIN_ID: string } | { CHAINS_FILE: string }) & {
  DATABASE_URL: string;
  TEMPORAL_ADDRESS: string;
  TASK_QUEUE: string;
  /** Unique per spawn: readiness is seen as a poller with this identity on the task queue. */
  INSTANCE_ID: string;
} & Record<string, string>;

/**
 * Runs `node [nodeArgs] --import tsx src/worker.ts` (or `node [nodeArgs] <entry>` for a compiled
 * `entry` such as `dist/src/worker.js`, relative to the repository) with `env` (plus PATH, HOME and LOG_LEVEL=warn) in its
 * own process group and waits until Temporal lists it (identity `env.INSTANCE_ID`) as a poller
 * of both the workflow and the activity task queue of each of `taskQueues` (default: `TASK_QUEUE`;
 * a worker with a chains file polls one queue per chain).
 * @throws Error with the worker's last output when it exits or does not poll within 2 minutes.
 */
export async function startWorkerProcess(
  env: WorkerEnv, connection: Connection, namespace = 'default', taskQueues: readonly string[] = [env.TASK_QUEUE], nodeArgs: readonly string[] = [],
  entry = 'src/worker.ts',
): Promise<GroupProcess> {
  const child = spawnGroup(process.execPath, entry.endsWith('.ts') ? [...nodeArgs, '--import', 'tsx', entry] : [...nodeArgs, entry], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', ...env },
  });
  let outcome: 'polling' | 'exited';
  try {
    outcome = await waitFor(`worker ${env.INSTANCE_ID} to poll task queue${taskQueues.length > 1 ? 's' : ''} ${taskQueues.join(', ')}`, async () => {
      if (child.exitReason() !== undefined) return 'exited' as const;
      for (const name of taskQueues) {
        for (const taskQueueType of [1, 2] as const) { // TASK_QUEUE_TYPE_WORKFLOW, TASK_QUEUE_TYPE_ACTIVITY
          const { pollers } = await connection.workflowService.describeTaskQueue({ namespace, taskQueue: { name }, taskQueueType });
          if (!pollers?.some((p) => p.identity === env.INSTANCE_ID)) return false;
        }
      }
      return 'polling' as const;
    }, { timeoutMs: STARTUP_TIMEOUT_MS, intervalMs: 100 });
  } catch (err) {
    await child.stop();
    throw new Error(`${(err as Error).message}; worker output:\n${child.tail.join('\n')}`, { cause: err });
  }
  if (outcome === 'exited') throw new Error(`worker ${env.INSTANCE_ID} exited (${child.exitReason()}) before serving:\n${child.tail.join('\n')}`);
  return child;
}

// ---------------------------------------------------------------------------------------- temporal

/** A Temporal dev server child with its state in an SQLite file, restartable on the same port. */
export type TemporalServer = {
  /** host:port of the frontend. */
  readonly address: string;
  readonly port: number;
  /** The current server process. */
  process(): GroupProcess;
  /** Kills the server with `signal` and waits until it exited. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and SQLite file and waits until it serves. */
  start(): Promise<void>;
  /** Stops it (SIGTERM, then SIGKILL); idempotent. */
  stop(): Promise<void>;
};

/**
 * Starts `temporal server start-dev` (the pinned CLI) on 127.0.0.1, a free port, headless, with
 * its state in `dbFile`, and waits until the frontend answers and the `default` namespace exists.
 * A first start whose port another process took is tried again on new ports (retryOnPortTaken).
 */
export async function startTemporalServer(options: { dbFile: string }): Promise<TemporalServer> {
  return retryOnPortTaken(async () => startTemporalServerOn(await freePort(), await freePort(), options));
}

async function startTemporalServerOn(port: number, uiPort: number, options: { dbFile: string }): Promise<TemporalServer> {
  const address = `127.0.0.1:${port}`;
  // A namespace of this server only: another test file's server that took the port first (freePort's race)
  // answers for `default`, never for it.
  const readyNamespace = `ready-${randomUUID()}`;
  let current: GroupProcess | undefined;
  const start = async () => {
    const child = spawnGroup(temporalCliPath(), [
      'server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort), '--headless', '--namespace', readyNamespace,
      '--db-filename', options.dbFile, '--log-level', 'error', ...TEMPORAL_DEV_SERVER_ARGS,
    ], { cwd: REPO, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' } });
    current = child;
    const outcome = await waitFor(`the Temporal dev server at ${address}`, async () => {
      if (child.exitReason() !== undefined) return 'exited' as const;
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        await connection.workflowService.describeNamespace({ namespace: readyNamespace });
        return 'serving' as const;
      } finally {
        await connection.close();
      }
    }, { timeoutMs: STARTUP_TIMEOUT_MS, intervalMs: 200 }).catch(async (err: Error) => {
      await child.stop();
      throw new Error(`${err.message}; server output:\n${child.tail.join('\n')}`, { cause: err });
    });
    if (outcome === 'exited') throw new Error(`temporal server exited (${child.exitReason()}):\n${child.tail.join('\n')}`);
  };
  await start();
  return {
    address,
    port,
    process: () => current!,
    kill: async (signal) => current?.kill(signal),
    start,
    stop: async () => current?.stop(),
  };
}

// ---------------------------------------------------------------------------------------- postgres

/** The Postgres cluster `scripts/stack up` started (from `.data/postgres.started`), or null. */
export function stackPostgresCluster(): { bin: string; dataDir: string } | null {
  const marker = `${REPO}.data/postgres.started`;
  if (!existsSync(marker)) return null;
  const values = Object.fromEntries(readFileSync(marker, 'utf8').split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const bin = values.PG_BIN;
  const dataDir = values.PG_DATA;
  return bin && dataDir && existsSync(`${dataDir}/PG_VERSION`) ? { bin, dataDir } : null;
}

/**
 * Restarts the cluster like `scripts/lib.sh` runs it (`pg_ctl -D <dir> -l <dir>/server.log`,
 * as the `postgres` user when we are root, from /), with `restart -m fast -w`: open sessions
 * are terminated, the server comes back with the same options. Then waits until `databaseUrl`
 * answers. Returns the postmaster start times before and after.
 */
export async function restartPostgres(cluster: { bin: string; dataDir: string }, databaseUrl: string): Promise<{ before: string; after: string }> {
  const startTime = async () => {
    const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 2_000 });
    await client.connect();
    try {
      return (await client.query<{ t: string }>('select pg_postmaster_start_time()::text as t')).rows[0]!.t;
    } finally {
      await client.end();
    }
  };
  const before = await startTime();
  const pgCtl = [`${cluster.bin}/pg_ctl`, '-D', cluster.dataDir, '-l', `${cluster.dataDir}/server.log`, '-w', '-t', '60', 'restart', '-m', 'fast'];
  const [command, ...args] = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', ...pgCtl] : pgCtl;
  await run(command!, args, { cwd: '/' });
  const after = await waitFor('Postgres to answer after the restart', () => startTime(), { timeoutMs: 60_000, intervalMs: 100 });
  return { before, after };
}

// ------------------------------------------------------------------------------------------ misc


function keepTail(stream: Readable | null, tail: string[]): void {
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) if (line.trim() !== '') tail.push(line);
    tail.splice(0, Math.max(0, tail.length - OUTPUT_TAIL_LINES));
  });
}

/**
 * Runs the worker (`src/worker.ts` under tsx) once with `env` added to a clean environment (PATH, HOME,
 * and an unreachable TEMPORAL_ADDRESS unless `env` sets one) and `args` after its entry; resolves
 * with its exit code and output when it exits. For start-up checks: it never stops the worker itself.
 */
export function runWorkerOnce(env: Record<string, string>, args: readonly string[] = []): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts', ...args], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TEMPORAL_ADDRESS: '127.0.0.1:1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
