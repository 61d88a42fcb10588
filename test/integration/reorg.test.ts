/**
 * Reorgs on the real stack: anvil (`anvil_reorg`, `anvil_mine`, `evm_snapshot`/`evm_revert`) → an
 * RPC gate (test/support/reorg.ts) → an in-process worker with the real activities → chainSync
 * and backfill on a Temporal dev server → Postgres. Every scenario ends with the stored range
 * equal to the chain, no duplicate or orphan rows, nothing stored above the cursor, and the cursor
 * on the chain's block. The gate holds the worker's RPC requests while the test rewrites the chain,
 * so the sync sees the rewritten chain at a known point (a poll, or a batch in flight): the counts
 * of reorgs, rollback depths and deleted blocks are exact.
 * Each describe has its own anvil, chain id, task queue and worker; the Temporal server and the
 * database (rows keyed by chain id) are shared by the file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { keccak256, parseGwei, type Hex } from 'viem';
import { readCursor } from '../../src/db/index.js';
import {
  backfillProgressQuery, backfillWorkflowId, chainSyncWorkflowId, pauseSignal, resumeSignal, syncProgressQuery, verifyWorkflowId,
  type BackfillInput, type ChainSyncInput, type SyncProgress,
} from '../../src/workflows/definitions.js';
import { diffWithChain, findIntegrityProblems, rpc } from '../support/chain-oracle.js';
import { DEV_ACCOUNTS, generateTraffic, keepMining, startAnvil, type Anvil } from '../support/devnet.js';
import {
  activityCalls, blockHash, fetchesBlocks, headNumber, mine, reorg, revertTo, snapshot, startRpcGate,
  type ReorgTx, type RpcGate,
} from '../support/reorg.js';
import { createTestDatabase, startIndexerWorker, startTemporal, waitFor, type TestDatabase, type TestWorker } from '../support/stack.js';

/** How long one wait for the sync may take, in ms; a scenario settles in well under a second. */
const SETTLE_TIMEOUT_MS = 30_000;
/** Poll interval of the syncs under test, in ms. */
const POLL_INTERVAL_MS = 200;

/** The chain id of each describe's rig, with its worker options. */
const RIG_OPTIONS: Record<number, { maxConcurrentActivities?: number }> = {
  31401: {}, 31402: {}, 31403: {}, 31404: {}, 31405: {}, 31406: { maxConcurrentActivities: 1 }, 31407: {}, 31408: {},
};

let env: TestWorkflowEnvironment;
let database: TestDatabase;
const rigs = new Map<number, Rig>();

beforeAll(async () => {
  [env, database] = await Promise.all([startTemporal(), createTestDatabase('reorg')]);
  // All at once (the workflow code is bundled once for all of them). Every start is awaited before a
  // failure is thrown, so afterAll stops whatever did start.
  const started = await Promise.allSettled(Object.entries(RIG_OPTIONS).map(async ([chainId, options]) => rigs.set(Number(chainId), await startRig(Number(chainId), options))));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
});

afterAll(async () => {
  for (const rig of rigs.values()) await rig.teardown();
  await env?.teardown();
  await database?.drop();
});

/** The rig of chain `chainId`, started by the file's beforeAll. */
function rigOf(chainId: number): Rig {
  const rig = rigs.get(chainId);
  if (!rig) throw new Error(`no rig for chain ${chainId}: add it to RIG_OPTIONS`);
  return rig;
}

// ------------------------------------------------------------------------------------------ rig

/** One chain under test: its anvil, the gate the worker talks through, the worker, and its warnings. */
type Rig = {
  chainId: number;
  taskQueue: string;
  anvil: Anvil;
  /** anvil's URL: the test reads and rewrites the chain here, never through the gate. */
  url: string;
  gate: RpcGate;
  worker: TestWorker | null;
  /** Every `log.warn(fields, event)` of the worker(s), in order. */
  warnings: [Record<string, unknown>, string][];
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  /** Terminates the chain's sync, stops the worker, the gate and anvil. Idempotent. */
  teardown(): Promise<void>;
};

async function startRig(chainId: number, options: { maxConcurrentActivities?: number } = {}): Promise<Rig> {
  const anvil = await startAnvil({ chainId });
  const gate = await startRpcGate(anvil.rpcUrl);
  let tornDown = false;
  const rig: Rig = {
    chainId,
    taskQueue: `reorg-${chainId}`,
    anvil,
    url: anvil.rpcUrl,
    gate,
    worker: null,
    warnings: [],
    async startWorker() {
      const worker = await startIndexerWorker({
        env, taskQueue: rig.taskQueue, db: database.db, rpcUrls: [gate.url], chainId, maxConcurrentActivities: options.maxConcurrentActivities,
      });
      // The activities log through this very object: record the warnings (rollbacks) as they happen.
      const warn = worker.log.warn.bind(worker.log) as (...args: unknown[]) => void;
      (worker.log as unknown as { warn: (...args: unknown[]) => void }).warn = (...args: unknown[]) => {
        if (typeof args[0] === 'object' && typeof args[1] === 'string') rig.warnings.push([args[0] as Record<string, unknown>, args[1]]);
        warn(...args);
      };
      rig.worker = worker;
    },
    async stopWorker() {
      await rig.worker?.stop();
      rig.worker = null;
    },
    async teardown() {
      if (tornDown) return;
      tornDown = true;
      await env.client.workflow.getHandle(chainSyncWorkflowId(chainId)).terminate('test over').catch(() => undefined);
      await rig.stopWorker();
      await gate.stop();
      await anvil.stop();
    },
  };
  try {
    await rig.startWorker();
  } catch (err) {
    await rig.teardown();
    throw err;
  }
  return rig;
}

function syncInput(chainId: number, overrides: Partial<ChainSyncInput> = {}): ChainSyncInput {
  return {
    chainId, startBlock: 0, batchSize: 3, concurrency: 2, confirmationDepth: 0, finality: 'depth',
    pollIntervalMs: POLL_INTERVAL_MS, maxRetries: 0, ...overrides,
  };
}

async function startSync(rig: Rig, input: ChainSyncInput): Promise<WorkflowHandleWithFirstExecutionRunId> {
  return env.client.workflow.start('chainSync', {
    workflowId: chainSyncWorkflowId(rig.chainId), taskQueue: rig.taskQueue, args: [input], workflowIdConflictPolicy: 'USE_EXISTING',
  });
}

