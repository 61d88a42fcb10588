/**
 * One line for a failure the client reports: the error's message followed by its causes'. The
 * Temporal SDK wraps what went wrong in generic errors (`WorkflowFailedError` "Workflow execution
 * failed" around an `ActivityFailure` "Activity task failed" around the activity's own
 * `ApplicationFailure`; a `ServiceError` "Failed to query Workflow" around the gRPC status), so the
 * outermost message alone never says why. Pure.
 */

/** Most causes followed below the error itself. */
const MAX_CAUSES = 5;

/**
 * `err`'s message, then each cause's (`error.cause`, outermost first) that adds something, joined
 * with `: `. An `ActivityFailure`'s generic message becomes `activity <type> failed`; a message
 * already contained in the line so far is left out; empty messages are skipped.
 * @example failureText(new WorkflowFailedError('Workflow execution failed', activityFailure, …))
 *   // 'Workflow execution failed: activity indexRange failed: this worker indexes chain 31337, not chain 1: …'
 */
export function failureText(err: unknown): string {
  const parts: string[] = [];
  for (const current of causeChain(err)) {
    const text = messageOf(current);
    if (text !== '' && !parts.some((p) => p.includes(text))) parts.push(text);
  }
  return parts.length > 0 ? parts.join(': ') : String(err);
}

/** `err`, then its causes (`error.cause`), outermost first: at most MAX_CAUSES below `err` (a cycle ends there too). Pure. */
export function causeChain(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = err, depth = 0; current !== undefined && current !== null && depth <= MAX_CAUSES; depth += 1) {
    chain.push(current);
    current = current instanceof Error ? current.cause : undefined;
  }
  return chain;
}

function messageOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const activityType = (err as { activityType?: unknown }).activityType;
  if (err.name === 'ActivityFailure' && typeof activityType === 'string' && /^Activity task failed$/i.test(err.message)) return `activity ${activityType} failed`;
  return err.message.trim();
}
