/**
 * Crash safety on the real stack: the worker runs as a child process (`node --import tsx
 * src/worker.ts`) against a Temporal dev server child with an SQLite file, anvil with real
 * traffic and a fresh Postgres database per scenario. We SIGKILL the worker (right after a
 * backfill starts, mid-way, and inside an open commit), restart Postgres mid-backfill, and kill
 * and restart the Temporal server mid-backfill. Each time the backfill must finish by itself with
 * the stored range equal to the chain, one copy of every row, and no activity failed for good.
 *
 * Slow by nature (about 2 minutes): Temporal re-runs a batch whose worker died only once the
 * heartbeat timeout of `indexRange` (src/workflows/activities-proxy.ts) has passed, and the
 * SIGKILL scenario waits for that up to three times. The Postgres scenario restarts the cluster
 * `scripts/stack up` started (the shared one, for about a second) and is skipped without it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { backfillWorkflowId, type BackfillInput, type BackfillProgress } from '../../src/workflows/definitions.js';
import { diffWithChain, findIntegrityProblems, rpc } from '../support/chain-oracle.js';
import { generateTraffic, startAnvil, type Anvil } from '../support/devnet.js';
import { restartPostgres, stackPostgresCluster, startTemporalServer, startWorkerProcess, type GroupProcess, type TemporalServer } from '../support/processes.js';
import { retriedActivities } from '../support/history.js';
import { createTestDatabase, waitFor, type TestDatabase } from '../support/stack.js';

const CHAIN_ID = 31337;
/** The chain's head after setup: blocks 0..HEAD, traffic at both ends, empty blocks between. */
const HEAD = 299;
const BATCH_SIZE_BLOCKS = 10;
const CONCURRENCY = 4;

