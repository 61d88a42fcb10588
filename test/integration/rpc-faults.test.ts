/**
 * RPC faults on the real stack: anvil with traffic (~60 blocks) → `fault-proxy` → worker with the
 * real activities → backfill (or chainSync) on a Temporal dev server → Postgres. Each test sets one
 * fault and asserts the correct behaviour: the workflow completes, the database equals the chain
 * with one copy of every row, and no API key reaches the logs. A test marked `it.fails` asserts
 * behaviour the indexer does not have yet; its comment names what is missing.
 *
 * Workers here are wired like `runWorker` (checkChainIds → createRpcPool → createActivities) with
 * one workflow bundle for the file and a pino logger writing into memory: `startIndexerWorker`
 * skips the chain-id check and writes its logs to stdout, where they cannot be searched for keys. The three-endpoint test runs the real
 * `src/worker.ts` process and reads its stdout and stderr.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { retryingLines } from '../../src/cli/retrying.js';
import { createActivities } from '../../src/activities/index.js';
import { checkChainIds, createRpcPool, type RpcPool } from '../../src/rpc/index.js';
import { WORKFLOWS_PATH } from '../../src/worker.js';
import {
  backfillProgressQuery, backfillWorkflowId, chainSyncWorkflowId, syncProgressQuery,
  type BackfillInput, type BackfillProgress, type ChainSyncInput,
} from '../../src/workflows/definitions.js';
import { diffWithChain, findIntegrityProblems, rpc } from '../support/chain-oracle.js';
import { DEV_ACCOUNTS, generateTraffic, startAnvil, type Anvil } from '../support/devnet.js';
import { reorg } from '../support/reorg.js';
import { cliEnvironment, runClient } from '../support/cli.js';
import { startFaultProxy, type FaultProxy, type ProxyRecord } from '../support/fault-proxy.js';
import { closedPort, createTestDatabase, startTemporal, waitFor, type TestDatabase } from '../support/stack.js';

const CHAIN_ID = 31337;
const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** Every endpoint URL carries this key (path, query or password); no log line may. */
const SECRET = 'SECRETKEY9f8e7d6c5b4a';
/** ms per JSON-RPC HTTP request: short, so stalls cost little. */
const RPC_TIMEOUT_MS = 1_500;
/** Blocks per indexRange: two JSON-RPC batches of 10 blocks (20 calls) each, as in production. */
const BATCH_SIZE_BLOCKS = 20;
const CONCURRENCY = 3;
/** ms a backfill gets to complete; a healthy one takes ~1 s, this leaves room for 3 activity retries (1 + 2 + 4 s). */
const DEADLINE_MS = 12_000;
/**
 * ms after a 429 during which a request may still arrive that the client sent before reading it.
 * Generous: the proxy, the worker and the Temporal client share this process's event loop, so a
 * request's arrival stamp can trail its sending by tens of ms. A pool that ignores Retry-After
 * keeps sending for the whole 1–2 s and is still caught.
 */
const IN_FLIGHT_GRACE_MS = 250;
/** ms every endpoint stays down in the outage test. */
const OUTAGE_MS = 30_000;
/**
 * ms an outage test may take: the 30 s outage, then up to 60 s of activity backoff (Temporal's
 * 1, 2, 4 … s, capped at 60 s) before the next attempt finds the endpoints back, then the catch-up.
 */
const OUTAGE_TEST_TIMEOUT_MS = 240_000;
/** Blocks of the range the three-endpoint test indexes (the acceptance). */
const TWO_THOUSAND_BLOCKS = 2_000;
const CONFIRMATION_DEPTH_BLOCKS = 2;

type FaultWorker = { taskQueue: string; pool: RpcPool; logs(): string; stop(): Promise<void> };

