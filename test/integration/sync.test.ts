/**
 * End to end on the real stack: anvil with real traffic → worker with the real activities →
 * chainSync and backfill workflows on a Temporal dev server → Postgres. The database must equal
 * the chain (hashes, parent hashes, transactions, receipts, logs), with one copy of every row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { runIndexRange } from '../../src/activities/index-range.js';
import { readCursor } from '../../src/db/index.js';
import { backfillProgressQuery, backfillWorkflowId, chainSyncWorkflowId, pauseSignal, resumeSignal, syncProgressQuery, type BackfillInput, type ChainSyncInput } from '../../src/workflows/definitions.js';
import { generateTraffic, startAnvil, type Anvil, type TrafficSummary } from '../support/devnet.js';
import { diffWithChain, digestRows, findIntegrityProblems, rpc } from '../support/chain-oracle.js';
import { createTestDatabase, startIndexerWorker, startTemporal, waitFor, type TestDatabase, type TestWorker } from '../support/stack.js';
import { scheduledRanges } from '../support/history.js';
import { createRangeSizer } from '../../src/domain/index.js';
import { sql } from 'kysely';

const CHAIN_ID = 31337;
const TASK_QUEUE = 'sync-test';
/** Small batches so the window has several batches in flight and seams to check. */
const BATCH_SIZE_BLOCKS = 4;
const CONFIRMATION_DEPTH_BLOCKS = 2;