describe('crash safety of backfills on the real stack', () => {
  let anvil: Anvil;
  let server: TemporalServer;
  let connection: Connection;
  let client: Client;
  let stateDir: string;
  let transactionsOnChain: number;
  const databases: TestDatabase[] = [];
  const workers: GroupProcess[] = [];
  let spawned = 0;

  /** Starts a worker child for `database` on `taskQueue` and waits until it polls. */
  const startWorker = async (database: TestDatabase, taskQueue: string): Promise<GroupProcess> => {
    spawned += 1;
    const worker = await startWorkerProcess({
      RPC_URL: anvil.rpcUrl,
      CHAIN_ID: String(CHAIN_ID),
      DATABASE_URL: database.url,
      TEMPORAL_ADDRESS: server.address,
      TASK_QUEUE: taskQueue,
      INSTANCE_ID: `crash-worker-${spawned}`,
    }, connection);
    workers.push(worker);
    return worker;
  };

  const newDatabase = async (label: string): Promise<TestDatabase> => {
    const database = await createTestDatabase(label);
    databases.push(database);
    return database;
  };

  /** Starts `backfill:31337:0-299` (the previous scenario's run is closed) on `taskQueue`. */
  const startBackfill = async (taskQueue: string): Promise<WorkflowHandle> => {
    const input: BackfillInput = { chainId: CHAIN_ID, from: 0, to: HEAD, batchSize: BATCH_SIZE_BLOCKS, concurrency: CONCURRENCY, maxRetries: 0 };
    const started = await client.workflow.start('backfill', { workflowId: backfillWorkflowId(CHAIN_ID, 0, HEAD), taskQueue, args: [input] });
    return client.workflow.getHandle(started.workflowId, started.firstExecutionRunId);
  };

  /** The backfill's result says 0..HEAD done; the stored rows equal the chain, once each. */
  const expectBackfillEqualToChain = async (result: BackfillProgress, db: Kysely<Database>) => {
    expect(result).toMatchObject({ chainId: CHAIN_ID, from: 0, to: HEAD, status: 'done', doneThrough: HEAD, blocksDone: HEAD + 1, blocksTotal: HEAD + 1 });
    expect(await diffWithChain(db, anvil.rpcUrl, CHAIN_ID, 0, HEAD)).toEqual([]);
    expect(await findIntegrityProblems(db, CHAIN_ID)).toEqual([]);
    expect(await blockNumbers(db)).toEqual(Array.from({ length: HEAD + 1 }, (_, i) => i));
    const txs = await db.selectFrom('transactions').select((eb) => eb.fn.countAll<string>().as('n')).where('chain_id', '=', CHAIN_ID).executeTakeFirstOrThrow();
    expect(Number(txs.n)).toBe(transactionsOnChain);
  };

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'crash-test-'));
    [anvil, server] = await Promise.all([startAnvil({ chainId: CHAIN_ID }), startTemporalServer({ dbFile: join(stateDir, 't.sqlite') })]);
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection });
    // Traffic at both ends (blocks 1..13 and 283..295 hold transactions and logs), empty blocks between.
    const first = await generateTraffic(anvil.rpcUrl);
    await rpc(anvil.rpcUrl, 'anvil_mine', [`0x${(HEAD - 2 * first.toBlock - 4).toString(16)}`]);
    const second = await generateTraffic(anvil.rpcUrl);
    await rpc(anvil.rpcUrl, 'anvil_mine', [`0x${(HEAD - second.toBlock).toString(16)}`]);
    expect(await head(anvil.rpcUrl)).toBe(HEAD);
    transactionsOnChain = first.txCount + second.txCount;
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await connection?.close();
    await server?.stop();
    await anvil?.stop();
    for (const database of databases) await database.drop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('backfill() finishes equal to the chain after SIGKILLs of its worker right after start, mid-way and inside an open commit', async () => {
    const database = await newDatabase('crash_kill');
    const taskQueue = 'crash-kill';
    let worker = await startWorker(database, taskQueue);

    // (a) right after the backfill starts
    const handle = await startBackfill(taskQueue);
    await worker.kill('SIGKILL');
    expect(await storedBatchProblems(database.db, anvil.rpcUrl)).toEqual([]);
    worker = await startWorker(database, taskQueue);

    // (b) mid-way: some batches stored, not all
    const storedAtKill = await waitFor('five batches to be stored', async () => {
      const n = await blockCount(database.db);
      return n >= 5 * BATCH_SIZE_BLOCKS ? n : false;
    }, { timeoutMs: 300_000, intervalMs: 20 });
    await worker.kill('SIGKILL');
    expect(storedAtKill).toBeLessThan(HEAD + 1);
    expect(await storedBatchProblems(database.db, anvil.rpcUrl)).toEqual([]);

    // (c) inside a commit: every INSERT into logs sleeps 1 s in the batch's open transaction,
    // after the batch's blocks and transactions went in
    await slowInserts(database.db, 'logs', 1);
    worker = await startWorker(database, taskQueue);
    const inCommit = await waitForOpenCommit(database, 'logs');
    await worker.kill('SIGKILL');
    await waitFor('the killed worker\'s sessions to end', async () => (await sessionsAlive(database.db, inCommit)) === 0, { timeoutMs: 30_000 });
    expect(await storedBatchProblems(database.db, anvil.rpcUrl)).toEqual([]);
    await fastInserts(database.db, 'logs');
    worker = await startWorker(database, taskQueue);

    await expectBackfillEqualToChain((await handle.result()) as BackfillProgress, database.db);
    // Batches in flight at a kill ran again once Temporal declared them lost (heartbeat
    // timeout), the one killed inside its commit among them; nothing else failed.
    const retried = await retriedActivities(handle);
    expect(retried.length).toBeGreaterThan(0);
    expect(retried.filter((r) => r.lastFailure !== 'heartbeat timeout')).toEqual([]);
  }, 900_000);

  describe('Postgres restarted (pg_ctl restart -m fast) while a batch transaction is open', () => {
    const cluster = stackPostgresCluster();
    let database: TestDatabase;
    let worker: GroupProcess;
    let handle: WorkflowHandle;
    let result: Promise<BackfillProgress>;
    let restart: { before: string; after: string };

    beforeAll(async () => {
      if (!cluster) return;
      database = await newDatabase('crash_pg');
      const taskQueue = 'crash-postgres';
      // Each batch holds its transaction open 3 s, so the restart surely lands in one.
      await slowInserts(database.db, 'blocks', 3);
      worker = await startWorker(database, taskQueue);
      handle = await startBackfill(taskQueue);
      result = handle.result() as Promise<BackfillProgress>;
      result.catch(() => undefined); // awaited in a test; terminated in afterAll when it hangs
      await waitFor('five batches to be stored', async () => (await blockCount(database.db)) >= 5 * BATCH_SIZE_BLOCKS, { timeoutMs: 120_000, intervalMs: 20 });
      await waitForOpenCommit(database, 'blocks');
      restart = await restartPostgres(cluster, database.url);
      await fastInserts(database.db, 'blocks');
    }, 180_000);

    afterAll(async () => {
      await handle?.terminate('test cleanup').catch(() => undefined);
    });

    it.skipIf(!cluster)('the restart rolled the open transaction back: only whole batches are stored, equal to the chain', async () => {
      expect(restart.after).not.toBe(restart.before);
      expect(await storedBatchProblems(database.db, anvil.rpcUrl)).toEqual([]);
    });

    // BUG (src/db/connect.ts): the worker process dies when Postgres terminates a session while
    // the pool has it checked out (here a batch transaction; any query in flight does it).
    // Regression: pg-pool listens for 'error' only on idle clients; a checked-out client whose
    // server ends the connection (FATAL 57P01, then EOF) emitted an unhandled 'error' and killed the
    // worker. connect.ts now puts a listener on every client, so the query fails with a retryable
    // DbTransientError and the same worker carries on.
    it.skipIf(!cluster)('the same worker finishes the backfill by itself, the failed batches retried as DbTransientError', async () => {
      const workerDied = worker.exited.then(() => {
        throw new Error(`worker exited (${worker.exitReason()}) after the Postgres restart:\n${worker.tail.join('\n')}`);
      });
      await expectBackfillEqualToChain(await Promise.race([result, workerDied]), database.db);
      const retried = await retriedActivities(handle);
      expect(retried.length).toBeGreaterThan(0);
      expect(retried.filter((r) => !r.lastFailure.startsWith('DbTransientError:'))).toEqual([]);
      expect(worker.exitReason()).toBeUndefined();
    }, 120_000);
  });

  it('backfill() finishes equal to the chain after the Temporal server is SIGKILLed and restarted mid-way', async () => {
    const database = await newDatabase('crash_temporal');
    const taskQueue = 'crash-temporal';
    await slowInserts(database.db, 'blocks', 1); // each batch holds its transaction open 1 s
    const worker = await startWorker(database, taskQueue);
    const handle = await startBackfill(taskQueue);
    await waitFor('five batches to be stored', async () => (await blockCount(database.db)) >= 5 * BATCH_SIZE_BLOCKS, { timeoutMs: 120_000, intervalMs: 20 });
    const inCommit = await waitForOpenCommit(database, 'blocks');
    const killedServer = server.process();
    await server.kill('SIGKILL');
    expect(killedServer.exitReason()).toBe('SIGKILL');
    // The batches in flight commit while the server is down; their completions wait in the worker.
    await waitFor('the batch commits in flight to end', async () => (await sessionsActive(database.db, inCommit)) === 0, { timeoutMs: 30_000 });
    expect(await blockCount(database.db)).toBeLessThan(HEAD + 1);
    await server.start(); // same port, same SQLite file
    expect(server.process().pid).not.toBe(killedServer.pid);

    await expectBackfillEqualToChain((await handle.result()) as BackfillProgress, database.db);
    expect(worker.exitReason()).toBeUndefined();
    // A completion the worker could not deliver in time is redone after the heartbeat timeout; nothing else failed.
    expect((await retriedActivities(handle)).filter((r) => r.lastFailure !== 'heartbeat timeout')).toEqual([]);
  }, 600_000);
});