describe('RPC faults between the indexer and its endpoints', () => {
  let anvil: Anvil;
  let env: TestWorkflowEnvironment;
  let database: TestDatabase;
  let bundle: WorkflowBundleWithSourceMap;
  let proxy: FaultProxy;
  let proxy2: FaultProxy;
  /** Head of the chain the tests index: blocks 0..HEAD. */
  let HEAD: number;
  let snapshot: string;
  let workerCount = 0;
  /** Set by a test that ran anvil_reorg: anvil then has no snapshot to go back to. */
  let chainReorged = false;
  const cleanups: (() => Promise<unknown>)[] = [];

  const secretUrl = (p: FaultProxy, tag: string) => `${p.url}/v2/${SECRET}${tag}`;

  beforeAll(async () => {
    [anvil, env, database, bundle] = await Promise.all([
      startAnvil({ chainId: CHAIN_ID }), startTemporal(), createTestDatabase('rpc_faults'),
      bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') }),
    ]);
    await generateTraffic(anvil.rpcUrl);
    await rpc(anvil.rpcUrl, 'anvil_mine', ['0x23']);
    await generateTraffic(anvil.rpcUrl); // transactions and logs near the head too, where lag faults bite
    HEAD = Number(BigInt(await rpc<string>(anvil.rpcUrl, 'eth_blockNumber')));
    [proxy, proxy2] = await Promise.all([startFaultProxy({ upstream: anvil.rpcUrl }), startFaultProxy({ upstream: anvil.rpcUrl })]);
  });

  afterAll(async () => {
    await proxy?.close();
    await proxy2?.close();
    await env?.teardown();
    await anvil?.stop();
    await database?.drop();
  });

  beforeEach(async () => {
    await sql`truncate blocks, transactions, logs, withdrawals, cursors`.execute(database.db);
    proxy.reset();
    proxy2.reset();
    snapshot = await rpc<string>(anvil.rpcUrl, 'evm_snapshot');
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
    await Promise.all([proxy.setDown(false), proxy2.setDown(false)]);
    if (chainReorged) chainReorged = false;
    else await rpc(anvil.rpcUrl, 'evm_revert', [snapshot]);
  });

  /**
   * A worker wired like runWorker (chain-id check, pool, activities) on a fresh task queue; logs kept in memory.
   * The pool never explores (`random` always 1), so its first request goes to the first URL (every endpoint
   * starts with the same score) and later ones to the best-ranked: which endpoint a fault meets is then fixed.
   * With a random 5 % exploration, a faulty endpoint listed next to anvil could get one request or none and
   * a test asserting that the fault was met would pass or fail by chance.
   */
  async function startWorker(urls: readonly string[], options: { rpcBatchCalls?: number } = {}): Promise<FaultWorker> {
    const lines: string[] = [];
    const log = pino({ level: 'debug', base: { instanceId: 'rpc-faults' }, timestamp: pino.stdTimeFunctions.isoTime, serializers: { err: pino.stdSerializers.err } }, {
      write: (line: string) => void lines.push(line),
    });
    const checked = await checkChainIds({ urls, chainId: CHAIN_ID, timeoutMs: RPC_TIMEOUT_MS, log });
    const pool = createRpcPool({ urls: checked.urls, labels: checked.labels, timeoutMs: RPC_TIMEOUT_MS, log, random: () => 1, ...(options.rpcBatchCalls ? { maxBatchCalls: options.rpcBatchCalls } : {}) });
    log.info({ endpoints: pool.labels }, 'endpoints-checked');
    const taskQueue = `rpc-faults-${++workerCount}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      workflowBundle: bundle,
      activities: createActivities({ db: database.db, pool, chainId: CHAIN_ID, log, ...(options.rpcBatchCalls ? { rpcBatchCalls: options.rpcBatchCalls } : {}) }),
      maxConcurrentActivityTaskExecutions: 16,
      shutdownGraceTime: '5 seconds',
    });
    const running = worker.run();
    const stop = async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      pool.close();
    };
    cleanups.push(stop);
    return { taskQueue, pool, logs: () => lines.join(''), stop };
  }

  async function startBackfill(taskQueue: string, options: { batchSize?: number; concurrency?: number; from?: number; to?: number } = {}) {
    const from = options.from ?? 0;
    const to = options.to ?? HEAD;
    const input: BackfillInput = { chainId: CHAIN_ID, from, to, batchSize: options.batchSize ?? BATCH_SIZE_BLOCKS, concurrency: options.concurrency ?? CONCURRENCY };
    const handle = await env.client.workflow.start('backfill', { workflowId: backfillWorkflowId(CHAIN_ID, from, to), taskQueue, args: [input] });
    cleanups.push(() => handle.terminate('test over'));
    return handle;
  }

  /** Backfills 0..HEAD through `worker` and returns the workflow's result. */
  async function backfill(worker: FaultWorker, options: { batchSize?: number; concurrency?: number } = {}): Promise<BackfillProgress> {
    return resultWithin(await startBackfill(worker.taskQueue, options), DEADLINE_MS);
  }

  /** The database equals the chain over 0..`to`, every block stored once, and `logs` hold no key. */
  async function expectIndexed(logs: string, to = HEAD): Promise<void> {
    expect(await diffWithChain(database.db, anvil.rpcUrl, CHAIN_ID, 0, to)).toEqual([]);
    expect(await findIntegrityProblems(database.db, CHAIN_ID)).toEqual([]);
    const stored = await database.db.selectFrom('blocks').select('number').where('chain_id', '=', CHAIN_ID).orderBy('number').execute();
    expect(stored.map((b) => b.number)).toEqual(Array.from({ length: to + 1 }, (_, i) => i));
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).not.toContain('SECRETKEY');
  }

  const done = () => ({ status: 'done', from: 0, to: HEAD, doneThrough: HEAD, blocksDone: HEAD + 1 });

  it('latency: every answer 200 ms late → the backfill completes, equal to the chain', async () => {
    const worker = await startWorker([secretUrl(proxy, 'a')]);
    proxy.set({ latencyMs: 200 });
    expect(await backfill(worker)).toMatchObject(done());
    expect(proxy.stats().faults.latency).toBeGreaterThanOrEqual(7);
    await expectIndexed(worker.logs());
  });

  it('stall: every 2nd request never answered (proxy + anvil) → timed out after 1.5 s, moved to anvil, completes', async () => {
    proxy.set({ stall: { every: 2 } }); // request 1 is the chain-id check, 2 the pool's first request
    const worker = await startWorker([secretUrl(proxy, 'a'), anvil.rpcUrl]);
    expect(await backfill(worker)).toMatchObject(done());
    expect(proxy.stats().faults.stall).toBeGreaterThanOrEqual(1);
    expect(worker.logs()).toContain(`no answer within ${RPC_TIMEOUT_MS} ms`);
    await expectIndexed(worker.logs());
  });

  describe('HTTP 429 with Retry-After in seconds on every 2nd request (proxy + anvil)', () => {
    let records: ProxyRecord[] = [];
    it('the backfill completes, equal to the chain', async () => {
      proxy.set({ http429: { when: { every: 2 }, retryAfterSeconds: 1, form: 'seconds' } }); // request 2 is the pool's first
      const worker = await startWorker([secretUrl(proxy, 'a'), anvil.rpcUrl]);
      expect(await backfill(worker, { batchSize: 5 })).toMatchObject(done());
      records = [...proxy.records()];
      expect(proxy.stats().faults.http429).toBeGreaterThanOrEqual(1);
      await expectIndexed(worker.logs());
    });
    it('sends the endpoint nothing until its Retry-After has passed (RFC 9110 §10.2.3)', () => {
      expect(records.length).toBeGreaterThan(0);
      expect(retryAfterViolations(records)).toEqual([]);
    });
  });

  describe('HTTP 429 with Retry-After as an HTTP-date (2 s) on every request for 2.5 s, the only endpoint', () => {
    let records: ProxyRecord[] = [];
    it('the backfill completes once the limit lifts, equal to the chain', async () => {
      const worker = await startWorker([secretUrl(proxy, 'a')]);
      proxy.set({ http429: { when: 'always', retryAfterSeconds: 2, form: 'http-date' } });
      const handle = await startBackfill(worker.taskQueue, { batchSize: 5 });
      await waitFor('429 answers over 2.5 s', () => {
        const limited = proxy.records().filter((r) => r.status === 429);
        return limited.length > 0 && limited[limited.length - 1]!.atMs - limited[0]!.atMs >= 2_500;
      }, { timeoutMs: DEADLINE_MS, intervalMs: 100 });
      records = [...proxy.records()];
      proxy.reset();
      expect(await resultWithin(handle, DEADLINE_MS, { giveUpAfterFailedAttempts: Number.POSITIVE_INFINITY })).toMatchObject(done());
      expect(records.every((r) => r.status === 429)).toBe(true);
      await expectIndexed(worker.logs());
    });
    it('sends the endpoint nothing until its Retry-After has passed (RFC 9110 §10.2.3)', () => {
      expect(records.length).toBeGreaterThan(0);
      expect(retryAfterViolations(records)).toEqual([]);
    });
  });

  it('HTTP 429 with Retry-After: 0 on every request for 2 s, the only endpoint → the activity is retried (not failed for good), the backfill completes', async () => {
    const worker = await startWorker([secretUrl(proxy, 'a')]);
    proxy.set({ http429: { when: 'always', retryAfterSeconds: 0, form: 'seconds' } });
    const handle = await startBackfill(worker.taskQueue, { batchSize: 5 });
    await waitFor('a 429 answer', () => proxy.records().some((r) => r.status === 429), { timeoutMs: DEADLINE_MS, intervalMs: 50 });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(proxy.stats().faults.http429).toBeGreaterThanOrEqual(2);
    proxy.reset();
    expect(await resultWithin(handle, DEADLINE_MS, { giveUpAfterFailedAttempts: Number.POSITIVE_INFINITY })).toMatchObject(done());
    await expectIndexed(worker.logs());
  });

  it('HTTP 503 on every 2nd request (proxy + anvil) → moved to anvil, completes', async () => {
    proxy.set({ http5xx: { when: { every: 2 }, status: 503 } }); // request 1 is the chain-id check, 2 the pool's first request
    const worker = await startWorker([secretUrl(proxy, 'a'), anvil.rpcUrl]);
    expect(await backfill(worker)).toMatchObject(done());
    expect(proxy.stats().faults.http5xx).toBeGreaterThanOrEqual(1);
    await expectIndexed(worker.logs());
  });

  // Regression (was missing, fixed in src/rpc): a failed JSON-RPC batch is never retried on its own. fetchBlocks runs the batches of a
  // range with Promise.all and the pool tries each endpoint once, so one failed batch fails the whole
  // indexRange attempt and throws away the batches that succeeded. With one endpoint failing every
  // 2nd request, each attempt (2 batches) has exactly one failure and the range never completes; with
  // a random 50 % it succeeds with p = 0.5^k for k batches (k = 10 at the default BATCH_SIZE of 100).
  it('HTTP 503 on every 2nd request of the only endpoint → each batch still completes', async () => {
    const worker = await startWorker([secretUrl(proxy, 'a')]);
    proxy.set({ http5xx: { when: { every: 2 }, status: 503 } });
    expect(await backfill(worker, { concurrency: 1 })).toMatchObject(done());
    await expectIndexed(worker.logs());
  });

  it('connection reset on the first 3 requests (proxy only) → activities retried, completes', async () => {
    const worker = await startWorker([secretUrl(proxy, 'a')]);
    proxy.set({ reset: { first: 3 } });
    expect(await backfill(worker)).toMatchObject(done());
    expect(proxy.stats().faults.reset).toBe(3);
    await expectIndexed(worker.logs());
  });

  it('an HTML page with HTTP 200 instead of JSON on every 2nd request (proxy + anvil) → moved to anvil, completes', async () => {
    proxy.set({ garbage: { every: 2 } }); // request 1 is the chain-id check, 2 the pool's first request
    const worker = await startWorker([secretUrl(proxy, 'a'), anvil.rpcUrl]);
    expect(await backfill(worker)).toMatchObject(done());
    expect(proxy.stats().faults.garbage).toBeGreaterThanOrEqual(1);
    await expectIndexed(worker.logs());
  });

  it('nginx HTML 413 for batches above 8 calls (proxy only) → batches split, completes', async () => {
    const worker = await startWorker([secretUrl(proxy, 'a')]);
    proxy.set({ maxBatchItems: 8 });
    expect(await backfill(worker)).toMatchObject(done());
    expect(proxy.stats().faults.http413).toBeGreaterThanOrEqual(1);
    expect(proxy.records().filter((r) => r.status === 200).every((r) => r.methods.length <= 8)).toBe(true);
    await expectIndexed(worker.logs());
  });

  for (const style of ['geth', 'erigon', 'nethermind', 'drpc'] as const) {
    it(`${style}'s batch-limit error for batches above 8 calls (proxy only) → batches split, completes`, async () => {
      const worker = await startWorker([secretUrl(proxy, 'a')]);
      proxy.set({ batchLimit: { maxItems: 8, style } });
      expect(await backfill(worker)).toMatchObject(done());
      expect(proxy.stats().faults.batchLimit).toBeGreaterThanOrEqual(1);
      const answered = proxy.records().filter((r) => r.status === 200 && !r.faults.includes('batchLimit'));
      expect(answered.length).toBeGreaterThan(0);
      expect(answered.every((r) => r.methods.length <= 8)).toBe(true);
      await expectIndexed(worker.logs());
    });
  }

  it('RPC_BATCH_CALLS 8 against an endpoint that refuses batches above 8 calls (proxy only) → never refused, batches of 4 blocks, completes', async () => {
    const worker = await startWorker([secretUrl(proxy, 'a')], { rpcBatchCalls: 8 });
    proxy.set({ batchLimit: { maxItems: 8, style: 'erigon' } });
    expect(await backfill(worker)).toMatchObject(done());
    expect(proxy.stats().faults.batchLimit).toBeUndefined();
    const blockBatches = proxy.records().filter((r) => r.methods.includes('eth_getBlockReceipts'));
    expect(blockBatches.length).toBeGreaterThan(0);
    expect(Math.max(...blockBatches.map((r) => r.methods.length))).toBe(8);
    await expectIndexed(worker.logs());
  });

  it('batch answers in reverse order (proxy only) → matched by id, completes', async () => {
    const worker = await startWorker([secretUrl(proxy, 'a')]);
    proxy.set({ reorder: true });
    expect(await backfill(worker)).toMatchObject(done());
    expect(proxy.stats().faults.reorder).toBeGreaterThanOrEqual(7);
    await expectIndexed(worker.logs());
  });

  // Regression (was missing, fixed in src/rpc): calls missing from a batch answer are not asked again. matchById turns them into
  // -32603 outcomes "so the caller can retry it alone", but fetchBlocks' accept() throws on the
  // first one, failing the whole batch and then the activity; the endpoint drops items again on
  // every retry, so the range never completes. Re-requesting only the missing calls would.
  it('every 3rd call missing from each batch answer (proxy only) → missing calls asked again, completes', async () => {
    const worker = await startWorker([secretUrl(proxy, 'a')]);
    proxy.set({ dropItems: { every: 3 } });
    expect(await backfill(worker)).toMatchObject(done());
    await expectIndexed(worker.logs());
  });

  it('one JSON-RPC error object instead of the batch array on the first 3 requests for blocks (proxy only) → retried, completes', async () => {
    const worker = await startWorker([secretUrl(proxy, 'a')]);
    // The blocks' batches: the backfill's head read goes first and is not hit.
    proxy.set({ singleError: { when: { first: 3 }, code: -32603, message: 'Internal error', onlyWith: 'eth_getBlockReceipts' } });
    expect(await backfill(worker)).toMatchObject(done());
    expect(proxy.stats().faults.singleError).toBe(3);
    await expectIndexed(worker.logs());
  });

  // Regression (was missing, fixed in src/rpc): calls of a batch that answer -32005 are not retried on their own (after a backoff) and
  // the batch is not made smaller. One rate-limited call fails the batch and the activity, and the
  // endpoint limits the same calls on every retry, so the range never completes.
  it('JSON-RPC -32005 for calls 11–20 of each batch (proxy only) → those calls retried, completes', async () => {
    const worker = await startWorker([secretUrl(proxy, 'a')]);
    proxy.set({ rateLimitItems: { fromItem: 10 } });
    expect(await backfill(worker)).toMatchObject(done());
    await expectIndexed(worker.logs());
  });

  // The healthy endpoint answers 300 ms late, so the latency-ranked pool prefers the lagging one.
  it('a node 5 blocks behind (null blocks, [] receipts 10 blocks down) next to a slower healthy one → lagging answers refused, completes', async () => {
    const worker = await startWorker([secretUrl(proxy, 'a'), secretUrl(proxy2, 'b')]);
    proxy.set({ lag: { blocks: 5, receiptsBlocks: 10 } });
    proxy2.set({ latencyMs: 300 });
    expect(await backfill(worker, { batchSize: 10 })).toMatchObject(done());
    expect(proxy.stats().faults.lag).toBeGreaterThanOrEqual(1);
    await expectIndexed(worker.logs());
  });

  it('an endpoint serving chain id 1 is excluded at start (proxy + anvil) and never asked for blocks', async () => {
    proxy.set({ chainId: 1 });
    const worker = await startWorker([secretUrl(proxy, 'a'), anvil.rpcUrl]);
    expect(worker.pool.labels).toEqual([expect.stringMatching(new RegExp(`^127\\.0\\.0\\.1:${anvil.port}#\\d$`))]);
    expect(worker.logs()).toContain('"servedChainId":1');
    expect(await backfill(worker)).toMatchObject(done());
    expect(proxy.stats().byMethod).toEqual({ eth_chainId: 1 });
    await expectIndexed(worker.logs());
  });

  // Regression (was missing, fixed in src/rpc): createRpcPool numbers the endpoints that survived checkChainIds, not their RPC_URL
  // positions, so after #1 is excluded the second URL is logged as `#1` too (the pool's docstring
  // promises `host#n` in RPC_URL order); with two URLs on one host the logs confuse them.
  it('an excluded endpoint leaves the others labelled by their RPC_URL position', async () => {
    proxy.set({ chainId: 1 });
    const worker = await startWorker([secretUrl(proxy, 'a'), anvil.rpcUrl]);
    expect(worker.pool.labels).toEqual([`127.0.0.1:${anvil.port}#2`]);
  });

  it('a head that goes backwards (every 2nd head read 10 blocks lower): the sync never moves its cursor back nor rolls back, and follows new blocks', async () => {
    const worker = await startWorker([secretUrl(proxy, 'a')]);
    proxy.set({ headBehind: { blocks: 10, when: { every: 2 } } });
    const input: ChainSyncInput = {
      chainId: CHAIN_ID, startBlock: 0, batchSize: BATCH_SIZE_BLOCKS, concurrency: CONCURRENCY,
      confirmationDepth: CONFIRMATION_DEPTH_BLOCKS, finality: 'depth', pollIntervalMs: 200, maxRetries: 0, gapCheckIntervalMs: 1_000,
    };
    const handle = await env.client.workflow.start('chainSync', { workflowId: chainSyncWorkflowId(CHAIN_ID), taskQueue: worker.taskQueue, args: [input] });
    cleanups.push(() => handle.terminate('test over'));
    const cursors: number[] = [];
    const caughtUpAt = (cursor: number) => waitFor(`the sync to reach ${cursor}`, async () => {
      const progress = await handle.query(syncProgressQuery);
      cursors.push(progress.cursor);
      return progress.cursor >= cursor && progress.status === 'caught-up' ? progress : undefined;
    }, { timeoutMs: DEADLINE_MS, intervalMs: 100 });
    await caughtUpAt(HEAD - CONFIRMATION_DEPTH_BLOCKS);
    await rpc(anvil.rpcUrl, 'anvil_mine', ['0x5']);
    const target = HEAD + 5 - CONFIRMATION_DEPTH_BLOCKS;
    const progress = await caughtUpAt(target);
    expect([progress.cursor, progress.reorgs]).toEqual([target, 0]);
    expect(cursors).toEqual([...cursors].sort((a, b) => a - b));
    expect(proxy.stats().faults.headBehind).toBeGreaterThanOrEqual(2);
    expect(worker.logs()).not.toMatch(/reorg-|rolled-back/);
    await expectIndexed(worker.logs(), target);
  });

  it('eth_getBlockReceipts answered -32601 by the only endpoint → receipts read per transaction, completes', async () => {
    const worker = await startWorker([secretUrl(proxy, 'a')]);
    proxy.set({ unsupportedMethods: ['eth_getBlockReceipts'] });
    expect(await backfill(worker)).toMatchObject(done());
    expect(proxy.stats().byMethod.eth_getTransactionReceipt).toBeGreaterThanOrEqual(1);
    await expectIndexed(worker.logs());
  });

  it('eth_getBlockReceipts answered -32601 by one of two endpoints (proxy + anvil) → moved to anvil, completes', async () => {
    const worker = await startWorker([secretUrl(proxy, 'a'), anvil.rpcUrl]);
    proxy.set({ unsupportedMethods: ['eth_getBlockReceipts'] });
    expect(await backfill(worker)).toMatchObject(done());
    expect(proxy.stats().faults.unsupported).toBeGreaterThanOrEqual(1);
    await expectIndexed(worker.logs());
  });

  it('three endpoints — a closed port, 429 on every 2nd request, a healthy one: the worker process indexes a 2,000-block range, benches and recovers, and prints no API key', async () => {
    const deadPort = await closedPort();
    await rpc(anvil.rpcUrl, 'anvil_mine', [`0x${(TWO_THOUSAND_BLOCKS - 1 - HEAD).toString(16)}`]); // reverted after the test
    const to = TWO_THOUSAND_BLOCKS - 1;
    proxy.set({ http429: { when: { every: 2 }, retryAfterSeconds: 1 } });
    const urls = [
      `http://127.0.0.1:${deadPort}/v2/${SECRET}down`,
      `${proxy.url}/v3/${SECRET}limited?apikey=${SECRET}query`,
      `http://indexer:${SECRET}pass@127.0.0.1:${anvil.port}/`,
    ];
    const taskQueue = 'rpc-faults-process';
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', RPC_URL: urls.join(','), CHAIN_ID: String(CHAIN_ID),
        DATABASE_URL: database.url, TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: env.namespace ?? 'default',
        TASK_QUEUE: taskQueue, LOG_LEVEL: 'debug', RPC_TIMEOUT: String(RPC_TIMEOUT_MS), INSTANCE_ID: 'rpc-faults-process',
      },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let hasExited = false;
    void exited.then(() => (hasExited = true));
    cleanups.push(async () => { if (!hasExited) child.kill('SIGKILL'); await exited; });
    await waitFor('the worker process to serve its task queue', () => {
      if (hasExited) throw new Error(`worker exited: ${output.slice(-2000)}`);
      return output.includes('"worker-started"');
    }, { timeoutMs: 60_000 });
    const handle = await startBackfill(taskQueue, { to, batchSize: 100, concurrency: 8 });
    expect(await resultWithin(handle, 120_000)).toMatchObject({ status: 'done', from: 0, to, blocksDone: TWO_THOUSAND_BLOCKS });
    // #2 logs its recovery at its first success after a 429. After a 429 it ranks last, so only the
    // pool's exploration (5 %) sends it requests, and half of those met another 429: with the
    // faults off, re-index a range (40 JSON-RPC requests a round) until one reaches it.
    const http429s = proxy.stats().faults.http429 ?? 0;
    proxy.set({});
    const recovered = /"endpoint":"127\.0\.0\.1:\d+#2"[^\n]*"msg":"endpoint-recovered"/;
    const deadline = Date.now() + 90_000;
    for (let round = 1; !recovered.test(output) && Date.now() < deadline; round++) {
      await new Promise((resolve) => setTimeout(resolve, 1_100)); // past its bench (Retry-After: 1)
      const again = await env.client.workflow.start('backfill', {
        workflowId: `${backfillWorkflowId(CHAIN_ID, 0, 399)}:again-${round}`, taskQueue,
        args: [{ chainId: CHAIN_ID, from: 0, to: 399, batchSize: 10, concurrency: 8 } satisfies BackfillInput],
      });
      expect(await resultWithin(again, 60_000)).toMatchObject({ status: 'done', from: 0, to: 399, blocksDone: 400 });
    }
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(http429s).toBeGreaterThanOrEqual(1);
    expect(output).toContain(`127.0.0.1:${deadPort}#1`); // the dead endpoint is named, by its label
    expect(JSON.stringify(await handle.fetchHistory())).not.toContain('SECRETKEY');
    expect(output).toMatch(/"endpoint":"127\.0\.0\.1:\d+#2"[^\n]*"msg":"endpoint-rate-limited"/); // benched…
    expect(output).toMatch(recovered); // …and back
    await expectIndexed(output, to);
  }, 300_000); // worker start (≤ 60 s), the backfill, then re-index rounds (≤ 90 s)

  it('every endpoint down for 30 s mid-backfill: the backfill resumes by itself and completes with no gap', async () => {
    const worker = await startWorker([secretUrl(proxy, 'a'), secretUrl(proxy2, 'b')]);
    proxy.set({ latencyMs: 400 });
    proxy2.set({ latencyMs: 400 });
    const handle = await startBackfill(worker.taskQueue, { batchSize: 10, concurrency: 2 });
    await waitFor('the first batch stored', async () => (await handle.query(backfillProgressQuery)).doneThrough >= 9, { intervalMs: 50 });
    await Promise.all([proxy.setDown(true), proxy2.setDown(true)]);
    const downAtMs = Date.now();
    const retried = await waitFor('an activity retry to fail against the closed ports', async () => {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      // After the first failures the breakers open, so later attempts say no endpoint is usable.
      return pending.find((a) => (a.attempt ?? 0) >= 2 && /connection failed|no RPC endpoint is usable/.test(a.lastFailure?.message ?? ''));
    }, { timeoutMs: OUTAGE_MS });
    expect(retried.activityType?.name).toBe('indexRange');
    await waitFor('the outage to last its 30 s', () => Date.now() - downAtMs >= OUTAGE_MS, { timeoutMs: OUTAGE_MS + 1_000, intervalMs: 100 });
    expect((await handle.query(backfillProgressQuery)).status).toBe('running');
    await Promise.all([proxy.setDown(false), proxy2.setDown(false)]);
    expect(await resultWithin(handle, 90_000, { giveUpAfterFailedAttempts: Number.POSITIVE_INFINITY })).toMatchObject(done());
    await expectIndexed(worker.logs());
  }, OUTAGE_TEST_TIMEOUT_MS);

  it('every endpoint down for 30 s while the sync runs: the sync waits, then resumes by itself, still running, with no gap', async () => {
    const worker = await startWorker([secretUrl(proxy, 'a'), secretUrl(proxy2, 'b')]);
    proxy.set({ latencyMs: 400 });
    proxy2.set({ latencyMs: 400 });
    const input: ChainSyncInput = {
      chainId: CHAIN_ID, startBlock: 0, batchSize: 10, concurrency: 2,
      confirmationDepth: CONFIRMATION_DEPTH_BLOCKS, finality: 'depth', pollIntervalMs: 200, maxRetries: 0, gapCheckIntervalMs: 1_000,
    };
    const handle = await env.client.workflow.start('chainSync', { workflowId: chainSyncWorkflowId(CHAIN_ID), taskQueue: worker.taskQueue, args: [input] });
    cleanups.push(() => handle.terminate('test over'));
    await waitFor('the first batch stored', async () => (await handle.query(syncProgressQuery)).cursor >= 9, { intervalMs: 50 });
    await Promise.all([proxy.setDown(true), proxy2.setDown(true)]);
    const downAtMs = Date.now();
    await rpc(anvil.rpcUrl, 'anvil_mine', ['0x5']); // the chain moves on during the outage
    const retried = await waitFor('an activity retry to fail against the closed ports', async () => {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      return pending.find((a) => (a.attempt ?? 0) >= 2 && /connection failed|no RPC endpoint is usable/.test(a.lastFailure?.message ?? ''));
    }, { timeoutMs: OUTAGE_MS });
    expect(['indexRange', 'getChainHead']).toContain(retried.activityType?.name);
    // What `status` adds under the sync's progress: the failing activity, its attempt and why.
    expect(retryingLines((await handle.describe()).raw.pendingActivities ?? [], Date.now()).join('\n'))
      .toMatch(/^ {2}retrying {2}(indexRange|getChainHead), attempt \d+( \(next in \d+ s\)| \(running again\))?: .*(connection failed|no RPC endpoint is usable)/m);
    // The client's status says so in its first line, the table in its status column.
    const settings = cliEnvironment({ DATABASE_URL: database.url, TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: env.namespace ?? 'default', TASK_QUEUE: worker.taskQueue });
    const one = await runClient(settings, ['status', '--chain-id', String(CHAIN_ID)]);
    expect([one.code, one.stdout.split('\n')[0]]).toEqual([0, expect.stringMatching(new RegExp(`^chain-sync:${CHAIN_ID}: running \\((syncing|caught-up); [1-9]\\d* activit(y|ies) retrying, below\\)$`))]);
    const table = await runClient(settings, ['status']);
    expect([table.code, table.stdout.split('\n')[3]]).toEqual([0, expect.stringMatching(new RegExp(`^│ +${CHAIN_ID} │ chain-sync:${CHAIN_ID} │ (syncing|caught-up), [1-9]\\d* activit(y|ies) retrying │`))]);
    await waitFor('the outage to last its 30 s', () => Date.now() - downAtMs >= OUTAGE_MS, { timeoutMs: OUTAGE_MS + 1_000, intervalMs: 100 });
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await Promise.all([proxy.setDown(false), proxy2.setDown(false)]);
    const target = HEAD + 5 - CONFIRMATION_DEPTH_BLOCKS;
    const progress = await waitFor(`the sync to catch up to ${target}`, async () => {
      const p = await handle.query(syncProgressQuery);
      return p.cursor >= target && p.status === 'caught-up' ? p : undefined;
    }, { timeoutMs: 90_000, intervalMs: 200 });
    expect([progress.cursor, progress.reorgs]).toEqual([target, 0]);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await expectIndexed(worker.logs(), target);
  }, OUTAGE_TEST_TIMEOUT_MS);

  // Last: it reorganizes anvil's chain, which no evm_revert undoes.
  it('a backfill served blocks of a chain reorganized away (a node behind a reorg) stores none of them between the stored canonical blocks, and completes once the node caught up', async () => {
    const worker = await startWorker([secretUrl(proxy, 'a')]);
    expect(await backfill(worker)).toMatchObject(done());
    // The chain's blocks HEAD − 9 … HEAD − 1 as they are now; then a reorg replaces HEAD − 5 … HEAD.
    const from = HEAD - 9;
    const to = HEAD - 1;
    const stale = new Map<number, { block: unknown; receipts: unknown }>();
    for (let n = from; n <= to; n++) {
      const tag = `0x${n.toString(16)}`;
      stale.set(n, { block: await rpc(anvil.rpcUrl, 'eth_getBlockByNumber', [tag, true]), receipts: await rpc(anvil.rpcUrl, 'eth_getBlockReceipts', [tag]) });
    }
    chainReorged = true; // anvil_reorg drops every evm_snapshot: the tests after this one see the new chain
    const replaced = await reorg(anvil.rpcUrl, 6, [[{ from: DEV_ACCOUNTS[5]!.address, to: DEV_ACCOUNTS[6]!.address, value: '0x2a' }, 0]]);
    expect(replaced.replacedFrom).toBe(HEAD - 5);
    expect(await resultWithin(await startBackfill(worker.taskQueue, { from: HEAD - 6, to: HEAD }), DEADLINE_MS)).toMatchObject({ status: 'done', doneThrough: HEAD });
    await expectIndexed(worker.logs());

    // The lagging node: its blocks HEAD − 5 … HEAD − 1 are the old chain's; HEAD, stored, is the new one's.
    proxy.set({ stale });
    const handle = await startBackfill(worker.taskQueue, { from, to, batchSize: 5 });
    await waitFor('the last batch refused twice', async () => {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      return pending.some((a) => (a.attempt ?? 1) >= 3 && a.lastFailure?.message?.includes(`block ${to} is ${(stale.get(to)!.block as { hash: string }).hash}, but the stored block ${HEAD}'s parent is ${replaced.newHashes[4]}`));
    }, { timeoutMs: DEADLINE_MS, intervalMs: 200 });
    expect(proxy.stats().faults.stale).toBeGreaterThanOrEqual(10);
    // The batch next to the stored block HEAD stored nothing: block HEAD − 1 is still the new chain's.
    // (A batch below it may hold the old chain's blocks until the backfill's own seams are checked,
    // when its last batch lands, as after any reorg during a backfill.)
    expect(await diffWithChain(database.db, anvil.rpcUrl, CHAIN_ID, to, HEAD)).toEqual([]);
    // A backfill from inside the replaced blocks: its first block's parent is not the stored block below.
    const inner = await startBackfill(worker.taskQueue, { from: HEAD - 3, to, batchSize: 5 });
    await waitFor('the first batch refused twice', async () => {
      const pending = (await inner.describe()).raw.pendingActivities ?? [];
      return pending.some((a) => (a.attempt ?? 1) >= 3 && a.lastFailure?.message?.includes(`block ${HEAD - 3}'s parent is ${replaced.oldHashes[1]}, but the stored block ${HEAD - 4} is ${replaced.newHashes[1]}`));
    }, { timeoutMs: DEADLINE_MS, intervalMs: 200 });
    expect(await diffWithChain(database.db, anvil.rpcUrl, CHAIN_ID, HEAD - 4, HEAD)).toEqual([]);
    proxy.reset();
    expect(await resultWithin(handle, DEADLINE_MS, { giveUpAfterFailedAttempts: Number.POSITIVE_INFINITY })).toMatchObject({ status: 'done', doneThrough: to });
    expect(await resultWithin(inner, DEADLINE_MS, { giveUpAfterFailedAttempts: Number.POSITIVE_INFINITY })).toMatchObject({ status: 'done', doneThrough: to });
    await expectIndexed(worker.logs());
  }, 60_000);
});

