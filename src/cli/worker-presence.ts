/**
 * Whether a worker serves a task queue, from the pollers Temporal lists for it (the
 * `DescribeTaskQueue` call of the WorkflowService API, as `temporal task-queue describe` shows
 * them). A workflow whose task queue no worker polls does not move and does not answer queries:
 * Temporal keeps it waiting, and a query times out after about 30 s with `DEADLINE_EXCEEDED`.
 * The client asks first and says so in one line naming the task queue.
 */
import type { Client } from '@temporalio/client';

/**
 * A poller last seen longer ago than this, in ms, is taken as gone: twice the minute after which
 * Temporal ends an idle long poll (a live worker then polls again at once: an idle worker's last
 * poll was 0–60 s old, sampled every 15 s over 2.5 minutes on the dev server). The server keeps
 * listing a worker that stopped without telling it, with the time of its last poll; one that shut
 * down cleanly drops out of the list at once.
 */
export const POLLER_GONE_AFTER_MS = 120_000;

/** The task queue kinds a worker of this project polls (enum `TaskQueueType` of the Temporal API). */
const TASK_QUEUE_TYPES = [
  { type: 1, name: 'workflow' }, // TASK_QUEUE_TYPE_WORKFLOW
  { type: 2, name: 'activity' }, // TASK_QUEUE_TYPE_ACTIVITY
] as const;

/**
 * Who polls a task queue: for each kind of task, how many pollers were seen within
 * {@link POLLER_GONE_AFTER_MS}, and how long ago (ms) any poller last polled it (null: none that the
 * server still lists; it forgets a poller some minutes after its last poll).
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
 * Counts the live pollers of each kind at `nowMs` (ms since the epoch) from the two lists
 * `DescribeTaskQueue` returned. Pure.
 * @example workersFrom({ workflow: [{ lastAccessTime: { seconds: 100 } }], activity: [] }, 120_000)
 *   // { workflowPollers: 1, activityPollers: 0, lastPollAgoMs: 20_000 }
 */
export function workersFrom(pollers: { workflow: readonly Poller[]; activity: readonly Poller[] }, nowMs: number): TaskQueueWorkers {
  let lastMs: number | null = null;
  const live = (list: readonly Poller[]) =>
    list.filter((p) => {
      const at = timestampMs(p.lastAccessTime);
      if (at === null) return false;
      lastMs = Math.max(lastMs ?? at, at);
      return nowMs - at <= POLLER_GONE_AFTER_MS;
    }).length;
  const workflowPollers = live(pollers.workflow);
  const activityPollers = live(pollers.activity);
  const last: number | null = lastMs;
  return { workflowPollers, activityPollers, lastPollAgoMs: last === null ? null : Math.max(0, nowMs - last) };
}

/**
 * Asks Temporal who polls `taskQueue` (its workflow and its activity tasks) in the client's
 * namespace. Never throws: null when the server cannot tell (an error, an older server), so a
 * command goes on as before rather than fail on the check.
 */
export async function describeWorkers(client: TemporalClient, taskQueue: string): Promise<TaskQueueWorkers | null> {
  try {
    const lists = await Promise.all(
      TASK_QUEUE_TYPES.map(async ({ type }) => {
        const { pollers } = await client.workflowService.describeTaskQueue({ namespace: client.options.namespace, taskQueue: { name: taskQueue }, taskQueueType: type });
        return (pollers ?? []) as Poller[];
      }),
    );
    return workersFrom({ workflow: lists[0]!, activity: lists[1]! }, Date.now());
  } catch {
    return null;
  }
}

/** What {@link describeWorkers} needs of a client: a `Client` or its `workflow` (WorkflowClient). */
export type TemporalClient = { workflowService: Client['workflowService']; options: { namespace: string } };

/** Whether `workers` (null: unknown) says nobody serves the task queue: no live poller of workflow or of activity tasks. Pure. */
export function noWorker(workers: TaskQueueWorkers | null): boolean {
  return workers !== null && (workers.workflowPollers === 0 || workers.activityPollers === 0);
}

/**
 * The line that says no worker serves `taskQueue`, why that matters (`what` waits: "the sync cannot
 * answer", "the backfill starts when one does") and how to start one. Pure.
 * @example noWorkerText('evm-indexer', { workflowPollers: 0, activityPollers: 0, lastPollAgoMs: 125_000 }, 'the sync does not move')
 *   // 'no worker polls the task queue evm-indexer (its last poll 125 s ago): the sync does not move; start a worker with TASK_QUEUE=evm-indexer (npm run worker; scripts/start on a local set-up), and see scripts/stack status'
 */
export function noWorkerText(taskQueue: string, workers: TaskQueueWorkers, what: string): string {
  const kind = workers.workflowPollers === 0 && workers.activityPollers > 0 ? 'the workflow tasks of' : workers.activityPollers === 0 && workers.workflowPollers > 0 ? 'the activity tasks of' : 'the';
  const when = workers.lastPollAgoMs === null ? 'no recent poll' : `its last poll ${Math.round(workers.lastPollAgoMs / 1000)} s ago`;
  return `no worker polls ${kind} task queue ${taskQueue} (${when}): ${what}; start a worker with TASK_QUEUE=${taskQueue} (npm run worker; scripts/start on a local set-up), and see scripts/stack status`;
}
