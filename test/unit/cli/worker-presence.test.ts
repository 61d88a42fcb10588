/**
 * Whether a worker serves a task queue, from the pollers Temporal lists (pure parts): live pollers
 * counted by kind, the last poll's age, and the line the client prints when none serves it.
 */
import { describe, expect, it } from 'vitest';
import { isNoPollerError, noWorker, noWorkerText, workersFrom } from '../../../src/cli/worker-presence.js';

/** A poller last seen at `ms` (since the epoch), its seconds as a protobuf Long would give them. */
const seenAt = (ms: number) => ({ lastAccessTime: { seconds: { toNumber: () => Math.floor(ms / 1000) }, nanos: (ms % 1000) * 1e6 } });
const NOW = 1_800_000_000_000;

describe('workersFrom()', () => {
  it('counts the listed pollers by kind, and the age of the latest poll by any of them', () => {
    const workers = workersFrom({
      workflow: [seenAt(NOW - 2_000), seenAt(NOW - 300_000)],
      activity: [seenAt(NOW - 61_000)],
    }, NOW);
    expect(workers).toEqual({ workflowPollers: 2, activityPollers: 1, lastPollAgoMs: 2_000 });
    expect(noWorker(workers)).toBe(false);
  });

  it('a poller without a time, or with one ahead of the client\'s clock, still counts: ages are told, never judged', () => {
    expect(workersFrom({ workflow: [{ lastAccessTime: null }], activity: [seenAt(NOW + 90_000)] }, NOW))
      .toEqual({ workflowPollers: 1, activityPollers: 1, lastPollAgoMs: 0 });
  });

  it('no poller listed (never polled, or forgotten): no age; plain-number seconds are read too', () => {
    expect(workersFrom({ workflow: [], activity: [] }, NOW)).toEqual({ workflowPollers: 0, activityPollers: 0, lastPollAgoMs: null });
    expect(workersFrom({ workflow: [], activity: [{ lastAccessTime: { seconds: NOW / 1000 - 5 } }] }, NOW))
      .toEqual({ workflowPollers: 0, activityPollers: 1, lastPollAgoMs: 5_000 });
  });
});

describe('noWorker()', () => {
  it('is true only when no workflow-task poller is listed (a worker with every activity slot taken polls no activity tasks); false when the server could not tell (null)', () => {
    expect(noWorker({ workflowPollers: 0, activityPollers: 0, lastPollAgoMs: null })).toBe(true);
    expect(noWorker({ workflowPollers: 0, activityPollers: 2, lastPollAgoMs: 1_000 })).toBe(true);
    expect(noWorker({ workflowPollers: 1, activityPollers: 0, lastPollAgoMs: 1_000 })).toBe(false);
    expect(noWorker({ workflowPollers: 1, activityPollers: 1, lastPollAgoMs: 1_000 })).toBe(false);
    expect(noWorker(null)).toBe(false);
  });
});

describe('noWorkerText()', () => {
  const hint = 'start a worker with TASK_QUEUE=evm-indexer (npm run worker; scripts/start on a local set-up), and see scripts/stack status';
  it('names the task queue, what waits, and how to start a worker', () => {
    expect(noWorkerText('evm-indexer', { workflowPollers: 0, activityPollers: 0, lastPollAgoMs: null }, 'backfill backfill:1:0-9 starts when one does'))
      .toBe(`no worker polls the task queue evm-indexer (no poll listed): backfill backfill:1:0-9 starts when one does; ${hint}`);
  });

  it('says "the workflow tasks of" the queue when only activity tasks are polled, with the age of the latest poll', () => {
    expect(noWorkerText('evm-indexer', { workflowPollers: 0, activityPollers: 1, lastPollAgoMs: 61_400 }, 'the sync does not move or answer'))
      .toBe(`no worker polls the workflow tasks of task queue evm-indexer (its last poll 61 s ago): the sync does not move or answer; ${hint}`);
  });

  it('with a CHAINS_FILE, says the worker needs a CHAINS_FILE that serves the queue, not TASK_QUEUE set to it (which such a worker would suffix with -<chain id>)', () => {
    expect(noWorkerText('evm-indexer-1', { workflowPollers: 0, activityPollers: 0, lastPollAgoMs: null }, 'the sync does not move or answer', true))
      .toBe("no worker polls the task queue evm-indexer-1 (no poll listed): the sync does not move or answer; start a worker whose CHAINS_FILE serves task queue evm-indexer-1 (a chain's taskQueue, else TASK_QUEUE-<chain id>; npm run worker), and see scripts/stack status");
  });
});

describe('isNoPollerError()', () => {
  // As @temporalio/client throws it: a ServiceError whose cause is the gRPC error (code 9, FAILED_PRECONDITION).
  const grpc = (code: number, details: string) => Object.assign(new Error(`${code} ${details}`), { code, details });
  it('is true for the server\'s FAILED_PRECONDITION "no poller seen for task queue recently", directly or as a cause', () => {
    const cause = grpc(9, 'no poller seen for task queue recently, worker may be down');
    expect([isNoPollerError(cause), isNoPollerError(new Error('Failed to query Workflow', { cause }))]).toEqual([true, true]);
  });
  it('is false for a deadline, another FAILED_PRECONDITION, or anything else', () => {
    expect([
      isNoPollerError(new Error('Failed to query Workflow', { cause: grpc(4, 'Deadline exceeded') })),
      isNoPollerError(grpc(9, 'namespace is not active')),
      isNoPollerError(new Error('no poller seen')),
      isNoPollerError(null),
    ]).toEqual([false, false, false, false]);
  });
});

describe('noWorkerText() for a sync whose settings name another task queue now', () => {
  const moved = { queue: 'evm-indexer-31337', stop: 'npx tsx src/client.ts stop --chain-id 31337 --force', start: 'npx tsx src/client.ts start --chain-id 31337' };
  it('says how to move the sync to the queue its settings name (CHAINS_FILE or TASK_QUEUE)', () => {
    expect(noWorkerText('evm-indexer', { workflowPollers: 0, activityPollers: 0, lastPollAgoMs: 42_000 }, 'the sync does not move or answer', true, moved))
      .toBe("no worker polls the task queue evm-indexer (its last poll 42 s ago): the sync does not move or answer; the chain's settings now name task queue evm-indexer-31337 (CHAINS_FILE): to move the sync there, run npx tsx src/client.ts stop --chain-id 31337 --force, then npx tsx src/client.ts start --chain-id 31337 (it goes on from its stored cursor)");
    expect(noWorkerText('old', { workflowPollers: 0, activityPollers: 0, lastPollAgoMs: null }, 'the sync does not move or answer', false, { ...moved, queue: 'new' }))
      .toBe("no worker polls the task queue old (no poll listed): the sync does not move or answer; the chain's settings now name task queue new (TASK_QUEUE): to move the sync there, run npx tsx src/client.ts stop --chain-id 31337 --force, then npx tsx src/client.ts start --chain-id 31337 (it goes on from its stored cursor)");
  });
  it('as before when the queue is the one the settings name', () => {
    expect(noWorkerText('evm-indexer', { workflowPollers: 0, activityPollers: 0, lastPollAgoMs: null }, 'the sync does not move', false, { ...moved, queue: 'evm-indexer' }))
      .toBe('no worker polls the task queue evm-indexer (no poll listed): the sync does not move; start a worker with TASK_QUEUE=evm-indexer (npm run worker; scripts/start on a local set-up), and see scripts/stack status');
  });
});
