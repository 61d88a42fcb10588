/**
 * Graceful shutdown under load, as Kubernetes does it to a pod: two worker processes serve one
 * task queue; in the middle of a backfill one gets SIGTERM. It stops polling, lets its in-flight
 * range activities finish within its shutdown grace, and exits 0; the other worker finishes the
 * backfill. The stored range equals the chain, and no activity failed (not even once) but those
 * whose task was lost in transit to the stopping worker's cancelled poll (below).
 * Each JSON-RPC request is slowed by the fault proxy, so batches are in flight at the signal.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfillWorkflowId, type BackfillInput, type BackfillProgress } from '../../src/workflows/definitions.js';
import { diffWithChain, findIntegrityProblems, rpc } from '../support/chain-oracle.js';
import { generateTraffic, startAnvil, type Anvil } from '../support/devnet.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { retriedActivities } from '../support/history.js';
import { startTemporalServer, startWorkerProcess, type GroupProcess, type TemporalServer } from '../support/processes.js';
import { createTestDatabase, waitFor, type TestDatabase } from '../support/stack.js';

const CHAIN_ID = 31337;
const HEAD = 199;
const BATCH_SIZE_BLOCKS = 5;
const CONCURRENCY = 6;
const TASK_QUEUE = 'graceful';

describe('SIGTERM to one of two workers during a backfill', () => {
  let anvil: Anvil;
  let proxy: FaultProxy;
  let server: TemporalServer;
  let connection: Connection;
  let client: Client;
  let database: TestDatabase;
  let stateDir: string;
  const workers: GroupProcess[] = [];

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'graceful-test-'));
    [anvil, server, database] = await Promise.all([
      startAnvil({ chainId: CHAIN_ID }),
      startTemporalServer({ dbFile: join(stateDir, 't.sqlite') }),
      createTestDatabase('graceful'),
    ]);
    const traffic = await generateTraffic(anvil.rpcUrl);
    await rpc(anvil.rpcUrl, 'anvil_mine', [`0x${(HEAD - traffic.toBlock).toString(16)}`]);
    proxy = await startFaultProxy({ upstream: anvil.rpcUrl });
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection });
    for (const id of ['graceful-a', 'graceful-b']) {
      workers.push(await startWorkerProcess({
        RPC_URL: proxy.url, CHAIN_ID: String(CHAIN_ID), DATABASE_URL: database.url, TEMPORAL_ADDRESS: server.address, TASK_QUEUE: TASK_QUEUE, INSTANCE_ID: id,
      }, connection));
    }
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await connection?.close();
    await server?.stop();
    await proxy?.close();
    await anvil?.stop();
    await database?.drop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('the backfill completes equal to the chain, the stopped worker exits 0, and no activity failed', async () => {
    proxy.set({ latencyMs: 150 });
    const input: BackfillInput = { chainId: CHAIN_ID, from: 0, to: HEAD, batchSize: BATCH_SIZE_BLOCKS, concurrency: CONCURRENCY, maxRetries: 0 };
    const handle = await client.workflow.start('backfill', { workflowId: backfillWorkflowId(CHAIN_ID, 0, HEAD), taskQueue: TASK_QUEUE, args: [input] });
    const storedAtSignal = await waitFor('a quarter of the range to be stored', async () => {
      const row = await database.db.selectFrom('blocks').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
      return Number(row.n) >= (HEAD + 1) / 4 ? Number(row.n) : false;
    }, { timeoutMs: 120_000, intervalMs: 50 });
    const [stopped] = workers;
    await stopped!.kill('SIGTERM');
    expect(stopped!.exitReason()).toBe('code 0');
    expect(storedAtSignal).toBeLessThan(HEAD + 1);

    const result = (await handle.result()) as BackfillProgress;
    expect(result).toMatchObject({ chainId: CHAIN_ID, from: 0, to: HEAD, status: 'done', doneThrough: HEAD, blocksDone: HEAD + 1 });
    expect(await diffWithChain(database.db, anvil.rpcUrl, CHAIN_ID, 0, HEAD)).toEqual([]);
    expect(await findIntegrityProblems(database.db, CHAIN_ID)).toEqual([]);
    // A task the server hands to a poll that the stopping worker is cancelling is lost in transit
    // (temporalio/sdk-rust#1080: "we interrupt a poll on shutdown, which technically can cause
    // in-network-transit task to be lost") and runs again after its heartbeat timeout: 1 or 2
    // ranges in about one run of five (session 12). Such second attempts are allowed, at most one
    // per range the window can have scheduled; any other retry or failure is not.
    const retried = await retriedActivities(handle);
    const lostInTransit = retried.filter((r) => r.attempt === 2 && r.lastFailure === 'heartbeat timeout');
    expect(lostInTransit.length).toBeLessThanOrEqual(CONCURRENCY);
    expect(retried.filter((r) => !lostInTransit.includes(r))).toEqual([]);
    expect(stopped!.tail.join('\n')).not.toMatch(/"level":(50|60)/); // no error or fatal log line
  });
});