/** The chain's head block number. */
async function head(rpcUrl: string): Promise<number> {
  return Number(BigInt(await rpc<string>(rpcUrl, 'eth_blockNumber')));
}

async function blockCount(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('blocks').select((eb) => eb.fn.countAll<string>().as('n')).where('chain_id', '=', CHAIN_ID).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Stored block numbers of the chain, ascending. */
async function blockNumbers(db: Kysely<Database>): Promise<number[]> {
  return (await db.selectFrom('blocks').select('number').where('chain_id', '=', CHAIN_ID).orderBy('number').execute()).map((b) => b.number);
}

/** How many of the Postgres sessions `pids` still exist. */
async function sessionsAlive(db: Kysely<Database>, pids: number[]): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where pid = any(${pids})`.execute(db);
  return rows[0]!.n;
}

/** How many of the Postgres sessions `pids` still run a statement. */
async function sessionsActive(db: Kysely<Database>, pids: number[]): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where pid = any(${pids}) and state = 'active'`.execute(db);
  return rows[0]!.n;
}

/** Makes every INSERT statement into `table` of `db` sleep `seconds` (a statement-level trigger). */
async function slowInserts(db: Kysely<Database>, table: 'blocks' | 'logs', seconds: number): Promise<void> {
  await sql`create function ${sql.raw(`crash_test_slow_${table}`)}() returns trigger language plpgsql as ${sql.lit(`begin perform pg_sleep(${seconds}); return null; end`)}`.execute(db);
  await sql`create trigger crash_test_slow after insert on ${sql.table(table)} for each statement execute function ${sql.raw(`crash_test_slow_${table}`)}()`.execute(db);
}