describe('chainSync on anvil with real traffic', () => {
  let anvil: Anvil;
  let env: TestWorkflowEnvironment;
  let database: TestDatabase;
  let worker: TestWorker;
  let traffic: TrafficSummary;

  const syncInput: ChainSyncInput = {
    chainId: CHAIN_ID,
    startBlock: 0,
    batchSize: BATCH_SIZE_BLOCKS,
    concurrency: 3,
    confirmationDepth: CONFIRMATION_DEPTH_BLOCKS,
    finality: 'depth',
    pollIntervalMs: 200,
    maxRetries: 0,
  };

  beforeAll(async () => {
    [anvil, env, database] = await Promise.all([startAnvil({ chainId: CHAIN_ID }), startTemporal(), createTestDatabase('sync')]);
    traffic = await generateTraffic(anvil.rpcUrl);
    await rpc(anvil.rpcUrl, 'anvil_mine', ['0x14']); // 20 more empty blocks: several batches past the traffic
    worker = await startIndexerWorker({ env, taskQueue: TASK_QUEUE, db: database.db, rpcUrls: [anvil.rpcUrl], chainId: CHAIN_ID });
  });

  afterAll(async () => {
    await worker?.stop();
    await env?.teardown();
    await anvil?.stop();
    await database?.drop();
  });

  it('chainSync stores every block up to head − confirmation depth, equal to the chain', async () => {
    const head = Number(BigInt(await rpc(anvil.rpcUrl, 'eth_blockNumber')));
    expect(head).toBe(traffic.toBlock + 20);
    const handle = await env.client.workflow.start('chainSync', {
      workflowId: chainSyncWorkflowId(CHAIN_ID),
      taskQueue: TASK_QUEUE,
      args: [syncInput],
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    const target = head - CONFIRMATION_DEPTH_BLOCKS;
    const progress = await waitFor('the sync to reach the target', async () => {
      const p = await handle.query(syncProgressQuery);
      return p.cursor === target && p.status === 'caught-up' ? p : undefined;
    });
    expect([progress.head, progress.target, progress.cursor, progress.lagBlocks]).toEqual([head, target, target, CONFIRMATION_DEPTH_BLOCKS]);
    const cursor = await readCursor(database.db, CHAIN_ID);
    const tip = await rpc(anvil.rpcUrl, 'eth_getBlockByNumber', [`0x${target.toString(16)}`, false]);
    expect(cursor).toEqual({ blockNumber: target, blockHash: tip.hash });
    expect(await diffWithChain(database.db, anvil.rpcUrl, CHAIN_ID, 0, target)).toEqual([]);
    expect(await findIntegrityProblems(database.db, CHAIN_ID)).toEqual([]);
    const counts = await database.db.selectFrom('transactions').select((eb) => eb.fn.countAll<string>().as('n')).where('chain_id', '=', CHAIN_ID).executeTakeFirstOrThrow();
    expect(Number(counts.n)).toBe(traffic.txCount);
    const stored = await database.db.selectFrom('blocks').select('number').where('chain_id', '=', CHAIN_ID).orderBy('number').execute();
    expect(stored.map((b) => b.number)).toEqual(Array.from({ length: target + 1 }, (_, i) => i));
  });

  it('a paused sync reports its rate at the time of the query, not at its last workflow task', async () => {
    const handle = env.client.workflow.getHandle(chainSyncWorkflowId(CHAIN_ID));
    // The run's workflow time starts at its first WorkflowTaskStarted event (the rate counts from there).
    const firstTask = (await handle.fetchHistory()).events!.find((e) => e.workflowTaskStartedEventAttributes)!;
    const startedAtMs = Number(firstTask.eventTime!.seconds) * 1000 + Math.floor((firstTask.eventTime!.nanos ?? 0) / 1e6);
    await handle.signal(pauseSignal);
    await waitFor('the sync to pause', async () => (await handle.query(syncProgressQuery)).paused);
    await new Promise((resolve) => setTimeout(resolve, 2_000)); // no workflow task while paused
    const before = Date.now();
    const p = await handle.query(syncProgressQuery);
    const after = Date.now();
    await handle.signal(resumeSignal);
    expect(after - startedAtMs).toBeLessThan(60_000); // younger than the window: the rate is over the run's age
    const rateAt = (atMs: number) => Math.round((p.blocksStoredThisRun / ((atMs - startedAtMs) / 1000)) * 10) / 10;
    expect(p.blocksStoredThisRun).toBeGreaterThan(0);
    // Between the rates at the query's send and answer (0.1 for rounding at a millisecond's edge); the
    // rate at the last task, 2 s before, would be a fifth or more above.
    expect(p.blocksPerSecond).toBeGreaterThanOrEqual(rateAt(after) - 0.1);
    expect(p.blocksPerSecond).toBeLessThanOrEqual(rateAt(before) + 0.1);
    await waitFor('the sync to resume', async () => !(await handle.query(syncProgressQuery)).paused);
  });

  it('stores the reverted transaction with status 0 and the token deployment with its contract address', async () => {
    const reverted = await database.db.selectFrom('transactions').select(['status', 'log_count']).where('hash', '=', Buffer.from(traffic.revertedTxHash.slice(2), 'hex')).executeTakeFirstOrThrow();
    expect(reverted).toEqual({ status: 0, log_count: 0 });
    const deploy = await database.db.selectFrom('transactions').select(['to_address', 'contract_address', 'status']).where('hash', '=', Buffer.from(traffic.tokenDeployTxHash.slice(2), 'hex')).executeTakeFirstOrThrow();
    expect([deploy.to_address, `0x${deploy.contract_address!.toString('hex')}`, deploy.status]).toEqual([null, traffic.tokenAddress.toLowerCase(), 1]);
    const transferTopic = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef';
    const transfers = await database.db.selectFrom('logs').select((eb) => eb.fn.countAll<string>().as('n')).where('topic0', '=', Buffer.from(transferTopic.slice(2), 'hex')).executeTakeFirstOrThrow();
    expect(Number(transfers.n)).toBe(traffic.tokenTransferLogCount);
  });

  it('start twice, and from two clients at once, gives one workflow run', async () => {
    const workflowId = chainSyncWorkflowId(CHAIN_ID);
    const first = await env.client.workflow.getHandle(workflowId).describe();
    const starts = await Promise.all([0, 1, 2].map(() => env.client.workflow.start('chainSync', {
      workflowId, taskQueue: TASK_QUEUE, args: [syncInput], workflowIdConflictPolicy: 'USE_EXISTING',
    })));
    expect(starts.map((h) => h.firstExecutionRunId)).toEqual([first.runId, first.runId, first.runId]);
    const runs: string[] = [];
    for await (const wf of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(wf.runId);
    expect(runs).toEqual([first.runId]);
  });

  it('indexRange run twice, and twice at once, on the same range leaves one copy', async () => {
    const before = await digestRows(database.db, CHAIN_ID);
    const deps = { db: database.db, pool: worker.pool, chainId: CHAIN_ID, log: worker.log };
    const range = { chainId: CHAIN_ID, from: traffic.multiTxBlockNumber - 1, to: traffic.multiTxBlockNumber + 1 };
    const once = await runIndexRange(deps, range);
    expect(once).toMatchObject({ from: range.from, to: range.to, blockCount: 3 });
    await runIndexRange(deps, range);
    const concurrent = await Promise.allSettled([runIndexRange(deps, range), runIndexRange(deps, range)]);
    // A concurrent duplicate either lands or loses the race with a retryable DbTransientError; never a second copy.
    for (const outcome of concurrent) {
      if (outcome.status === 'rejected') expect((outcome.reason as Error).name).toBe('DbTransientError');
    }
    expect(await digestRows(database.db, CHAIN_ID)).toEqual(before);
    expect(await findIntegrityProblems(database.db, CHAIN_ID)).toEqual([]);
  });

  it('a backfill of an already indexed range changes nothing and reports the range', async () => {
    const before = await digestRows(database.db, CHAIN_ID);
    const input: BackfillInput = { chainId: CHAIN_ID, from: 0, to: traffic.toBlock, batchSize: 3, concurrency: 2 };
    const result = await env.client.workflow.execute('backfill', { workflowId: backfillWorkflowId(CHAIN_ID, 0, traffic.toBlock), taskQueue: TASK_QUEUE, args: [input] });
    expect(result).toMatchObject({ chainId: CHAIN_ID, from: 0, to: traffic.toBlock, status: 'done', doneThrough: traffic.toBlock, blocksDone: traffic.toBlock + 1 });
    expect(await digestRows(database.db, CHAIN_ID)).toEqual(before);
  });

  it('a backfill with batchRows sizes each batch after the first by the rows per block of those stored (the history shows the ranges)', async () => {
    const input: BackfillInput = { chainId: CHAIN_ID, from: 0, to: traffic.toBlock, batchSize: 2, batchRows: 15, concurrency: 1 };
    const handle = await env.client.workflow.start('backfill', { workflowId: backfillWorkflowId(CHAIN_ID, 0, traffic.toBlock), taskQueue: TASK_QUEUE, args: [input] });
    expect(await handle.result()).toMatchObject({ status: 'done', doneThrough: traffic.toBlock });
    // Rows of each stored block (1 + its transactions + its logs), and the ranges the sizer cuts from them one batch at a time.
    const perBlock = await sql<{ number: string; rows: number }>`
      select b.number, 1 + b.transaction_count + coalesce((select sum(t.log_count) from transactions t where t.chain_id = b.chain_id and t.block_number = b.number), 0)::int as rows
      from blocks b where b.chain_id = ${CHAIN_ID} and b.number <= ${traffic.toBlock} order by b.number`.execute(database.db);
    const rows = perBlock.rows.map((r) => r.rows);
    const sizer = createRangeSizer(2, 15);
    const want: Array<{ from: number; to: number }> = [];
    for (let from = 0; from <= traffic.toBlock;) {
      const to = Math.min(traffic.toBlock, from + sizer.next() - 1);
      const blocks = rows.slice(from, to + 1);
      const total = blocks.reduce((a, b) => a + b, 0);
      sizer.observe({ from, to, firstParentHash: '', lastHash: '', blockCount: blocks.length, transactionCount: total - blocks.length, logCount: 0 });
      want.push({ from, to });
      from = to + 1;
    }
    const got = await scheduledRanges(handle, 'indexRange');
    expect(got).toEqual(want);
    expect(new Set(got.map((r) => r.to - r.from + 1)).size).toBeGreaterThan(1); // not every batch has batchSize blocks
  });

  it('a backfill with a batchRows that is not an integer ≥ 0 fails at once with InvalidInputError', async () => {
    const input = { chainId: CHAIN_ID, from: 0, to: 3, batchRows: -1 } as BackfillInput;
    const failure = await env.client.workflow.execute('backfill', { workflowId: backfillWorkflowId(CHAIN_ID, 0, 3), taskQueue: TASK_QUEUE, args: [input] }).catch((err: unknown) => err);
    expect((failure as { cause?: { type?: string; message?: string } }).cause).toMatchObject({
      type: 'InvalidInputError', message: 'backfill needs an integer batchSize ≥ 1 and batchRows ≥ 0, got batchSize=undefined batchRows=-1',
    });
  });

  it('a backfill reaching above the head indexes up to the head, asks for no block above it while it waits, and ends once the chain reaches its end', async () => {
    const head = Number(BigInt(await rpc(anvil.rpcUrl, 'eth_blockNumber')));
    const input: BackfillInput = { chainId: CHAIN_ID, from: head - 2, to: head + 3, batchSize: 2, concurrency: 2 };
    const handle = await env.client.workflow.start('backfill', { workflowId: backfillWorkflowId(CHAIN_ID, head - 2, head + 3), taskQueue: TASK_QUEUE, args: [input] });
    await waitFor('the backfill to store up to the head', async () => (await handle.query(backfillProgressQuery)).doneThrough === head);
    await new Promise((resolve) => setTimeout(resolve, 6_000)); // more than one wait for the head (5 s)
    // Nothing above the head was scheduled (before, batches of blocks that did not exist failed and were retried, over and over).
    expect(await scheduledRanges(handle, 'indexRange')).toEqual([{ from: head - 2, to: head - 1 }, { from: head, to: head }]);
    // Its progress says what it waits for (client backfill: `waiting for block N (the endpoints' head is N − 1)`).
    expect(await handle.query(backfillProgressQuery)).toMatchObject({ status: 'running', doneThrough: head, waitingAtHead: head });
    await rpc(anvil.rpcUrl, 'anvil_mine', ['0x3']);
    const result = await handle.result();
    expect(result).toMatchObject({ status: 'done', doneThrough: head + 3, blocksDone: 6 });
    expect(result.waitingAtHead).toBeUndefined();
    expect(await scheduledRanges(handle, 'indexRange')).toEqual([{ from: head - 2, to: head - 1 }, { from: head, to: head }, { from: head + 1, to: head + 2 }, { from: head + 3, to: head + 3 }]);
    expect(await diffWithChain(database.db, anvil.rpcUrl, CHAIN_ID, head - 2, head + 3)).toEqual([]);
  });

  it('the sync follows new blocks and keeps equal to the chain', async () => {
    await generateTraffic(anvil.rpcUrl, { tokenTransferCount: 2, emptyBlockCount: 1 });
    const head = Number(BigInt(await rpc(anvil.rpcUrl, 'eth_blockNumber')));
    const handle = env.client.workflow.getHandle(chainSyncWorkflowId(CHAIN_ID));
    await waitFor('the sync to follow the new head', async () => (await handle.query(syncProgressQuery)).cursor === head - CONFIRMATION_DEPTH_BLOCKS);
    expect(await diffWithChain(database.db, anvil.rpcUrl, CHAIN_ID, 0, head - CONFIRMATION_DEPTH_BLOCKS)).toEqual([]);
    expect(await findIntegrityProblems(database.db, CHAIN_ID)).toEqual([]);
  });
});