/**
 * Waits until the sync is caught up on the chain as it is now: cursor = head − `confirmationDepth`,
 * cursor hash = the chain's hash there, and exactly `reorgs` reorgs handled. Returns the progress.
 */
async function waitSynced(
  rig: Rig, handle: WorkflowHandle, expected: { confirmationDepth?: number; reorgs: number | 'any'; timeoutMs?: number },
): Promise<SyncProgress> {
  return waitFor(`chain ${rig.chainId} caught up after ${expected.reorgs} reorgs`, async () => {
    const progress = await handle.query(syncProgressQuery);
    const target = (await headNumber(rig.url)) - (expected.confirmationDepth ?? 0);
    const hash = await blockHash(rig.url, target);
    const reorgsOk = expected.reorgs === 'any' || progress.reorgs === expected.reorgs;
    if (progress.status === 'caught-up' && progress.cursor === target && progress.cursorHash === hash && reorgsOk) return progress;
    throw new Error(`target ${target} ${hash}, progress ${JSON.stringify(progress)}`);
  }, { timeoutMs: expected.timeoutMs ?? SETTLE_TIMEOUT_MS });
}

/**
 * The stored chain equals anvil's from `startBlock` through `cursor`: the cursor row on the chain's
 * block, every block/transaction/receipt/log equal, no duplicates or orphans, and no block stored
 * outside `startBlock..cursor` (nothing left over from a dead branch).
 */
let verifyRuns = 0;

async function expectStoredEqualsChain(rig: Rig, startBlock: number, cursor: number, options: { cursorRow?: boolean } = {}): Promise<void> {
  if (options.cursorRow ?? true) {
    expect(await readCursor(database.db, rig.chainId)).toEqual({ blockNumber: cursor, blockHash: await blockHash(rig.url, cursor) });
  }
  expect(await diffWithChain(database.db, rig.url, rig.chainId, startBlock, cursor)).toEqual([]);
  expect(await findIntegrityProblems(database.db, rig.chainId)).toEqual([]);
  if (rig.worker) {
    // The operator's `verify` (workflow + activity, reading through the worker's pool) agrees with the oracle.
    const report = await env.client.workflow.execute('verify', {
      workflowId: `${verifyWorkflowId(rig.chainId, startBlock, cursor)}:${++verifyRuns}`,
      taskQueue: rig.taskQueue,
      args: [{ chainId: rig.chainId, from: startBlock, to: cursor }],
    });
    expect(report).toMatchObject({ checkedBlocks: cursor - startBlock + 1, differenceCount: 0, differences: [] });
  }
  const stored = await database.db.selectFrom('blocks').select('number').where('chain_id', '=', rig.chainId).orderBy('number').execute();
  expect(stored.map((b) => b.number)).toEqual(Array.from({ length: cursor - startBlock + 1 }, (_, i) => startBlock + i));
}

/**
 * Rewrites the chain with `change` while the gate holds every request of the worker, so the sync
 * sees the chain before or after the change, never half of it. Returns what `change` returned.
 */
async function whileWorkerWaits<T>(rig: Rig, change: () => Promise<T>): Promise<T> {
  rig.gate.hold(() => true);
  try {
    return await change();
  } finally {
    rig.gate.release();
  }
}

/** A transfer anvil signs for dev account `from` (its nonce at the fork point), for `anvil_reorg`'s list. */
function transferRequest(from: number, to: number, offset: number): ReorgTx {
  return [{ from: DEV_ACCOUNTS[from]!.address, to: DEV_ACCOUNTS[to]!.address, value: '0x2a' }, offset];
}

/** A signed raw EIP-1559 transfer from dev account `from` with its next nonce; `hash` is its transaction hash. */
async function signedTransfer(rig: Rig, from: number, to: number): Promise<{ raw: Hex; hash: Hex }> {
  const account = DEV_ACCOUNTS[from]!;
  const nonce = Number(BigInt(await rpc(rig.url, 'eth_getTransactionCount', [account.address, 'latest'])));
  const raw = await account.signTransaction({
    chainId: rig.chainId, type: 'eip1559', to: DEV_ACCOUNTS[to]!.address, value: 7n, nonce, gas: 21_000n,
    maxFeePerGas: parseGwei('100'), maxPriorityFeePerGas: parseGwei('1'),
  });
  return { raw, hash: keccak256(raw) };
}

/** Stored rows of transaction `hash`: where it sits, by block hash too. */
async function storedTransaction(rig: Rig, hash: Hex) {
  const rows = await database.db.selectFrom('transactions').select(['block_number', 'block_hash', 'transaction_index'])
    .where('chain_id', '=', rig.chainId).where('hash', '=', Buffer.from(hash.slice(2), 'hex')).execute();
  return rows.map((r) => ({ blockNumber: r.block_number, blockHash: `0x${r.block_hash.toString('hex')}`, index: r.transaction_index }));
}

/** The rollback the sync asked for after a reorg down to `ancestor`. */
async function expectedRollback(rig: Rig, ancestor: number, reorgDepth: number, confirmationDepth: number, deletedBlocks: number, head: unknown = expect.any(Number)) {
  return {
    input: { chainId: rig.chainId, ancestor: { blockNumber: ancestor, blockHash: await blockHash(rig.url, ancestor) }, reorgDepth, confirmationDepth, head },
    result: { deletedBlocks },
  };
}

// ------------------------------------------------------------------------------------ scenarios

