/**
 * The sync's stall watchdog on a real Temporal dev server, with in-process stand-in activities
 * (the workflow's logic is under test here, not the indexing): one batch hangs while the head
 * moves on. The sync must report itself stalled (progress query, Web UI details) once the cursor
 * has stood still for `stallTimeoutMs`, and recover by itself when the batch completes.
 */
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../src/activities/index.js';
import { WORKFLOWS_PATH } from '../../src/worker.js';
import type { ChainSyncInput, SyncProgress } from '../../src/workflows/definitions.js';
import { startTemporal, waitFor } from '../support/stack.js';

const CHAIN_ID = 5;
const TASK_QUEUE = 'stall-watchdog';
const hashOf = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;

/**
 * In-process stand-ins for the sync's activities: the head is `head()`, batch 11–15 hangs until
 * `hung` resolves, every other batch links, the cursor is kept in memory, no gap, no reorg.
 */
function standIns(head: () => number, hung: Promise<void>): Activities {
  let cursor: { blockNumber: number; blockHash: string | null } | null = null;
  return {
    getChainHead: async () => ({ head: head(), headHash: hashOf(head()), safeBlockNumber: null, finalizedBlockNumber: null }),
    indexRange: async ({ from, to }) => {
      if (from === 11) await hung;
      return { from, to, firstParentHash: hashOf(from - 1), lastHash: hashOf(to), blockCount: to - from + 1, transactionCount: 0, logCount: 0 };
    },
    readCursor: async () => cursor,
    saveCursor: async ({ cursor: next }) => {
      cursor = next;
    },
    findCommonAncestor: async () => { throw new Error('no reorg in this test'); },
    rollback: async () => { throw new Error('no reorg in this test'); },
    findGaps: async () => [],
    verifyRange: async () => { throw new Error('not used'); },
  };
}

describe('stall watchdog of chainSync', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  let head = 20;
  let release: () => void = () => undefined;
  const hung = new Promise<void>((resolve) => (release = resolve));
  const activities = standIns(() => head, hung);

  beforeAll(async () => {
    env = await startTemporal();
    worker = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUE, workflowsPath: WORKFLOWS_PATH, activities });
    running = worker.run();
  });

  afterAll(async () => {
    release();
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  it('reports a stall while a batch hangs and the head moves, then recovers', async () => {
    const input: ChainSyncInput = {
      chainId: CHAIN_ID, startBlock: 1, batchSize: 5, concurrency: 1, confirmationDepth: 0, finality: 'depth',
      pollIntervalMs: 200, maxRetries: 0, gapCheckIntervalMs: 3_600_000, stallTimeoutMs: 2_000,
    };
    const handle = await env.client.workflow.start('chainSync', { workflowId: `chain-sync:${CHAIN_ID}`, taskQueue: TASK_QUEUE, args: [input] });
    const progress = () => handle.query<SyncProgress>('progress');
    await waitFor('the cursor to reach the hanging batch', async () => (await progress()).cursor === 10);
    head = 40; // the chain moves on while batch 11–15 hangs
    const stalled = await waitFor('the stall to be reported', async () => {
      const p = await progress();
      return p.stalledForSeconds !== null ? p : undefined;
    });
    expect(stalled).toMatchObject({ status: 'stalled', cursor: 10 });
    expect(stalled.stalledForSeconds).toBeGreaterThanOrEqual(2);
    const metadata = await handle.query<{ currentDetails: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toMatch(/\| status \| stalled: cursor not moving for \d+ s \|/);

    release();
    const recovered = await waitFor('the sync to catch up again', async () => {
      const p = await progress();
      return p.cursor === 40 ? p : undefined;
    });
    expect(recovered).toMatchObject({ stalledForSeconds: null, cursor: 40 });
    expect(recovered.status).not.toBe('stalled');
    await handle.terminate('test done');
  });
});

// Before the fix, a batch that never ended (endpoints down for days, retried forever) kept the run
// from continuing as new, and the watchdog's timers grew its history (5 events a check) until the
// server ended the run at its limit (51,200 events: 18 days at the default STALL_TIMEOUT).
describe('stall watchdog once continue-as-new is suggested', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  let release: () => void = () => undefined;
  const hung = new Promise<void>((resolve) => (release = resolve));

  const activities = standIns(() => 40, hung); // batch 11–15 never ends in this test

  beforeAll(async () => {
    env = await startTemporal(['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=60']);
    worker = await Worker.create({ connection: env.nativeConnection, taskQueue: `${TASK_QUEUE}-can`, workflowsPath: WORKFLOWS_PATH, activities });
    running = worker.run();
  });

  afterAll(async () => {
    release();
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  it('stops its timers, so a hanging batch no longer grows the history', async () => {
    const input: ChainSyncInput = {
      chainId: CHAIN_ID + 1, startBlock: 1, batchSize: 5, concurrency: 1, confirmationDepth: 0, finality: 'depth',
      pollIntervalMs: 200, maxRetries: 0, gapCheckIntervalMs: 3_600_000, stallTimeoutMs: 2_000,
    };
    const handle = await env.client.workflow.start('chainSync', { workflowId: `chain-sync:${CHAIN_ID + 1}`, taskQueue: `${TASK_QUEUE}-can`, args: [input] });
    const history = async () => {
      const events = (await handle.fetchHistory()).events ?? [];
      return { length: events.length, suggested: events.some((e) => e.workflowTaskStartedEventAttributes?.suggestContinueAsNew) };
    };
    await waitFor('continue-as-new suggested while batch 11–15 hangs', async () => (await history()).suggested, { timeoutMs: 30_000 });
    await new Promise((resolve) => setTimeout(resolve, 2_500)); // the watchdog's next wake-up sees the suggestion
    const before = (await history()).length;
    await new Promise((resolve) => setTimeout(resolve, 6_000)); // six checks' worth at 1 s each
    const after = await history();
    expect([after.length - before, (await handle.describe()).status.name, (await handle.query<SyncProgress>('progress')).cursor]).toEqual([0, 'RUNNING', 10]);
    // The stall is still reported, worked out when asked: it grows with the time the cursor stands still.
    const first = await handle.query<SyncProgress>('progress');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const second = await handle.query<SyncProgress>('progress');
    expect([first.status, second.status]).toEqual(['stalled', 'stalled']);
    expect(second.stalledForSeconds! - first.stalledForSeconds!).toBeGreaterThanOrEqual(1);
    await handle.terminate('test done');
  });
});
