/**
 * Activity proxies with their timeouts and retry policies, shared by the workflows.
 * Retry: exponential backoff from 1 s, doubling, capped at 60 s; the error types in
 * `NON_RETRYABLE_ERROR_TYPES` are never retried.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE_ERROR_TYPES } from '../errors.js';
import { rangeSummary } from './details.js';

/** The retry policy of a workflow whose activities may try `maxRetries` times (0 = unlimited). */
function retryPolicy(maxRetries: number) {
  return {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '60 seconds',
    ...(maxRetries > 0 ? { maximumAttempts: maxRetries } : {}), // absent = unlimited
    nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
  };
}

/** Proxies for a workflow whose activities may try `maxRetries` times (0 = unlimited). */
export function createActivityProxies(maxRetries: number) {
  const retry = retryPolicy(maxRetries);
  // No eager dispatch: the server would hand a range straight to the worker that completed the
  // sync's workflow task, so that worker ran most ranges (11 of 14 in the scale-out bench) while
  // the others idled. Through the task queue, every worker's pollers take them.
  const batchOptions = { startToCloseTimeout: '10 minutes', heartbeatTimeout: '30 seconds', retry, allowEagerDispatch: false } as const;
  // One proxy per call, so each range activity carries its own summary in the UI ("blocks 1,000–1,499").
  const indexRange: Activities['indexRange'] = (input) =>
    proxyActivities<Pick<Activities, 'indexRange'>>({ ...batchOptions, summary: rangeSummary(input.from, input.to) }).indexRange(input);
  const reads = proxyActivities<Pick<Activities, 'verifyRange'>>({
    startToCloseTimeout: '10 minutes',
    retry,
  });
  // A walk back over a reset chain compares 32 blocks a step, as many steps as it takes: it
  // heartbeats each step instead of ending within a quick activity's 2 minutes.
  const walks = proxyActivities<Pick<Activities, 'findCommonAncestor'>>({
    startToCloseTimeout: '6 hours',
    heartbeatTimeout: '1 minute',
    retry,
  });
  // A rollback deletes everything above the ancestor (a whole reset chain) and a gap check reads
  // every stored block (about a second per million): one statement each, which may outlast
  // 2 minutes on a long chain; they heartbeat while it runs, so a dead worker is seen within a minute.
  const statements = proxyActivities<Pick<Activities, 'rollback' | 'findGaps'>>({
    startToCloseTimeout: '6 hours',
    heartbeatTimeout: '1 minute',
    retry,
  });
  const quick = proxyActivities<Omit<Activities, 'indexRange' | 'verifyRange' | 'findCommonAncestor' | 'rollback' | 'findGaps'>>({
    startToCloseTimeout: '2 minutes',
    retry,
  });
  // Proxies have no own keys, so spreading them would lose the activities: name each one.
  return {
    indexRange,
    getChainHead: quick.getChainHead,
    readCursor: quick.readCursor,
    saveCursor: quick.saveCursor,
    findCommonAncestor: walks.findCommonAncestor,
    rollback: statements.rollback,
    findGaps: statements.findGaps,
    verifyRange: reads.verifyRange,
  } satisfies Activities;
}

/**
 * `saveCursor` as a local activity (run by the worker that runs the workflow task, recorded as one
 * marker event), with the retry policy of {@link createActivityProxies}. Why: the sync saves its
 * cursor after every range it stores; as a regular activity each save cost the Temporal server
 * six history events and two task dispatches, about as much as the range's own activity.
 */
export function createLocalActivityProxies(maxRetries: number): Pick<Activities, 'saveCursor'> {
  // Retries more than 10 s apart wait on a server timer: without it the SDK would hold the
  // workflow task open and heartbeat it for as long as Postgres is down (3 history events every
  // 8 s or so, until the history's limit).
  return {
    saveCursor: proxyLocalActivities<Pick<Activities, 'saveCursor'>>({ startToCloseTimeout: '2 minutes', localRetryThreshold: '10 seconds', retry: retryPolicy(maxRetries) }).saveCursor,
  };
}