describe('chainSync in head mode (confirmation depth 0, concurrency 2, batch size 3)', () => {
  const CHAIN_ID = 31401;
  let rig: Rig;
  let handle: WorkflowHandle;

  beforeAll(async () => {
    rig = rigOf(CHAIN_ID);
    await mine(rig.url, 20);
    await generateTraffic(rig.url); // blocks 21..33: the deeper reorgs drop real transactions and logs
    handle = await startSync(rig, syncInput(CHAIN_ID));
  });
  afterAll(async () => rig?.teardown());

  it('chainSync catches up to the head with no reorg', async () => {
    const progress = await waitSynced(rig, handle, { reorgs: 0 });
    expect(progress.cursor).toBe(33);
    await expectStoredEqualsChain(rig, 0, 33);
  });

  it.each([1, 2, 6, 30, 33])('chainSync rolls back a %i-block reorg at the next seam and stores the new branch', async (depth) => {
    const reorgsBefore = (await handle.query(syncProgressQuery)).reorgs;
    const before = await waitSynced(rig, handle, { reorgs: reorgsBefore });
    const { replacedFrom, head } = await whileWorkerWaits(rig, async () => {
      const r = await reorg(rig.url, depth, [transferRequest(5, 6, depth - 1)]);
      expect(r.head).toBe(before.cursor);
      await mine(rig.url, 3); // the seam: one batch of 3 blocks whose parent is on the new branch
      return r;
    });
    const after = await waitSynced(rig, handle, { reorgs: reorgsBefore + 1 });
    expect(after.cursor).toBe(head + 3);
    const rollbacks = await activityCalls(handle, 'rollback');
    expect(rollbacks).toHaveLength(reorgsBefore + 1);
    // Rolled back from the old cursor to the block below the replaced ones; deleted the replaced blocks and the seam batch.
    // The head the sync read last: the seam's 3 blocks above the reorged head.
    expect(rollbacks.at(-1)).toEqual(await expectedRollback(rig, replacedFrom - 1, depth, 0, depth + 3, head + 3));
    expect(rig.warnings.at(-1)).toEqual([
      { chainId: CHAIN_ID, commonAncestor: replacedFrom - 1, reorgDepth: depth, head: head + 3, depthBelowHead: depth + 3, deletedBlocks: depth + 3, deeperThanConfirmationDepth: true },
      'reorg-deeper-than-confirmation-depth',
    ]);
    await expectStoredEqualsChain(rig, 0, head + 3);
  });

  it('chainSync rolls back a same-height reorg at once, without waiting for a new block', async () => {
    const reorgsBefore = (await handle.query(syncProgressQuery)).reorgs;
    const before = await waitSynced(rig, handle, { reorgs: reorgsBefore });
    const { replacedFrom, head } = await reorg(rig.url, 3, [transferRequest(5, 6, 2)]);
    expect(head).toBe(before.cursor);
    const after = await waitSynced(rig, handle, { reorgs: reorgsBefore + 1 });
    expect(after.cursor).toBe(head);
    expect((await activityCalls(handle, 'rollback')).at(-1)).toEqual(await expectedRollback(rig, replacedFrom - 1, 3, 0, 3));
    await expectStoredEqualsChain(rig, 0, head);
  });
});

describe('chainSync with confirmation depth 3', () => {
  const CHAIN_ID = 31402;
  const DEPTH = 3;
  let rig: Rig;
  let handle: WorkflowHandle;

  beforeAll(async () => {
    rig = rigOf(CHAIN_ID);
    await mine(rig.url, 5);
    await generateTraffic(rig.url, { emptyBlockCount: 5 }); // blocks 6..20
    handle = await startSync(rig, syncInput(CHAIN_ID, { confirmationDepth: DEPTH }));
    await waitSynced(rig, handle, { confirmationDepth: DEPTH, reorgs: 0 });
  });
  afterAll(async () => rig?.teardown());

  it('a reorg no deeper than the confirmation depth never touches stored blocks', async () => {
    const before = await waitSynced(rig, handle, { confirmationDepth: DEPTH, reorgs: 0 });
    const { replacedFrom } = await whileWorkerWaits(rig, async () => {
      const r = await reorg(rig.url, DEPTH, [transferRequest(5, 6, 0)]);
      await mine(rig.url, 3);
      return r;
    });
    expect(replacedFrom).toBe(before.cursor + 1);
    const after = await waitSynced(rig, handle, { confirmationDepth: DEPTH, reorgs: 0 });
    expect(after.cursor).toBe(before.cursor + 3);
    expect(await activityCalls(handle, 'rollback')).toEqual([]);
    await expectStoredEqualsChain(rig, 0, after.cursor);
  });

  it('a reorg of 8 blocks (5 stored blocks deep) is rolled back and logged as deeper than the confirmation depth', async () => {
    const before = await waitSynced(rig, handle, { confirmationDepth: DEPTH, reorgs: 0 });
    const { replacedFrom, head } = await whileWorkerWaits(rig, async () => {
      const r = await reorg(rig.url, 8, [transferRequest(5, 6, 0), transferRequest(4, 6, 7)]);
      await mine(rig.url, 3);
      return r;
    });
    expect(replacedFrom).toBe(before.cursor - 4);
    const after = await waitSynced(rig, handle, { confirmationDepth: DEPTH, reorgs: 1 });
    expect(after.cursor).toBe(before.cursor + 3);
    // 5 stored blocks replaced (cursor − 4 .. cursor) plus the 3-block seam batch deleted.
    expect(await activityCalls(handle, 'rollback')).toEqual([await expectedRollback(rig, replacedFrom - 1, 5, DEPTH, 8, head + 3)]);
    expect(rig.warnings).toEqual([[
      { chainId: CHAIN_ID, commonAncestor: replacedFrom - 1, reorgDepth: 5, head: head + 3, depthBelowHead: 11, deletedBlocks: 8, deeperThanConfirmationDepth: true },
      'reorg-deeper-than-confirmation-depth',
    ]]);
    await expectStoredEqualsChain(rig, 0, after.cursor);
  });

  it('a reorg of 5 blocks that replaces only 2 stored blocks (fewer than the depth of 3) is still logged as deeper than the confirmation depth', async () => {
    const before = await waitSynced(rig, handle, { confirmationDepth: DEPTH, reorgs: 1 });
    const { replacedFrom, head } = await whileWorkerWaits(rig, async () => {
      const r = await reorg(rig.url, 5, [transferRequest(5, 6, 0)]);
      await mine(rig.url, 3);
      return r;
    });
    expect(replacedFrom).toBe(before.cursor - 1);
    const after = await waitSynced(rig, handle, { confirmationDepth: DEPTH, reorgs: 2 });
    expect(after.cursor).toBe(before.cursor + 3);
    // 2 stored blocks replaced (cursor − 1, cursor) plus the 3-block seam batch; the ancestor is 8 below the head read last.
    expect((await activityCalls(handle, 'rollback')).at(-1)).toEqual(await expectedRollback(rig, replacedFrom - 1, 2, DEPTH, 5, head + 3));
    expect(rig.warnings.at(-1)).toEqual([
      { chainId: CHAIN_ID, commonAncestor: replacedFrom - 1, reorgDepth: 2, head: head + 3, depthBelowHead: 8, deletedBlocks: 5, deeperThanConfirmationDepth: true },
      'reorg-deeper-than-confirmation-depth',
    ]);
    await expectStoredEqualsChain(rig, 0, after.cursor);
  });
});

