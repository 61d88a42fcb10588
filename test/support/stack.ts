/**
 * Real services for integration tests: a fresh Postgres database per test file, a Temporal dev
 * server per file (the pinned CLI, `TestWorkflowEnvironment.createLocal`), and an in-process
 * indexer worker with the real activities. No mocks.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { createActivities } from '../../src/activities/index.js';
import { connectDatabase, migrateToLatest, type Database } from '../../src/db/index.js';
import { createLogger, type Logger } from '../../src/log.js';
import { freePort } from './devnet.js';
import { createRpcPool, type RpcPool } from '../../src/rpc/index.js';
import { createIndexerWorker, WORKFLOWS_PATH } from '../../src/worker.js';
import { chainIdSearchAttribute, cursorSearchAttribute } from '../../src/workflows/definitions.js';

// Temporal's own logs only from WARN up, so test output shows what matters.
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  /* already installed by another test file in this process */
}

/**
 * Extra `temporal server start-dev` flags of every test server, as `scripts/lib.sh` starts the dev
 * stack:
 * - a worker that shuts down gets its outstanding polls cancelled by the server, so no task is
 *   handed to a poll the worker has already given up (that task would wait for its timeout and come
 *   back as a retry). Server PR temporalio/temporal#9203; off by default in Server 1.32.
 * - its SQLite file in write-ahead-log mode, synced at checkpoints (SQLite docs, "Write-Ahead
 *   Logging" and PRAGMA synchronous): the default rollback journal created, synced and deleted a
 *   journal file per transaction (four fsyncs each, about five transactions per range); a crash of
 *   the process loses nothing, a crash of the machine at most the last transactions, never the
 *   file. The Temporal server's CPU per mainnet block in the bench fell from 0.24–0.25 ms to
 *   0.15–0.19 (session 25).
 */
export const TEMPORAL_DEV_SERVER_ARGS: string[] = [
  '--dynamic-config-value', 'frontend.enableCancelWorkerPollsOnShutdown=true',
  '--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal',
];

/** The Postgres server the tests use: `DATABASE_URL` as `scripts/test` exports it. */
export const BASE_DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://indexer:indexer@127.0.0.1:5432/indexer';

/** Path of the pinned Temporal CLI: `TEMPORAL_CLI_PATH` or the repo's `.tools/temporal`. */
export function temporalCliPath(): string {
  const path = process.env.TEMPORAL_CLI_PATH ?? fileURLToPath(new URL('../../.tools/temporal', import.meta.url));
  if (!existsSync(path)) throw new Error(`Temporal CLI not found at ${path}: run scripts/setup (or the README's test command)`);
  return path;
}

/** A database made for one test file. */
export type TestDatabase = { url: string; name: string; db: Kysely<Database>; drop(): Promise<void> };

/**
 * Creates a fresh, migrated database named `test_<label>_<checkout hash>_<vitest worker id>` on the tests'
 * Postgres server (dropping a leftover of the same name first).
 */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  // The checkout's path is part of the name, so two clones testing against one server never share
  // (and drop) each other's database.
  const checkout = createHash('sha256').update(process.cwd()).digest('hex').slice(0, 6);
  const name = `test_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${checkout}_${process.env.VITEST_POOL_ID ?? '0'}`;
  await dropDatabase(name);
  const admin = new pg.Client({ connectionString: BASE_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(BASE_DATABASE_URL);
  url.pathname = `/${name}`;
  const db = connectDatabase(url.toString());
  await migrateToLatest(db);
  return {
    url: url.toString(),
    name,
    db,
    drop: async () => {
      await db.destroy();
      await dropDatabase(name);
    },
  };
}

/**
 * Drops database `name` on the tests' server, if it exists. Ends this role's own sessions on it
 * first, then runs a plain `DROP DATABASE`, which also stops autovacuum workers there by itself.
 * `WITH (FORCE)` is not used: it must be allowed to signal every session, and a role without
 * superuser or `pg_signal_backend` (as on a shared CI server) is refused when an autovacuum
 * worker happens to run on the database (SQLSTATE 42501).
 * @throws the last Postgres error when the database is still in use (55006) after 30 s.
 */
export async function dropDatabase(name: string): Promise<void> {
  const c = new pg.Client({ connectionString: BASE_DATABASE_URL });
  await c.connect();
  try {
    for (let attempt = 1; ; attempt++) {
      await c.query(
        `select pg_terminate_backend(pid) from pg_stat_activity
          where datname = $1 and pid <> pg_backend_pid() and usename = current_user`,
        [name],
      );
      try {
        await c.query(`drop database if exists ${name}`);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== '55006' || attempt >= 60) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    await c.end();
  }
}

/**
 * Starts a Temporal dev server (pinned CLI, in-memory) for one test file, with the project's search
 * attributes registered as `scripts/stack up` does; `extraArgs` go to `temporal server start-dev`
 * after the usual ones (e.g. `--dynamic-config-value limit.historyCount.error=200`).
 */
export async function startTemporal(extraArgs: readonly string[] = []): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCliPath() },
      ip: '127.0.0.1',
      searchAttributes: [chainIdSearchAttribute, cursorSearchAttribute],
      extraArgs: [...TEMPORAL_DEV_SERVER_ARGS, ...extraArgs],
    },
  });
}

let bundled: Promise<WorkflowBundleWithSourceMap> | undefined;

/**
 * The workflow code bundled once per test file (webpack takes 2.5–7.6 s of CPU per bundle; a file
 * that starts several workers at once would otherwise bundle them all in parallel on 2 cores).
 */
function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundled ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') });
  return bundled;
}

/** A worker running in this process, with its pool and logger, until `stop()`. */
export type TestWorker = { worker: Worker; pool: RpcPool; log: Logger; stop(): Promise<void> };

/**
 * Starts an indexer worker on `taskQueue` with the real activities over `db` and `rpcUrls`.
 * `stop()` shuts it down and waits for it.
 */
export async function startIndexerWorker(options: {
  env: TestWorkflowEnvironment;
  taskQueue: string;
  db: Kysely<Database>;
  rpcUrls: readonly string[];
  chainId: number;
  rpcTimeoutMs?: number;
  maxConcurrentActivities?: number;
  /** `VERIFY_ROOTS`: header proofs before a batch is stored (default off). */
  verifyRoots?: boolean;
}): Promise<TestWorker> {
  const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'warn', pretty: false });
  const pool = createRpcPool({ urls: options.rpcUrls, timeoutMs: options.rpcTimeoutMs ?? 10_000, log });
  const worker = await createIndexerWorker({
    connection: options.env.nativeConnection,
    namespace: options.env.namespace ?? 'default',
    taskQueue: options.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities({ db: options.db, pool, chainId: options.chainId, log, verifyRoots: options.verifyRoots ?? false }),
    maxConcurrentActivities: options.maxConcurrentActivities ?? 16,
  });
  const running = worker.run();
  return {
    worker,
    pool,
    log,
    stop: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      pool.close();
    },
  };
}

/**
 * Polls `check` every `intervalMs` until it returns a value other than undefined/false, and
 * returns it. Waits on a condition, never a fixed sleep.
 * @throws Error naming `what` and the last value seen when `timeoutMs` passes.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 200));
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on (taken from the OS, then released). */
export const closedPort = freePort;