/** Undoes {@link slowInserts}. */
async function fastInserts(db: Kysely<Database>, table: 'blocks' | 'logs'): Promise<void> {
  await sql`drop trigger crash_test_slow on ${sql.table(table)}`.execute(db);
  await sql`drop function ${sql.raw(`crash_test_slow_${table}`)}()`.execute(db);
}

/**
 * Waits until a session of `database` runs an INSERT into `table` inside a transaction that
 * has written already (it has a transaction id), and started that INSERT less than 0.5 s ago:
 * a batch commit in flight that the slow trigger holds open for a while yet. Returns the pids.
 */
async function waitForOpenCommit(database: TestDatabase, table: 'blocks' | 'logs'): Promise<number[]> {
  return waitFor(`a batch transaction writing ${table} (INSERT or COPY)`, async () => {
    const { rows } = await sql<{ pid: number }>`
      select pid from pg_stat_activity
      where datname = ${database.name} and state = 'active' and backend_xid is not null
        and (query like ${`insert into "${table}"%`} or query like ${`copy ${table} %`})
        and now() - query_start < interval '0.5 seconds'`.execute(database.db);
    return rows.length > 0 ? rows.map((r) => r.pid) : false;
  }, { timeoutMs: 300_000, intervalMs: 20 });
}

/**
 * What a crash may never leave: a batch stored in part (batches are `BATCH_SIZE_BLOCKS` blocks
 * from block 0), a stored block that differs from the chain or lacks some of its transactions
 * or logs, duplicate or orphan rows. [] when every stored batch is whole and right.
 */
async function storedBatchProblems(db: Kysely<Database>, rpcUrl: string): Promise<string[]> {
  const numbers = await blockNumbers(db);
  const perBatch = new Map<number, number>();
  for (const n of numbers) perBatch.set(Math.floor(n / BATCH_SIZE_BLOCKS), (perBatch.get(Math.floor(n / BATCH_SIZE_BLOCKS)) ?? 0) + 1);
  const problems = [...perBatch].filter(([, count]) => count !== BATCH_SIZE_BLOCKS).map(([batch, count]) => `batch ${batch * BATCH_SIZE_BLOCKS}: ${count} of ${BATCH_SIZE_BLOCKS} blocks stored`);
  const diffs = (await diffWithChain(db, rpcUrl, CHAIN_ID, 0, HEAD)).filter((line) => !line.endsWith(': not stored'));
  return [...problems, ...diffs, ...(await findIntegrityProblems(db, CHAIN_ID))];
}

/** Temporal's TimeoutType enum values by number. */