describe('reorgs while nothing runs', () => {
  const CHAIN_ID = 31403;
  let rig: Rig;

  beforeAll(async () => {
    rig = rigOf(CHAIN_ID);
    await generateTraffic(rig.url); // blocks 1..13
    await mine(rig.url, 5);
  });
  afterAll(async () => rig?.teardown());

  it('a reorg while the worker is stopped is rolled back when a new worker starts', async () => {
    const handle = await startSync(rig, syncInput(CHAIN_ID));
    const before = await waitSynced(rig, handle, { reorgs: 0 });
    await rig.stopWorker();
    const { replacedFrom } = await reorg(rig.url, 5, [transferRequest(5, 6, 2)]);
    const head = await mine(rig.url, 3);
    expect(replacedFrom).toBe(before.cursor - 4);
    await rig.startWorker();
    const after = await waitSynced(rig, handle, { reorgs: 1 });
    expect(after.cursor).toBe(head);
    expect(await activityCalls(handle, 'rollback')).toEqual([await expectedRollback(rig, replacedFrom - 1, 5, 0, 8)]);
    await expectStoredEqualsChain(rig, 0, head);
  });

  it('a reorg while the sync is stopped is rolled back by the next run from the stored cursor', async () => {
    const running = env.client.workflow.getHandle(chainSyncWorkflowId(CHAIN_ID));
    const before = await waitSynced(rig, running, { reorgs: 1 });
    const oldRunId = (await running.describe()).runId;
    await running.cancel();
    await waitFor('the sync to be cancelled', async () => (await running.describe()).status.name === 'CANCELLED');
    const { replacedFrom } = await reorg(rig.url, 4, [transferRequest(5, 6, 3)]);
    const head = await mine(rig.url, 3);
    expect(replacedFrom).toBe(before.cursor - 3);
    const handle = await startSync(rig, syncInput(CHAIN_ID));
    expect(handle.firstExecutionRunId).not.toBe(oldRunId);
    const after = await waitSynced(rig, handle, { reorgs: 1 }); // a new run counts from 0
    expect(after.cursor).toBe(head);
    expect(await activityCalls(handle, 'rollback')).toEqual([await expectedRollback(rig, replacedFrom - 1, 4, 0, 7)]);
    await expectStoredEqualsChain(rig, 0, head);
  });

  // Before the fix, a block the endpoint did not serve counted as a disagreement: an endpoint behind
  // the cursor (a fresh worker, its primary down) made the sync roll back confirmed blocks, and one
  // serving none of them deleted the whole chain. A chain made shorter by evm_revert looks exactly
  // like an endpoint 4 blocks behind.
  it('a chain that became shorter while the worker was stopped (as an endpoint behind looks) is kept until a stored block is served with another hash, then rolled back', async () => {
    const sync = env.client.workflow.getHandle(chainSyncWorkflowId(CHAIN_ID));
    const base = await headNumber(rig.url);
    const id = await snapshot(rig.url);
    await mine(rig.url, 4);
    expect((await waitSynced(rig, sync, { reorgs: 1 })).cursor).toBe(base + 4);
    const storedTop = await blockHash(rig.url, base + 4);
    const rollbacks = (await activityCalls(sync, 'rollback')).length;
    await rig.stopWorker();
    await revertTo(rig.url, id); // blocks base + 1 .. base + 4 are gone from the chain
    await rig.startWorker();

    // The walk starts at the endpoints' head (blocks above it cannot differ from theirs) and finds every block there the same.
    const noEvidence = { input: { chainId: CHAIN_ID, fromBlock: base + 4, lowestBlock: 0, walkFrom: base }, result: { ancestor: { blockNumber: base + 4, blockHash: storedTop }, reorgDepth: 0 } };
    const walks = await waitFor('two walks back from the cursor', async () => {
      const calls = (await activityCalls(sync, 'findCommonAncestor')).filter((c) => c.input.fromBlock === base + 4 && c.result !== undefined);
      return calls.length >= 2 ? calls : undefined;
    }, { timeoutMs: SETTLE_TIMEOUT_MS });
    expect(walks.slice(-2)).toEqual([noEvidence, noEvidence]);
    const waiting = await waitFor('the sync to wait', async () => {
      const p = await sync.query(syncProgressQuery);
      return p.status === 'caught-up' ? p : undefined;
    }, { timeoutMs: SETTLE_TIMEOUT_MS });
    expect({ head: waiting.head, target: waiting.target, cursor: waiting.cursor, lagBlocks: waiting.lagBlocks, reorgs: waiting.reorgs }).toEqual({ head: base, target: base, cursor: base + 4, lagBlocks: -4, reorgs: 1 });
    expect((await activityCalls(sync, 'rollback')).length).toBe(rollbacks);
    const kept = await database.db.selectFrom('blocks').select('number').where('chain_id', '=', CHAIN_ID).where('number', '>', base).orderBy('number').execute();
    expect(kept.map((b) => b.number)).toEqual([base + 1, base + 2, base + 3, base + 4]);

    // The chain grows again with other blocks: the stored base + 1 .. base + 4 are now served with
    // other hashes, and are rolled back.
    await whileWorkerWaits(rig, async () => {
      const tx = await signedTransfer(rig, 5, 6);
      await rpc(rig.url, 'eth_sendRawTransaction', [tx.raw]); // automine: a new base + 1 with a transaction
      await waitFor('the transaction to be mined', async () => (await rpc(rig.url, 'eth_getTransactionReceipt', [tx.hash])) ?? undefined);
      await mine(rig.url, 4); // head base + 5
    });
    expect(await blockHash(rig.url, base + 4)).not.toBe(storedTop);
    const after = await waitSynced(rig, sync, { reorgs: 2 });
    expect(after.cursor).toBe(base + 5);
    expect((await activityCalls(sync, 'rollback')).at(-1)).toEqual(await expectedRollback(rig, base, 4, 0, 5)); // and base + 5, stored before its parent was found to differ
    await expectStoredEqualsChain(rig, 0, base + 5);
  });
});

