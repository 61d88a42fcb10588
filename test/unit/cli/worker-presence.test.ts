/**
 * Whether a worker serves a task queue, from the pollers Temporal lists (pure parts): live pollers
 * counted by kind, the last poll's age, and the line the client prints when none serves it.
 */
import { describe, expect, it } from 'vitest';
import { noWorker, noWorkerText, POLLER_GONE_AFTER_MS, workersFrom } from '../../../src/cli/worker-presence.js';

/** A poller last seen at `ms` (since the epoch), its seconds as a protobuf Long would give them. */
const seenAt = (ms: number) => ({ lastAccessTime: { seconds: { toNumber: () => Math.floor(ms / 1000) }, nanos: (ms % 1000) * 1e6 } });
const NOW = 1_800_000_000_000;

describe('workersFrom()', () => {
  it('counts pollers seen within POLLER_GONE_AFTER_MS, by kind, and the age of the latest poll', () => {
    const workers = workersFrom({
      workflow: [seenAt(NOW - 2_000), seenAt(NOW - POLLER_GONE_AFTER_MS - 1_000)],
      activity: [seenAt(NOW - 61_000)],
    }, NOW);
    expect(workers).toEqual({ workflowPollers: 1, activityPollers: 1, lastPollAgoMs: 2_000 });
    expect(noWorker(workers)).toBe(false);
  });

  it('a worker that stopped is listed with its last poll: gone after POLLER_GONE_AFTER_MS, its age kept', () => {
    const workers = workersFrom({ workflow: [seenAt(NOW - 125_000)], activity: [seenAt(NOW - 125_000)] }, NOW);
    expect(workers).toEqual({ workflowPollers: 0, activityPollers: 0, lastPollAgoMs: 125_000 });
    expect(noWorker(workers)).toBe(true);
  });

  it('no poller listed (never polled, or forgotten): no age; plain-number seconds and a missing time are read too', () => {
    expect(workersFrom({ workflow: [], activity: [] }, NOW)).toEqual({ workflowPollers: 0, activityPollers: 0, lastPollAgoMs: null });
    expect(workersFrom({ workflow: [{ lastAccessTime: { seconds: NOW / 1000 - 5 } }], activity: [{ lastAccessTime: null }] }, NOW))
      .toEqual({ workflowPollers: 1, activityPollers: 0, lastPollAgoMs: 5_000 });
  });
});

describe('noWorker()', () => {
  it('is true when either kind of task has no live poller, false when the server could not tell (null)', () => {
    expect(noWorker({ workflowPollers: 1, activityPollers: 0, lastPollAgoMs: 1_000 })).toBe(true);
    expect(noWorker({ workflowPollers: 0, activityPollers: 2, lastPollAgoMs: 1_000 })).toBe(true);
    expect(noWorker({ workflowPollers: 1, activityPollers: 1, lastPollAgoMs: 1_000 })).toBe(false);
    expect(noWorker(null)).toBe(false);
  });
});

describe('noWorkerText()', () => {
  const hint = 'start a worker with TASK_QUEUE=evm-indexer (npm run worker; scripts/start on a local set-up), and see scripts/stack status';
  it('names the task queue, the last poll, what waits, and how to start a worker', () => {
    expect(noWorkerText('evm-indexer', { workflowPollers: 0, activityPollers: 0, lastPollAgoMs: 125_400 }, 'the sync does not move or answer'))
      .toBe(`no worker polls the task queue evm-indexer (its last poll 125 s ago): the sync does not move or answer; ${hint}`);
    expect(noWorkerText('evm-indexer', { workflowPollers: 0, activityPollers: 0, lastPollAgoMs: null }, 'backfill backfill:1:0-9 starts when one does'))
      .toBe(`no worker polls the task queue evm-indexer (no recent poll): backfill backfill:1:0-9 starts when one does; ${hint}`);
  });

  it('says which kind of task is not polled when the other one is', () => {
    expect(noWorkerText('evm-indexer', { workflowPollers: 2, activityPollers: 0, lastPollAgoMs: 1_000 }, 'x'))
      .toBe(`no worker polls the activity tasks of task queue evm-indexer (its last poll 1 s ago): x; ${hint}`);
    expect(noWorkerText('evm-indexer', { workflowPollers: 0, activityPollers: 1, lastPollAgoMs: 1_000 }, 'x'))
      .toBe(`no worker polls the workflow tasks of task queue evm-indexer (its last poll 1 s ago): x; ${hint}`);
  });
});