/**
 * The workflow's result. Gives up with an error naming the failing activities once `ms` passed or
 * one activity has failed `giveUpAfterFailedAttempts` times in a row (default 3: 1 + 2 + 4 s of
 * Temporal backoff, more than any fault here needs when the indexer handles it).
 */
async function resultWithin(handle: WorkflowHandle, ms: number, options: { giveUpAfterFailedAttempts?: number } = {}): Promise<BackfillProgress> {
  const giveUpAfter = options.giveUpAfterFailedAttempts ?? 3;
  let settled: { ok: true; value: BackfillProgress } | { ok: false; err: unknown } | undefined;
  (handle.result() as Promise<BackfillProgress>).then((value) => (settled = { ok: true, value }), (err: unknown) => (settled = { ok: false, err }));
  const deadlineMs = Date.now() + ms;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const outcome = settled as typeof settled; // assigned by the callbacks above
    if (outcome?.ok) return outcome.value;
    if (outcome) throw new Error(`${handle.workflowId} failed: ${causes(outcome.err)}`);
    const pending = (await handle.describe()).raw.pendingActivities ?? [];
    const stuck = pending.some((a) => (a.attempt ?? 1) > giveUpAfter && a.lastFailure);
    if (stuck || Date.now() > deadlineMs) {
      const lines = pending.map((a) => `${a.activityType?.name} attempt ${a.attempt}: ${a.lastFailure?.message ?? 'no failure yet'}`);
      const why = stuck ? `an activity failed ${giveUpAfter} times in a row` : `not completed within ${ms} ms`;
      throw new Error(`${handle.workflowId}: ${why}; pending: ${lines.join(' | ') || 'none'}`);
    }
  }
}

function causes(err: unknown): string {
  const messages: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = e.cause) messages.push(e.message);
  return messages.join(' ← ');
}

/**
 * Requests that arrived while an earlier 429's Retry-After was still running (allowing
 * IN_FLIGHT_GRACE_MS for requests sent before the client read the 429). One line each.
 */
function retryAfterViolations(records: readonly ProxyRecord[]): string[] {
  const violations: string[] = [];
  const t0 = records[0]?.atMs ?? 0;
  for (const limited of records) {
    if (limited.retryAfterUntilMs === undefined) continue;
    for (const next of records) {
      if (next.atMs > limited.atMs + IN_FLIGHT_GRACE_MS && next.atMs < limited.retryAfterUntilMs) {
        violations.push(`request ${next.index} at +${next.atMs - t0} ms, inside the Retry-After of request ${limited.index} (429 at +${limited.atMs - t0} ms, wait until +${limited.retryAfterUntilMs - t0} ms)`);
      }
    }
  }
  return violations;
}