describe('a transaction that moves to a later block', () => {
  const CHAIN_ID = 31404;
  let rig: Rig;
  let handle: WorkflowHandle;

  beforeAll(async () => {
    rig = rigOf(CHAIN_ID);
    await generateTraffic(rig.url, { emptyBlockCount: 1 });
    handle = await startSync(rig, syncInput(CHAIN_ID));
    await waitSynced(rig, handle, { reorgs: 0 });
  });
  afterAll(async () => rig?.teardown());

  it('is stored once, in its new block, after anvil_reorg moves it from block N to N + 1', async () => {
    const tx = await signedTransfer(rig, 5, 6);
    await rpc(rig.url, 'eth_sendRawTransaction', [tx.raw]); // automine: block N
    // anvil may answer before it mined the block, so N is the receipt's block, not the head read now.
    const n = await waitFor('the transaction to be mined', async () => {
      const mined = await rpc(rig.url, 'eth_getTransactionReceipt', [tx.hash]);
      return mined ? Number(BigInt(mined.blockNumber)) : undefined;
    });
    await mine(rig.url, 1);
    await waitSynced(rig, handle, { reorgs: 0 });
    expect(await storedTransaction(rig, tx.hash)).toEqual([{ blockNumber: n, blockHash: await blockHash(rig.url, n), index: 0 }]);

    await whileWorkerWaits(rig, async () => {
      await reorg(rig.url, 2, [[tx.raw, 1]]); // new N empty, new N + 1 holds the same signed transaction
      await mine(rig.url, 1);
    });
    const receipt = await rpc(rig.url, 'eth_getTransactionReceipt', [tx.hash]);
    expect(Number(BigInt(receipt.blockNumber))).toBe(n + 1);
    await waitSynced(rig, handle, { reorgs: 1 });
    expect(await storedTransaction(rig, tx.hash)).toEqual([{ blockNumber: n + 1, blockHash: await blockHash(rig.url, n + 1), index: 0 }]);
    expect((await activityCalls(handle, 'rollback')).at(-1)).toEqual(await expectedRollback(rig, n - 1, 2, 0, 3));
    await expectStoredEqualsChain(rig, 0, n + 2);
  });

  it('is stored once, in its new block, after evm_revert and the same signed transaction sent again a block later', async () => {
    const base = await headNumber(rig.url);
    const id = await snapshot(rig.url);
    const tx = await signedTransfer(rig, 5, 6);
    await rpc(rig.url, 'eth_sendRawTransaction', [tx.raw]); // block base + 1
    await mine(rig.url, 1);
    await waitSynced(rig, handle, { reorgs: 1 });
    expect(await storedTransaction(rig, tx.hash)).toEqual([{ blockNumber: base + 1, blockHash: await blockHash(rig.url, base + 1), index: 0 }]);
    const oldHashes = [await blockHash(rig.url, base + 1), await blockHash(rig.url, base + 2)];

    await whileWorkerWaits(rig, async () => {
      await revertTo(rig.url, id);
      expect(await headNumber(rig.url)).toBe(base);
      await mine(rig.url, 1); // new base + 1, empty
      await rpc(rig.url, 'eth_sendRawTransaction', [tx.raw]); // new base + 2
      await mine(rig.url, 1); // base + 3: the seam
    });
    expect(await blockHash(rig.url, base + 1)).not.toBe(oldHashes[0]);
    expect(await blockHash(rig.url, base + 2)).not.toBe(oldHashes[1]);
    await waitSynced(rig, handle, { reorgs: 2 });
    expect(await storedTransaction(rig, tx.hash)).toEqual([{ blockNumber: base + 2, blockHash: await blockHash(rig.url, base + 2), index: 0 }]);
    expect((await activityCalls(handle, 'rollback')).at(-1)).toEqual(await expectedRollback(rig, base, 2, 0, 3));
    await expectStoredEqualsChain(rig, 0, base + 3);
  });
});

describe('two reorgs in a row', () => {
  const CHAIN_ID = 31405;
  let rig: Rig;

  beforeAll(async () => {
    rig = rigOf(CHAIN_ID);
    await mine(rig.url, 10);
    await generateTraffic(rig.url); // blocks 11..23
  });
  afterAll(async () => rig?.teardown());

  it('a second reorg while the sync re-indexes after the first is rolled back too, to its own ancestor', async () => {
    const handle = await startSync(rig, syncInput(CHAIN_ID));
    const { cursor } = await waitSynced(rig, handle, { reorgs: 0 });
    // Reorg 1 replaces cursor − 5 .. cursor; the sync rolls back to a1 = cursor − 6 and re-indexes in batches
    // a1+1..a1+3 (let through), a1+4..a1+6 (held by the gate), a1+7..a1+8.
    const first = await whileWorkerWaits(rig, async () => {
      const r = await reorg(rig.url, 6, [transferRequest(5, 6, 1)]);
      await mine(rig.url, 2);
      return r;
    });
    const a1 = first.replacedFrom - 1;
    rig.gate.hold(fetchesBlocks(a1 + 4, a1 + 6));
    await waitFor('the re-index to stop at the held batch', async () => {
      const progress = await handle.query(syncProgressQuery);
      return progress.reorgs === 1 && progress.cursor === a1 + 3 && rig.gate.held().some((r) => r.blocks[0] === a1 + 4);
    }, { timeoutMs: SETTLE_TIMEOUT_MS });
    // Reorg 2, before the sync caught up: replaces a1+2 upward, so the new cursor a1+3 is on a dead branch again.
    const head = await headNumber(rig.url);
    const second = await reorg(rig.url, head - (a1 + 2) + 1, [transferRequest(4, 6, 0)]);
    rig.gate.release();

    const after = await waitSynced(rig, handle, { reorgs: 2 });
    expect(after.cursor).toBe(cursor + 2);
    expect(second.replacedFrom).toBe(a1 + 2);
    expect(await activityCalls(handle, 'rollback')).toEqual([
      { input: { chainId: CHAIN_ID, ancestor: { blockNumber: a1, blockHash: await blockHash(rig.url, a1) }, reorgDepth: 6, confirmationDepth: 0, head: expect.any(Number) }, result: { deletedBlocks: 8 } },
      await expectedRollback(rig, a1 + 1, 2, 0, head - (a1 + 1)),
    ]);
    await expectStoredEqualsChain(rig, 0, after.cursor);
  });
});

