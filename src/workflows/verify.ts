/**
 * `verify`: re-reads an inclusive range from the pool and compares it with the database, in
 * chunks of `VERIFY_CHUNK_BLOCKS`, a few at once. Read-only; schedule it as often as you like.
 * Workflow ID `verify:<chainId>:<from>-<to>`.
 */
import { ApplicationFailure, continueAsNew, patched, workflowInfo } from '@temporalio/workflow';
import type { VerifyRangeInput } from '../activities/verify.js';
import { cutRanges, pickBlocks } from '../domain/index.js';
import { createActivityProxies } from './activities-proxy.js';
import type { VerifyInput, VerifyReport } from './definitions.js';

/**
 * Patch marker: `sample` checks exactly min(sample, range size) blocks, spread over the whole range
 * (see {@link sampleChunks}); runs started before it replay unchanged (every 100-block chunk had at
 * least one sampled block, so `--sample 1` over 0–180 checked 2).
 */
export const VERIFY_EXACT_SAMPLE = 'verify-exact-sample';

/**
 * Patch marker: the verify continues as new when Temporal suggests it (about 5 history events per
 * 100-block chunk: a range of about a million blocks reached the history's limit, and the server
 * ended the run); runs started before it replay unchanged.
 */
export const VERIFY_CONTINUES_AS_NEW = 'verify-continues-as-new';

/** Blocks per `verifyRange` activity. */
const VERIFY_CHUNK_BLOCKS = 100;
/** `verifyRange` activities at once. */
const VERIFY_CONCURRENCY = 4;
/** Differences kept in the report; the count stays exact. */
const MAX_REPORTED_DIFFERENCES = 200;

/**
 * Compares blocks `from..to` (or exactly `sample` of them, spread over the range: see
 * {@link sampleChunks}) of chain `chainId` with the chain and returns a {@link VerifyReport}. Never fails for a difference; only for bad input, or when a chunk's
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
  const total = to - from + 1;
  const { sample } = input;
  // Only a run that samples fewer blocks than the range holds schedules other activities than before.
  const exact = sample !== undefined && Number.isSafeInteger(sample) && sample >= 1 && sample < total && patched(VERIFY_EXACT_SAMPLE);
  const requests: VerifyRangeInput[] = exact
    ? sampleChunks(from, to, sample, VERIFY_CHUNK_BLOCKS).map((chunk) => ({ chainId, ...chunk }))
    : cutRanges(from, to, VERIFY_CHUNK_BLOCKS).map((chunk) => {
        // Before VERIFY_EXACT_SAMPLE: each chunk's share of the sample, at least 1.
        const share = sample ? Math.max(1, Math.round((sample * (chunk.to - chunk.from + 1)) / total)) : undefined;
        return { chainId, from: chunk.from, to: chunk.to, ...(share ? { sample: share } : {}) };
      });
  const report: VerifyReport = input.carried?.report ?? { chainId, from, to, checkedBlocks: 0, differenceCount: 0, differences: [] };
  const first = input.carried?.nextChunk ?? 0;
  for (let i = first; i < requests.length; i += VERIFY_CONCURRENCY) {
    // patched() asked only when it would continue: a run recorded before replays, and continues from then on.
    if (i > first && workflowInfo().continueAsNewSuggested && patched(VERIFY_CONTINUES_AS_NEW)) {
      // The same input cuts the same chunks: the next run starts at chunk i with the report so far.
      await continueAsNew<typeof verify>({ ...input, carried: { nextChunk: i, report } });
    }
    const results = await Promise.all(requests.slice(i, i + VERIFY_CONCURRENCY).map((request) => acts.verifyRange(request)));
    for (const r of results) {
      report.checkedBlocks += r.checkedBlocks;
      report.differenceCount += r.differenceCount;
      report.differences.push(...r.differences.slice(0, MAX_REPORTED_DIFFERENCES - report.differences.length));
    }
  }
  return report;
}

/**
 * The `verifyRange` inputs (without `chainId`) that check exactly `min(sample, to − from + 1)` blocks
 * of `from..to` (inclusive block numbers), spread evenly over the whole range with both ends
 * included: sampled block i of n is `from + round(i · (size − 1) / (n − 1))` (`pickBlocks`, as
 * `verifyRange` picks them); block `from` alone when n is 1. The sampled blocks go in order, `chunkBlocks` per input; an
 * input covers its first to its last sampled block and carries `sample` (its count) unless it
 * covers every block of its span, so `verifyRange` checks exactly that many, evenly spread (within a
 * block of the ones listed here). Pure and deterministic (workflow code); never throws for
 * `0 ≤ from ≤ to` and integers `sample`, `chunkBlocks` ≥ 1.
 * @example sampleChunks(0, 999, 250, 100)
 *   // [{ from: 0, to: 397, sample: 100 }, { from: 401, to: 798, sample: 100 }, { from: 802, to: 999, sample: 50 }]
 */
export function sampleChunks(from: number, to: number, sample: number, chunkBlocks: number): Array<{ from: number; to: number; sample?: number }> {
  if (sample >= to - from + 1) return cutRanges(from, to, chunkBlocks).map((r) => ({ from: r.from, to: r.to }));
  const picked = pickBlocks(from, to, sample);
  const chunks: Array<{ from: number; to: number; sample?: number }> = [];
  for (let first = 0; first < sample; first += chunkBlocks) {
    const last = Math.min(sample, first + chunkBlocks) - 1;
    const chunk = { from: picked[first]!, to: picked[last]! };
    const count = last - first + 1;
    chunks.push(count === chunk.to - chunk.from + 1 ? chunk : { ...chunk, sample: count });
  }
  return chunks;
}
