/**
 * Whether a worker serves a task queue, from the pollers Temporal lists for it (the
 * `DescribeTaskQueue` call of the WorkflowService API, as `temporal task-queue describe` shows
 * them). A workflow whose task queue no worker polls does not move and does not answer queries:
 * Temporal keeps it waiting, and a query times out after about 30 s with `DEADLINE_EXCEEDED`.
 * The client asks first and says so in one line naming the task queue.
 *
 * Only an empty list of workflow-task pollers counts as "no worker": a worker whose activity slots
 * are all taken stops polling activity tasks, and the server lists a poller for some minutes after
 * its last poll (at once gone when a worker shuts down cleanly on a server that cancels its polls,
 * as `scripts/stack` runs the dev server). The times are the server's, so a poller's age is only
 * told, never judged (the client's clock may differ).
 */
import type { Client } from '@temporalio/client';
import { causeChain } from './failure-text.js';

/** The task queue kinds a worker of this project polls (enum `TaskQueueType` of the Temporal API). */
const TASK_QUEUE_TYPES = [
  { type: 1, name: 'workflow' }, // TASK_QUEUE_TYPE_WORKFLOW
  { type: 2, name: 'activity' }, // TASK_QUEUE_TYPE_ACTIVITY
] as const;

/**
 * Who polls a task queue: for each kind of task, how many pollers the server lists, and how long
 * ago (ms, by the client's clock against the server's times, at least 0) any of them last polled
 * it (null: none listed, or none with a time).
 */
export type TaskQueueWorkers = { workflowPollers: number; activityPollers: number; lastPollAgoMs: number | null };

/** A poller as `DescribeTaskQueue` lists it: `lastAccessTime` is a protobuf Timestamp (seconds may be a Long). */
type Poller = { lastAccessTime?: { seconds?: number | { toNumber(): number } | null; nanos?: number | null } | null };