describe('a reorg during a backfill', () => {
  const CHAIN_ID = 31406;
  let rig: Rig;

  beforeAll(async () => {
    rig = rigOf(CHAIN_ID);
    await mine(rig.url, 10);
    await generateTraffic(rig.url); // blocks 11..23
    await mine(rig.url, 10); // head 33
  });
  afterAll(async () => rig?.teardown());

  it('backfill re-indexes from the common ancestor and returns a range equal to the chain', async () => {
    const head = await headNumber(rig.url);
    const to = head - 2;
    const input: BackfillInput = { chainId: CHAIN_ID, from: 0, to, batchSize: 2, concurrency: 1 };
    rig.gate.hold(fetchesBlocks(20, 21)); // the 11th batch
    const handle = await env.client.workflow.start('backfill', { workflowId: backfillWorkflowId(CHAIN_ID, 0, to), taskQueue: rig.taskQueue, args: [input] });
    await waitFor('the backfill to stop at blocks 20–21', async () => {
      const progress = await handle.query(backfillProgressQuery);
      return progress.doneThrough === 19 && rig.gate.held().some((r) => r.blocks[0] === 20);
    }, { timeoutMs: SETTLE_TIMEOUT_MS });
    // Replace 16..head: blocks 16..19 are stored (with transactions and logs of the traffic), 20.. are not yet.
    await reorg(rig.url, head - 16 + 1, [transferRequest(5, 6, 0), transferRequest(4, 6, 6)]);
    rig.gate.release();

    const result = await handle.result();
    expect(result).toMatchObject({ chainId: CHAIN_ID, from: 0, to, status: 'done', doneThrough: to, blocksDone: to + 1, blocksTotal: to + 1, inFlightBatches: 0 });
    expect(await activityCalls(handle, 'findCommonAncestor')).toEqual([{
      input: { chainId: CHAIN_ID, fromBlock: 19, lowestBlock: 0 },
      result: { ancestor: { blockNumber: 15, blockHash: await blockHash(rig.url, 15) }, reorgDepth: 4 },
    }]);
    expect(await readCursor(database.db, CHAIN_ID)).toBeNull(); // a backfill does not move the sync's cursor
    await expectStoredEqualsChain(rig, 0, to, { cursorRow: false });
  });

  // BUG (src/workflows/sync-chain.ts, rollBackIfReorged): the sync keeps its cursor in memory with the hash it
  // stored. When a backfill re-indexes the cursor's block after a reorg, the stored block (new hash) no longer matches
  // that in-memory hash. At the next seam the new batch's parent hash (new) differs from the cursor hash (old) →
  // 'reorg'; findCommonAncestor(fromBlock = cursor) compares the *stored* hash with the chain, finds them equal and
  // returns { ancestor: the cursor's number with the NEW hash, reorgDepth: 0 }. As ancestor.blockNumber is not below
  // cursor.blockNumber, the workflow neither rolls back nor adopts the ancestor's hash, and `continue`s with the
  // stale cursor: it re-indexes the same batch and finds the same ancestor forever (a livelock, several indexRange +
  // findCommonAncestor calls a second; the same-height check `headHash !== cursor.blockHash` loops the same way
  // once per poll). The stale cursor is carried across continue-as-new, and the cursor row keeps naming a hash that
  // is no longer stored, so a new run is stuck too. The sync never moves again.
  // Fix: when the ancestor is the cursor's block with another hash, adopt it (setCursor + saveCursor), i.e. take
  // `found.ancestor` as the cursor whenever it differs from the cursor, not only when it is below it.
  it('a reorg during a backfill of blocks the sync has stored: the sync then follows the chain', async () => {
    const sync = await startSync(rig, syncInput(CHAIN_ID));
    const { cursor } = await waitSynced(rig, sync, { reorgs: 0 });
    await sync.signal(pauseSignal); // the sync looks at the chain again only once the backfill is over
    await waitFor('the sync to pause', async () => (await sync.query(syncProgressQuery)).status === 'paused');
    const from = cursor - 9;
    const input: BackfillInput = { chainId: CHAIN_ID, from, to: cursor, batchSize: 2, concurrency: 1 };
    const batchWaits = rig.gate.hold(fetchesBlocks(cursor - 3, cursor - 2)); // the backfill's 4th batch
    const backfill = await env.client.workflow.start('backfill', { workflowId: backfillWorkflowId(CHAIN_ID, from, cursor), taskQueue: rig.taskQueue, args: [input] });
    await waitFor('the backfill to stop at its 4th batch', async () => {
      const progress = await backfill.query(backfillProgressQuery);
      return progress.doneThrough === cursor - 4 && rig.gate.held().some((r) => r.blocks[0] === cursor - 3);
    }, { timeoutMs: SETTLE_TIMEOUT_MS });
    // Replaces cursor − 5 .. cursor: the sync's cursor block and two blocks the backfill stored; the backfill
    // detects it at its next seam and re-indexes cursor − 5 .. cursor.
    await reorg(rig.url, 6, [transferRequest(5, 6, 0)]);
    batchWaits.release();
    expect(await backfill.result()).toMatchObject({ status: 'done', doneThrough: cursor });
    expect((await activityCalls(backfill, 'findCommonAncestor')).map((c) => c.result)).toEqual([
      { ancestor: { blockNumber: cursor - 6, blockHash: await blockHash(rig.url, cursor - 6) }, reorgDepth: 2 },
    ]);
    expect(await diffWithChain(database.db, rig.url, CHAIN_ID, 0, cursor)).toEqual([]);

    const head = await mine(rig.url, 3);
    await sync.signal(resumeSignal);
    const after = await waitSynced(rig, sync, { reorgs: 'any', timeoutMs: 10_000 });
    expect(after.cursor).toBe(head);
    await expectStoredEqualsChain(rig, 0, head);
  });
});

