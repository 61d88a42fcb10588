/**
 * `backfill`: stores an explicit inclusive range `[from, to]` of one chain with the same
 * `indexRange` activity and sliding window as the sync (workflow ID `backfill:<chainId>:<from>-<to>`,
 * so asking twice for the same range is one backfill). It does not move the sync's cursor.
 */
import { allHandlersFinished, condition, continueAsNew, patched, setCurrentDetails, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import { ApplicationFailure } from '@temporalio/workflow';
import type { Cursor } from '../domain/index.js';
import { createActivityProxies } from './activities-proxy.js';
import { backfillProgressQuery, type BackfillInput, type BackfillProgress } from './definitions.js';
import { backfillDetails } from './details.js';
import { runWindow, WINDOW_GUIDED_TAIL } from './window.js';

/** Patch marker: a backfill's first and last batch link to the stored blocks next to the range (runs started before replay unchanged). */
export const BACKFILL_LINKS_STORED = 'backfill-links-stored';

/** Patch marker: a seam that did not link, where no stored block differs from the chain, waits {@link NO_EVIDENCE_WAIT_MS} before the batches are fetched again. */
export const BACKFILL_WAITS_WITHOUT_EVIDENCE = 'backfill-waits-without-evidence';
/** How long a backfill waits after a seam that did not link when no stored block differs, in ms. */
const NO_EVIDENCE_WAIT_MS = 1_000;

/**
 * Patch marker: a backfill indexes up to the endpoints' head and waits for the blocks above it,
 * reading the head every {@link HEAD_WAIT_MS}, where before it fetched blocks that do not exist
 * yet, each batch failing and retried (a flood of requests and of "bad response" errors).
 */
export const BACKFILL_WAITS_FOR_HEAD = 'backfill-waits-for-head';
/** How long a backfill waits between head reads while the rest of its range is above the head, in ms. */
const HEAD_WAIT_MS = 5_000;

/** Default blocks per batch when the input does not say (the `temporal` CLI case). */
const DEFAULT_BATCH_SIZE_BLOCKS = 100;
/** Default batches in flight when the input does not say. */
const DEFAULT_CONCURRENCY = 8;

/**
 * Stores blocks `input.from..input.to` (inclusive) of chain `input.chainId` and returns the final
 * progress. Seams between batches are checked; a seam that does not link (a reorg during the
 * backfill) re-indexes from the common ancestor. The first batch must link to the stored block
 * `from − 1` and the last to the stored block `to + 1` (when stored): otherwise it is refused and
 * retried (StoredChainLinkError), so an endpoint that lags behind a reorg never leaves blocks of
 * the old chain between canonical ones. Blocks above the endpoints' head are waited for: it
 * indexes up to the head, then reads the head every 5 s (since {@link BACKFILL_WAITS_FOR_HEAD}).
 * @throws ApplicationFailure `InvalidInputError` when the range is not `0 ≤ from ≤ to`, or `batchSize`
 *   is not an integer ≥ 1 or `batchRows` an integer ≥ 0.
 * @example temporal workflow start --type backfill --task-queue evm-indexer --workflow-id backfill:31337:0-99 --input '{"chainId":31337,"from":0,"to":99}'
 */
export async function backfill(input: BackfillInput): Promise<BackfillProgress> {
  const { chainId, from, to } = input;
  if (![chainId, from, to].every((n) => Number.isSafeInteger(n)) || from < 0 || from > to) {
    throw ApplicationFailure.nonRetryable(`backfill needs integers 0 ≤ from ≤ to, got from=${from} to=${to}`, 'InvalidInputError');
  }
  const batchSize = input.batchSize ?? DEFAULT_BATCH_SIZE_BLOCKS;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || !Number.isSafeInteger(input.batchRows ?? 0) || (input.batchRows ?? 0) < 0) {
    throw ApplicationFailure.nonRetryable(`backfill needs an integer batchSize ≥ 1 and batchRows ≥ 0, got batchSize=${input.batchSize} batchRows=${input.batchRows}`, 'InvalidInputError');
  }
  const concurrency = input.concurrency ?? DEFAULT_CONCURRENCY;
  const acts = createActivityProxies(input.maxRetries ?? 0);
  let cursor: Cursor = input.carried?.cursor ?? { blockNumber: from - 1, blockHash: null };
  const startedAtMs = input.carried?.startedAtMs ?? Date.now();
  let inFlight = 0;
  let waitingAtHead: number | null = null; // the head, while the rest of the range is above it
  const progress = (): BackfillProgress => {
    const blocksDone = cursor.blockNumber - from + 1;
    return {
      chainId, from, to,
      status: cursor.blockNumber >= to ? 'done' : 'running',
      doneThrough: cursor.blockNumber,
      blocksDone,
      blocksTotal: to - from + 1,
      blocksPerSecond: Math.round((blocksDone / Math.max(0.001, (Date.now() - startedAtMs) / 1000)) * 10) / 10,
      inFlightBatches: inFlight,
      ...(waitingAtHead === null ? {} : { waitingAtHead }),
    };
  };
  /** Continues as new from the blocks stored so far (the history grew long), once the handlers finished. */
  const continueWithCursor = async (): Promise<never> => {
    await condition(allHandlersFinished);
    return continueAsNew<typeof backfill>({ ...input, carried: { cursor, startedAtMs } });
  };
  setHandler(backfillProgressQuery, progress);
  setCurrentDetails(backfillDetails(progress()));

  while (cursor.blockNumber < to) {
    // Blocks above the endpoints' head do not exist yet: index up to it, then wait for the rest.
    let end = to;
    if (patched(BACKFILL_WAITS_FOR_HEAD)) {
      const { head } = await acts.getChainHead({ chainId });
      end = Math.min(to, head);
      if (end <= cursor.blockNumber) {
        if (waitingAtHead !== head) {
          waitingAtHead = head;
          setCurrentDetails(backfillDetails(progress()));
        }
        if (workflowInfo().continueAsNewSuggested) await continueWithCursor();
        await sleep(HEAD_WAIT_MS);
        continue;
      }
      waitingAtHead = null;
    }
    const outcome = await runWindow({
      cursor,
      to: end,
      batchSize,
      batchRows: input.batchRows ?? 0,
      concurrency,
      // The backfill's edges must link to the stored blocks next to it (a lagging endpoint's blocks
      // of a chain reorganized away are refused); the seams between its own batches are the window's.
      index: (range) => acts.indexRange({
        chainId, from: range.from, to: range.to,
        ...(range.from === from && patched(BACKFILL_LINKS_STORED) ? { linkBelow: true } : {}),
        ...(range.to === to && patched(BACKFILL_LINKS_STORED) ? { linkAbove: true } : {}),
      }),
      shouldStop: () => workflowInfo().continueAsNewSuggested,
      guidedTail: () => patched(WINDOW_GUIDED_TAIL), // the last batches shrink, so every worker has work to the end
      onAdvance: async (next) => {
        cursor = next;
        setCurrentDetails(backfillDetails(progress()));
      },
      onInFlight: (count) => {
        inFlight = count;
      },
    });
    cursor = outcome.cursor;
    if (outcome.kind === 'reorg') {
      const found = await acts.findCommonAncestor({ chainId, fromBlock: cursor.blockNumber, lowestBlock: from });
      // No stored block differs (the endpoints answered the seam and the walk differently, or lack
      // the blocks): wait a second rather than re-index the same batches at once.
      if (found.ancestor.blockNumber === cursor.blockNumber && patched(BACKFILL_WAITS_WITHOUT_EVIDENCE)) await sleep(NO_EVIDENCE_WAIT_MS);
      cursor = found.ancestor;
      continue;
    }
    if (outcome.kind === 'stopped') await continueWithCursor();
  }
  setCurrentDetails(backfillDetails(progress()));
  return progress();
}
