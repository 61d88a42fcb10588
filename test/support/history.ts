/**
 * Reading a workflow's history in tests: which activities needed more than one attempt, and why.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';

const TIMEOUT_TYPES: Record<number, string> = { 1: 'start-to-close', 2: 'schedule-to-start', 3: 'schedule-to-close', 4: 'heartbeat' };

/** One activity that ran more than once, read from the workflow's history. */
export type RetriedActivity = { activity: string; attempt: number; lastFailure: string; waitedSeconds: number };

/**
 * The activities of the workflow behind `handle` whose completed attempt was not the first:
 * type and range, the attempt that completed, the last failure before it (message, or timeout
 * type), and the seconds between scheduling and that attempt's start.
 */
export async function retriedActivities(handle: WorkflowHandle): Promise<RetriedActivity[]> {
  const history = await handle.fetchHistory();
  const scheduled = new Map<string, { name: string; at: number }>();
  const retried: RetriedActivity[] = [];
  const seconds = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => Number(t?.seconds ?? 0) + (t?.nanos ?? 0) / 1e9;
  for (const event of history.events ?? []) {
    const s = event.activityTaskScheduledEventAttributes;
    if (s) {
      const input = defaultPayloadConverter.fromPayload<{ from?: number; to?: number }>(s.input!.payloads![0]!);
      scheduled.set(String(event.eventId), { name: `${s.activityType?.name} ${input.from ?? ''}-${input.to ?? ''}`, at: seconds(event.eventTime) });
    }
    const started = event.activityTaskStartedEventAttributes;
    if (started && (started.attempt ?? 1) > 1) {
      const origin = scheduled.get(String(started.scheduledEventId));
      const failure = started.lastFailure;
      const timeout = TIMEOUT_TYPES[failure?.timeoutFailureInfo?.timeoutType ?? 0];
      retried.push({
        activity: origin?.name ?? '?',
        attempt: started.attempt!,
        lastFailure: timeout ? `${timeout} timeout` : `${failure?.applicationFailureInfo?.type ?? ''}: ${failure?.message ?? ''}`,
        waitedSeconds: Math.round(seconds(event.eventTime) - (origin?.at ?? 0)),
      });
    }
  }
  return retried;
}

/** The `{ from, to }` of every `activity` the workflow behind `handle` scheduled, in the order it scheduled them. */
export async function scheduledRanges(handle: WorkflowHandle, activity: string): Promise<Array<{ from: number; to: number }>> {
  const history = await handle.fetchHistory();
  const ranges: Array<{ from: number; to: number }> = [];
  for (const event of history.events ?? []) {
    const s = event.activityTaskScheduledEventAttributes;
    if (s?.activityType?.name !== activity) continue;
    const input = defaultPayloadConverter.fromPayload<{ from: number; to: number }>(s.input!.payloads![0]!);
    ranges.push({ from: input.from, to: input.to });
  }
  return ranges;
}