// Before the fix, the sync looked for the common ancestor from its cursor: the blocks there agree,
// so the walk stopped 32 blocks down, nothing was rolled back, and the stale block stayed below the
// refilled gap for good.
describe('a gap whose refill does not link to the stored block below it', () => {
  const CHAIN_ID = 31408;
  let rig: Rig;

  beforeAll(async () => {
    rig = rigOf(CHAIN_ID);
    await generateTraffic(rig.url);
    await mine(rig.url, 45);
  });
  afterAll(async () => rig?.teardown());

  it('rolls back from that block (from an old fork) and re-indexes, so it does not stay between canonical ones', async () => {
    const handle = await startSync(rig, syncInput(CHAIN_ID, { gapCheckIntervalMs: 0 }));
    const { cursor } = await waitSynced(rig, handle, { reorgs: 0 });
    const stale = cursor - 40; // more than a walk's 32 agreeing blocks below the cursor
    await whileWorkerWaits(rig, async () => {
      await database.db.transaction().execute(async (trx) => {
        for (const table of ['logs', 'transactions', 'withdrawals'] as const) {
          await trx.deleteFrom(table).where('chain_id', '=', CHAIN_ID).where('block_number', '>=', stale + 1).where('block_number', '<=', stale + 3).execute();
        }
        await trx.deleteFrom('blocks').where('chain_id', '=', CHAIN_ID).where('number', '>=', stale + 1).where('number', '<=', stale + 3).execute();
        await trx.updateTable('blocks').set({ hash: Buffer.alloc(32, 0xee) }).where('chain_id', '=', CHAIN_ID).where('number', '=', stale).execute();
      });
    });
    const after = await waitSynced(rig, handle, { reorgs: 1 });
    expect(after.cursor).toBe(cursor);
    expect((await activityCalls(handle, 'findCommonAncestor')).at(-1)).toEqual({
      input: { chainId: CHAIN_ID, fromBlock: cursor, lowestBlock: 0, walkFrom: stale + 4, checkDownTo: stale },
      result: { ancestor: { blockNumber: stale - 1, blockHash: await blockHash(rig.url, stale - 1) }, reorgDepth: cursor - stale + 1 },
    });
    expect((await activityCalls(handle, 'rollback')).at(-1)).toEqual(await expectedRollback(rig, stale - 1, cursor - stale + 1, 0, cursor - stale + 1));
    await expectStoredEqualsChain(rig, 0, cursor);
  });

  // Before the fix, a window stopped by the pause fell through to the gap check, which re-indexed
  // the gap while the sync was paused.
  it('a pause that stops a window starts no gap repair; resume repairs the gap', async () => {
    const handle = env.client.workflow.getHandle(chainSyncWorkflowId(CHAIN_ID));
    const { cursor } = await waitSynced(rig, handle, { reorgs: 1 });
    const batch = rig.gate.hold(fetchesBlocks(cursor + 1));
    const head = await mine(rig.url, 9); // three batches of 3, two in flight: the pause stops the window before the third
    await waitFor('a batch above the cursor in flight', () => rig.gate.held().some((r) => r.blocks.includes(cursor + 1)), { timeoutMs: SETTLE_TIMEOUT_MS });
    const gap = [cursor - 10, cursor - 9, cursor - 8];
    await database.db.transaction().execute(async (trx) => {
      for (const table of ['logs', 'transactions', 'withdrawals'] as const) {
        await trx.deleteFrom(table).where('chain_id', '=', CHAIN_ID).where('block_number', '>=', gap[0]!).where('block_number', '<=', gap[2]!).execute();
      }
      await trx.deleteFrom('blocks').where('chain_id', '=', CHAIN_ID).where('number', '>=', gap[0]!).where('number', '<=', gap[2]!).execute();
    });
    await handle.signal(pauseSignal);
    await waitFor('the pause to reach the sync', async () => (await handle.query(syncProgressQuery)).paused);
    batch.release();
    await waitFor('the sync to pause', async () => (await handle.query(syncProgressQuery)).status === 'paused', { timeoutMs: SETTLE_TIMEOUT_MS });
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // ten polls of a gap check every time
    const storedGap = async () => (await database.db.selectFrom('blocks').select('number').where('chain_id', '=', CHAIN_ID)
      .where('number', '>=', gap[0]!).where('number', '<=', gap[2]!).orderBy('number').execute()).map((b) => b.number);
    expect(await storedGap()).toEqual([]);
    await handle.signal(resumeSignal);
    expect((await waitSynced(rig, handle, { reorgs: 1 })).cursor).toBe(head);
    expect(await storedGap()).toEqual(gap);
    await expectStoredEqualsChain(rig, 0, head);
  });

  // Before the fix, the gap's window never stopped: a pause (or continue-as-new, which a gap of
  // millions of blocks needs before the history's limit) waited for the whole gap to be refilled.
  it('a pause stops a gap repair after its batches in flight; resume refills the rest', async () => {
    const handle = env.client.workflow.getHandle(chainSyncWorkflowId(CHAIN_ID));
    const { cursor } = await waitSynced(rig, handle, { reorgs: 1 });
    const from = cursor - 20;
    const gap = Array.from({ length: 12 }, (_, i) => from + i); // four batches of 3, two in flight
    const hold = rig.gate.hold(fetchesBlocks(gap[0]!, gap.at(-1)!));
    await database.db.transaction().execute(async (trx) => {
      for (const table of ['logs', 'transactions', 'withdrawals'] as const) {
        await trx.deleteFrom(table).where('chain_id', '=', CHAIN_ID).where('block_number', '>=', gap[0]!).where('block_number', '<=', gap.at(-1)!).execute();
      }
      await trx.deleteFrom('blocks').where('chain_id', '=', CHAIN_ID).where('number', '>=', gap[0]!).where('number', '<=', gap.at(-1)!).execute();
    });
    await waitFor('the first two batches of the gap in flight', () => rig.gate.held().flatMap((r) => r.blocks).filter((n) => gap.includes(n)).length === 6, { timeoutMs: SETTLE_TIMEOUT_MS });
    await handle.signal(pauseSignal);
    await waitFor('the pause to reach the sync', async () => (await handle.query(syncProgressQuery)).paused);
    hold.release();
    await waitFor('the sync to pause', async () => (await handle.query(syncProgressQuery)).status === 'paused', { timeoutMs: SETTLE_TIMEOUT_MS });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const storedGap = async () => (await database.db.selectFrom('blocks').select('number').where('chain_id', '=', CHAIN_ID)
      .where('number', '>=', gap[0]!).where('number', '<=', gap.at(-1)!).orderBy('number').execute()).map((b) => b.number);
    expect(await storedGap()).toEqual(gap.slice(0, 6));
    await handle.signal(resumeSignal);
    await waitFor('the gap refilled', async () => (await storedGap()).length === gap.length, { timeoutMs: SETTLE_TIMEOUT_MS });
    expect((await waitSynced(rig, handle, { reorgs: 1 })).cursor).toBe(cursor);
    await expectStoredEqualsChain(rig, 0, cursor);
  });

  // Before the change, every gap check read every stored block (about a second per million: 20 s a
  // minute on Ethereum mainnet); now a run's first check and one per 60 intervals read them all.
  it('gap checks read the blocks stored since the last check, and the whole chain once per 60 intervals', async () => {
    await env.client.workflow.getHandle(chainSyncWorkflowId(CHAIN_ID)).terminate('restarted with another gap check interval');
    const handle = await startSync(rig, syncInput(CHAIN_ID, { gapCheckIntervalMs: 100 }));
    const { cursor } = await waitSynced(rig, handle, { reorgs: 0 });
    const head = await mine(rig.url, 6);
    await waitSynced(rig, handle, { reorgs: 0 });
    const ranges = async () => (await activityCalls<{ from: number; to: number }>(handle, 'findGaps')).map((c) => `${c.input.from}-${c.input.to}`);
    await waitFor('a gap check after the new blocks', async () => (await ranges()).at(-1) === `${head - 1}-${head}`, { timeoutMs: SETTLE_TIMEOUT_MS });
    const seen = await ranges();
    expect(seen[0]).toBe(`0-${cursor}`); // the first check after a start: the whole chain
    expect(seen).toContain(`${cursor - 1}-${head}`); // the next after the new blocks: from the block below the last check's end
    // A block deleted by hand below the last check's end is found by the next full check (6 s).
    const deleted = cursor - 5;
    await database.db.transaction().execute(async (trx) => {
      for (const table of ['logs', 'transactions', 'withdrawals'] as const) await trx.deleteFrom(table).where('chain_id', '=', CHAIN_ID).where('block_number', '=', deleted).execute();
      await trx.deleteFrom('blocks').where('chain_id', '=', CHAIN_ID).where('number', '=', deleted).execute();
    });
    await waitFor('the deleted block stored again', async () => (await database.db.selectFrom('blocks').select('number').where('chain_id', '=', CHAIN_ID).where('number', '=', deleted).execute()).length === 1, { timeoutMs: SETTLE_TIMEOUT_MS });
    const calls = await activityCalls<{ from: number; to: number }, { from: number; to: number }[]>(handle, 'findGaps');
    const found = calls.findIndex((c) => (c.result ?? []).length > 0);
    expect([calls[found]!.input.from, calls[found]!.result]).toEqual([0, [{ from: deleted, to: deleted, belowHash: await blockHash(rig.url, deleted - 1), aboveParentHash: await blockHash(rig.url, deleted) }]]);
    await expectStoredEqualsChain(rig, 0, head);
  });
});