/** A protobuf Timestamp in ms since the epoch; null when absent. Pure. */
function timestampMs(ts: Poller['lastAccessTime']): number | null {
  if (!ts || ts.seconds === undefined || ts.seconds === null) return null;
  const seconds = typeof ts.seconds === 'number' ? ts.seconds : ts.seconds.toNumber();
  return seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

/**
 * Counts the pollers of each kind from the two lists `DescribeTaskQueue` returned, and the age of
 * the latest poll at `nowMs` (ms since the epoch). Pure.
 * @example workersFrom({ workflow: [{ lastAccessTime: { seconds: 100 } }], activity: [] }, 120_000)
 *   // { workflowPollers: 1, activityPollers: 0, lastPollAgoMs: 20_000 }
 */
export function workersFrom(pollers: { workflow: readonly Poller[]; activity: readonly Poller[] }, nowMs: number): TaskQueueWorkers {
  const times = [...pollers.workflow, ...pollers.activity].map((p) => timestampMs(p.lastAccessTime)).filter((t): t is number => t !== null);
  return {
    workflowPollers: pollers.workflow.length,
    activityPollers: pollers.activity.length,
    lastPollAgoMs: times.length === 0 ? null : Math.max(0, nowMs - Math.max(...times)),
  };
}

/** How long {@link describeWorkers} waits for the server, in ms. */
export const DESCRIBE_WORKERS_TIMEOUT_MS = 5_000;

/**
 * Asks Temporal who polls `taskQueue` (its workflow and its activity tasks) in the client's
 * namespace, waiting at most DESCRIBE_WORKERS_TIMEOUT_MS. Never throws: null when the server cannot
 * tell (an error, no answer in time, an older server), so a command goes on as before rather than
 * fail on the check.
 */
export async function describeWorkers(client: TemporalClient, taskQueue: string): Promise<TaskQueueWorkers | null> {
  try {
    const deadline = Date.now() + DESCRIBE_WORKERS_TIMEOUT_MS;
    const lists = await Promise.all(
      TASK_QUEUE_TYPES.map(async ({ type }) => {
        const { pollers } = await client.connection.withDeadline(deadline, () =>
          client.workflowService.describeTaskQueue({ namespace: client.options.namespace, taskQueue: { name: taskQueue }, taskQueueType: type }));
        return (pollers ?? []) as Poller[];
      }),
    );
    return workersFrom({ workflow: lists[0]!, activity: lists[1]! }, Date.now());
  } catch {
    return null;
  }
}

/** What {@link describeWorkers} needs of a client: a `Client` or its `workflow` (WorkflowClient). */
export type TemporalClient = { workflowService: Client['workflowService']; options: { namespace: string }; connection: Pick<Client['connection'], 'withDeadline'> };

/** Whether `workers` (null: unknown) says nobody serves the task queue: the server lists no poller of its workflow tasks. Pure. */
export function noWorker(workers: TaskQueueWorkers | null): boolean {
  return workers !== null && workers.workflowPollers === 0;
}

/**
 * The line that says no worker serves `taskQueue` ({@link noWorker}), why that matters (`what`
 * waits: "the sync does not move or answer", "the backfill starts when one does") and how to start
 * one: with `TASK_QUEUE` set to the queue, or, when the client reads a CHAINS_FILE (`chainsFile`),
 * with a CHAINS_FILE that serves the queue (a chain's `taskQueue`, else `TASK_QUEUE-<chain id>`:
 * setting TASK_QUEUE to the queue would make such a worker poll `<queue>-<chain id>`); "the
 * workflow tasks of" the queue when only activity tasks are polled. Pure.
 * @example noWorkerText('evm-indexer', { workflowPollers: 0, activityPollers: 0, lastPollAgoMs: null }, 'the sync does not move')
 *   // 'no worker polls the task queue evm-indexer (no poll listed): the sync does not move; start a worker with TASK_QUEUE=evm-indexer (npm run worker; scripts/start on a local set-up), and see scripts/stack status'
 */
export function noWorkerText(taskQueue: string, workers: TaskQueueWorkers, what: string, chainsFile = false, moved?: MovedQueue): string {
  const kind = workers.activityPollers > 0 ? 'the workflow tasks of' : 'the';
  const when = workers.lastPollAgoMs === null ? 'no poll listed' : `its last poll ${Math.round(workers.lastPollAgoMs / 1000)} s ago`;
  if (moved !== undefined && moved.queue !== taskQueue) {
    return `no worker polls ${kind} task queue ${taskQueue} (${when}): ${what}; the chain's settings now name task queue ${moved.queue} (${chainsFile ? 'CHAINS_FILE' : 'TASK_QUEUE'}): to move the sync there, run ${moved.stop}, then ${moved.start} (it goes on from its stored cursor)`;
  }
  const how = chainsFile
    ? `start a worker whose CHAINS_FILE serves task queue ${taskQueue} (a chain's taskQueue, else TASK_QUEUE-<chain id>; npm run worker)`
    : `start a worker with TASK_QUEUE=${taskQueue} (npm run worker; scripts/start on a local set-up)`;
  return `no worker polls ${kind} task queue ${taskQueue} (${when}): ${what}; ${how}, and see scripts/stack status`;
}

/**
 * A sync that runs on another task queue than the one its chain's settings name now (TASK_QUEUE
 * or CHAINS_FILE changed since it started): that queue, and the commands that end the run
 * (`stop --force`: no worker runs a cancel there) and start it on the new one.
 */
export type MovedQueue = { queue: string; stop: string; start: string };

/**
 * Whether `err` (or a cause of it) is the server's refusal of a query because no worker polled the
 * workflow's task queue lately: gRPC status 9, FAILED_PRECONDITION, "no poller seen for task queue
 * recently, worker may be down" (Temporal's matching service, once no poll came for its
 * `matching.queryPollerUnavailableWindow`, 20 s by default; a worker that died without shutting
 * down stays listed by DescribeTaskQueue for minutes, so {@link noWorker} is false then). Pure.
 */
export function isNoPollerError(err: unknown): boolean {
  return causeChain(err).some((e) => {
    if (typeof e !== 'object' || e === null) return false;
    const { code, details, message } = e as { code?: unknown; details?: unknown; message?: unknown };
    return code === 9 && /no poller seen/i.test(`${typeof details === 'string' ? details : ''} ${typeof message === 'string' ? message : ''}`);
  });
}
