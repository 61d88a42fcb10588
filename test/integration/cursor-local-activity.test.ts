/**
 * The sync saves its cursor with a local activity (src/workflows/activities-proxy.ts,
 * `createLocalActivityProxies`). While Postgres is down that save fails and is retried; retries
 * more than 10 s apart must wait on a server timer, not in a workflow task the SDK holds open and
 * renews (three history events every ~8 s for as long as the outage lasts). A real Temporal dev
 * server runs the real workflow; the activities are stand-ins.
 */
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { expect, it } from 'vitest';
import type { Activities } from '../../src/activities/index.js';
import { WORKFLOWS_PATH } from '../../src/worker.js';
import type { ChainSyncInput, SyncProgress } from '../../src/workflows/definitions.js';
import { startTemporal, waitFor } from '../support/stack.js';

const hashOf = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;

it('a cursor save failing for 20 s is retried at 1, 3, 7 and 15 s in the workflow task, then after a 16 s server timer', async () => {
  const env = await startTemporal();
  let downUntil = 0;
  const saves: { atMs: number; cursor: number; failed: boolean }[] = [];
  const activities: Activities = {
    getChainHead: async () => ({ head: 10, headHash: hashOf(10), safeBlockNumber: null, finalizedBlockNumber: null }),
    indexRange: async ({ from, to }) => ({ from, to, firstParentHash: hashOf(from - 1), lastHash: hashOf(to), blockCount: to - from + 1, transactionCount: 0, logCount: 0 }),
    readCursor: async () => null,
    saveCursor: async ({ cursor }) => {
      const failed = Date.now() < downUntil;
      saves.push({ atMs: Date.now(), cursor: cursor.blockNumber, failed });
      if (failed) throw ApplicationFailure.retryable('Postgres is down', 'DbTransientError');
    },
    findCommonAncestor: async () => { throw new Error('not expected'); },
    rollback: async () => { throw new Error('not expected'); },
    findGaps: async () => [],
    verifyRange: async () => { throw new Error('not expected'); },
  };
  try {
    const input: ChainSyncInput = {
      chainId: 8, startBlock: 1, batchSize: 5, concurrency: 1, confirmationDepth: 0, finality: 'depth',
      pollIntervalMs: 60_000, maxRetries: 0, gapCheckIntervalMs: 3_600_000, stallTimeoutMs: 600_000,
    };
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: 'cursor-la', workflowsPath: WORKFLOWS_PATH, activities });
    await worker.runUntil(async () => {
      downUntil = Date.now() + 20_000;
      const handle = await env.client.workflow.start('chainSync', { workflowId: 'chain-sync:8', taskQueue: 'cursor-la', args: [input] });
      await waitFor('the cursor at block 10', async () => (await handle.query<SyncProgress>('progress')).cursor === 10, { timeoutMs: 90_000 });
      const events = (await handle.fetchHistory()).events ?? [];
      await handle.terminate('test done');
      // Attempts of the first save (blocks 1–5) at 0, 1, 3, 7, 15 s fail; the one after the 16 s timer, at 31 s, lands.
      const first = saves.filter((s) => s.cursor === 5);
      expect(first.map((s) => s.failed)).toEqual([true, true, true, true, true, false]);
      // The retry policy's backoff (1 s, doubling), each gap within −0.3/+2 s (a loaded machine delays workflow tasks).
      const backoffS = [1, 2, 4, 8, 16];
      const gapsMs = first.slice(1).map((s, i) => s.atMs - first[i]!.atMs);
      expect(gapsMs.map((ms, i) => `${backoffS[i]} s: ${ms >= backoffS[i]! * 1000 - 300 && ms < backoffS[i]! * 1000 + 2000 ? 'ok' : ms}`))
        .toEqual(backoffS.map((b) => `${b} s: ok`));
      expect(saves.filter((s) => s.cursor === 10).map((s) => s.failed)).toEqual([false]);
      // One timer of 16 s (the backoff), besides the sync's own: the stall watchdog's 300 s and, once caught up, the poll
      // interval's 60 s (which the history may not hold yet when the cursor reached block 10).
      const timers = events.flatMap((e) => (e.timerStartedEventAttributes ? [Number(e.timerStartedEventAttributes.startToFireTimeout?.seconds ?? 0)] : []));
      expect(timers.filter((seconds) => seconds !== 300 && seconds !== 60)).toEqual([16]);
    });
  } finally {
    await env.teardown();
  }
}, 120_000);