describe('reorgs while the chain grows and ranges are in flight', () => {
  const CHAIN_ID = 31407;
  const REORGS = 3;
  let rig: Rig;

  beforeAll(() => {
    rig = rigOf(CHAIN_ID);
  });
  afterAll(async () => rig?.teardown());

  it('chainSync in head mode handles each reorg that lands while a batch is in flight, and ends equal to the chain', async () => {
    const traffic = await generateTraffic(rig.url, { emptyBlockCount: 0 });
    const mining = keepMining(rig.url, { blockTimeMs: 200, trafficEvery: 2, tokenAddress: traffic.tokenAddress });
    const handle = await startSync(rig, syncInput(CHAIN_ID));
    const ancestors: number[] = [];
    try {
      let floor = traffic.toBlock + 5;
      for (let i = 0; i < REORGS; i++) {
        await waitFor(`the sync past block ${floor}`, async () => {
          const progress = await handle.query(syncProgressQuery);
          return progress.reorgs === i && progress.cursor >= floor;
        }, { timeoutMs: SETTLE_TIMEOUT_MS });
        rig.gate.hold(fetchesBlocks(0)); // every indexRange fetch from now on waits: a batch is in flight
        await waitFor('a batch in flight', () => rig.gate.held().length > 0, { timeoutMs: SETTLE_TIMEOUT_MS });
        const { cursor, cursorHash } = await handle.query(syncProgressQuery);
        const head = await headNumber(rig.url);
        const numbers = Array.from({ length: head - cursor + 4 }, (_, k) => cursor - 3 + k);
        const oldHashes = await Promise.all(numbers.map((n) => blockHash(rig.url, n)));
        // Deep enough to replace the cursor's block even if a block or two is mined meanwhile.
        await rpc(rig.url, 'anvil_reorg', [head - cursor + 3, [transferRequest(5, 6, 0)]]);
        rig.gate.release();
        const newHashes = await Promise.all(numbers.map((n) => blockHash(rig.url, n)));
        const firstReplaced = numbers.find((_, k) => newHashes[k] !== oldHashes[k])!;
        expect(firstReplaced).toBeLessThanOrEqual(cursor);
        expect(await blockHash(rig.url, cursor)).not.toBe(cursorHash);
        ancestors.push(firstReplaced - 1);
        floor = head + 3;
      }
    } finally {
      await mining.stop();
    }
    const after = await waitSynced(rig, handle, { reorgs: REORGS });
    const rollbacks = await activityCalls(handle, 'rollback');
    expect(rollbacks.map((r) => r.input.ancestor)).toEqual(await Promise.all(ancestors.map(async (n) => ({ blockNumber: n, blockHash: await blockHash(rig.url, n) }))));
    await expectStoredEqualsChain(rig, 0, after.cursor);
  });
});
