/**
 * What `status` says of a running sync's activities that are failing and being retried (an
 * endpoint outage, Postgres down): the sync's own progress only shows that nothing moves.
 */

/** A Temporal protobuf timestamp (`google.protobuf.Timestamp`): seconds as a number or a Long. */
type Timestamp = { seconds?: { toString(): string } | number | null; nanos?: number | null } | null | undefined;

/** A pending activity as `DescribeWorkflowExecution` lists it (`raw.pendingActivities`): the fields used. */
export type PendingActivity = {
  activityType?: { name?: string | null } | null;
  attempt?: number | null;
  lastFailure?: { message?: string | null } | null;
  nextAttemptScheduleTime?: Timestamp;
};

/** Retrying activities listed at most, in `status`. */
const MAX_LISTED = 3;

/**
 * One line per activity on its second attempt or later with a last failure, at most three (the
 * highest attempts first): `  retrying  getChainHead, attempt 4 (next in 12 s): no RPC endpoint
 * answered the head (127.0.0.1:8545#1)`, the message's first line only. `nowMs`: the time to count
 * the next attempt from (ms since the epoch). Pure.
 */
export function retryingLines(pending: readonly PendingActivity[], nowMs: number): string[] {
  return failing(pending)
    .sort((a, b) => (b.attempt ?? 0) - (a.attempt ?? 0))
    .slice(0, MAX_LISTED)
    .map((a) => {
      const nextMs = timestampMs(a.nextAttemptScheduleTime);
      const next = nextMs === null ? '' : nextMs > nowMs ? ` (next in ${Math.ceil((nextMs - nowMs) / 1000)} s)` : ' (running again)';
      return `  retrying  ${a.activityType?.name ?? 'an activity'}, attempt ${a.attempt}${next}: ${a.lastFailure!.message!.split('\n')[0]}`;
    });
}

function timestampMs(t: Timestamp): number | null {
  if (!t || t.seconds === null || t.seconds === undefined) return null;
  const seconds = Number(t.seconds.toString());
  return Number.isFinite(seconds) ? seconds * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : null;
}

/** The activities of `pending` on their second attempt or later with a last failure. Pure. */
function failing(pending: readonly PendingActivity[]): PendingActivity[] {
  return pending.filter((a) => (a.attempt ?? 0) >= 2 && (a.lastFailure?.message ?? '') !== '');
}

/**
 * What `status` adds to a running sync's state when activities of `pending` are failing and being
 * retried: `1 activity retrying` or `3 activities retrying`; empty when none is. Pure.
 * @example retryingNote([{ attempt: 4, lastFailure: { message: 'no RPC endpoint answered' } }]) // '1 activity retrying'
 */
export function retryingNote(pending: readonly PendingActivity[]): string {
  const n = failing(pending).length;
  return n === 0 ? '' : `${n} ${n === 1 ? 'activity' : 'activities'} retrying`;
}
