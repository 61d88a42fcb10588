/**
 * `verify`: re-reads an inclusive range from the pool and compares it with the database, in
 * chunks of `VERIFY_CHUNK_BLOCKS`, a few at once. Read-only; schedule it as often as you like.
 * Workflow ID `verify:<chainId>:<from>-<to>`.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { cutRanges } from '../domain/index.js';
import { createActivityProxies } from './activities-proxy.js';
import type { VerifyInput, VerifyReport } from './definitions.js';

/** Blocks per `verifyRange` activity. */
const VERIFY_CHUNK_BLOCKS = 100;
/** `verifyRange` activities at once. */
const VERIFY_CONCURRENCY = 4;
/** Differences kept in the report; the count stays exact. */
const MAX_REPORTED_DIFFERENCES = 200;

/**
 * Compares blocks `from..to` (or `sample` of them) of chain `chainId` with the chain and returns
 * a {@link VerifyReport}. Never fails for a difference; only for bad input, or when a chunk's
 * `verifyRange` failed `maxRetries` times (0 or absent: retried forever, as before it existed).
 * @throws ApplicationFailure `InvalidInputError` when the range is not `0 ≤ from ≤ to`; the last
 *   `verifyRange` failure (an ActivityFailure) once its attempts are used up.
 */
export async function verify(input: VerifyInput): Promise<VerifyReport> {
  const { chainId, from, to } = input;
  if (![chainId, from, to].every((n) => Number.isSafeInteger(n)) || from < 0 || from > to) {
    throw ApplicationFailure.nonRetryable(`verify needs integers 0 ≤ from ≤ to, got from=${from} to=${to}`, 'InvalidInputError');
  }
  if (input.maxRetries !== undefined && (!Number.isSafeInteger(input.maxRetries) || input.maxRetries < 0)) {
    // Checked here: a retry policy Temporal refuses would fail every workflow task, and the verify would hang.
    throw ApplicationFailure.nonRetryable(`verify needs maxRetries to be an integer ≥ 0, got ${input.maxRetries}`, 'InvalidInputError');
  }
  const acts = createActivityProxies(input.maxRetries ?? 0);
  const chunks = cutRanges(from, to, VERIFY_CHUNK_BLOCKS);
  const total = to - from + 1;
  const report: VerifyReport = { chainId, from, to, checkedBlocks: 0, differenceCount: 0, differences: [] };
  for (let i = 0; i < chunks.length; i += VERIFY_CONCURRENCY) {
    const results = await Promise.all(
      chunks.slice(i, i + VERIFY_CONCURRENCY).map((chunk) => {
        const sample = input.sample ? Math.max(1, Math.round((input.sample * (chunk.to - chunk.from + 1)) / total)) : undefined;
        return acts.verifyRange({ chainId, from: chunk.from, to: chunk.to, ...(sample ? { sample } : {}) });
      }),
    );
    for (const r of results) {
      report.checkedBlocks += r.checkedBlocks;
      report.differenceCount += r.differenceCount;
      report.differences.push(...r.differences.slice(0, MAX_REPORTED_DIFFERENCES - report.differences.length));
    }
  }
  return report;
}
