/**
 * `chainSync`: the one long-running sync of a chain (workflow ID `chain-sync:<chainId>`).
 * Loop: read the head → target = finality tag or head − confirmation depth → index the batches
 * after the cursor in a sliding window → move and persist the cursor over linked batches → on a
 * seam that does not link, find the common ancestor and roll back → sleep `pollIntervalMs` when
 * caught up → continue-as-new when Temporal suggests it. Deterministic: no I/O here.
 */
import { condition, continueAsNew, log, metricMeter, patched, setCurrentDetails, setHandler, sleep, upsertSearchAttributes, workflowInfo, allHandlersFinished } from '@temporalio/workflow';
import { syncTarget, type Cursor } from '../domain/index.js';
import { createActivityProxies, createLocalActivityProxies } from './activities-proxy.js';
import { cursorSearchAttribute, FULL_GAP_CHECK_EVERY, pauseSignal, resumeSignal, syncProgressQuery, type ChainSyncInput, type SyncProgress } from './definitions.js';
import { syncDetails } from './details.js';
import { RecentRate } from './recent-rate.js';
import { runWindow, WINDOW_GUIDED_TAIL, WINDOW_LEAVES_ON_SETTLE, WINDOW_REFILL_FIRST } from './window.js';

/** Patch marker of the sync that saves its cursor after each range with a local activity. */
export const CURSOR_SAVED_LOCALLY = 'cursor-saved-locally';
/**
 * Patch marker of the sync that, when a refilled gap does not link to its neighbours, looks for the
 * common ancestor at the gap's seams (not from the cursor, whose blocks agree), waits a poll
 * interval when a reorg it was told of rolls nothing back (instead of re-indexing at once), and
 * starts no gap repair while paused.
 */
export const GAP_SEAMS_CHECKED = 'gap-seams-checked';
/** Patch marker of the sync whose stall watchdog stops once continue-as-new is suggested (its timers grew the history while a batch hung). */
export const STALL_WATCH_STOPS = 'stall-watch-stops';
/**
 * Patch marker of the sync whose gap checks read only the blocks stored since the last check, and
 * the whole chain at the first check after a start and once per {@link FULL_GAP_CHECK_EVERY} gap
 * check intervals (runs recorded before read the whole chain every time).
 */
export const GAP_CHECK_INCREMENTAL = 'gap-check-incremental';
export { FULL_GAP_CHECK_EVERY };
/** Patch marker of the sync whose gap repair stops for a pause or continue-as-new (runs recorded before refilled each gap whole). */
export const GAP_REPAIR_STOPPABLE = 'gap-repair-stoppable';

/**
 * Follows chain `input.chainId` forever, storing every confirmed block once. Never returns; ends
 * only when cancelled (`client stop`) or when an activity fails non-retryably.
 * @throws ApplicationFailure from a non-retryable activity error (bad config, unsupported method).
 */
export async function chainSync(input: ChainSyncInput): Promise<void> {
  const acts = createActivityProxies(input.maxRetries);
  const local = createLocalActivityProxies(input.maxRetries);
  let paused = input.carried?.paused ?? false;
  let cursor: Cursor = input.carried?.cursor ?? { blockNumber: input.startBlock - 1, blockHash: null };
  const startedAtMs = Date.now();
  const rate = new RecentRate(startedAtMs);
  const progress: SyncProgress = {
    chainId: input.chainId,
    status: 'starting',
    cursor: cursor.blockNumber,
    cursorHash: cursor.blockHash,
    target: null,
    head: null,
    lagBlocks: null,
    finality: input.finality,
    confirmationDepth: input.confirmationDepth,
    inFlightBatches: 0,
    blocksStoredThisRun: 0,
    blocksPerSecond: 0,
    reorgs: input.carried?.reorgs ?? 0,
    gapsRepaired: 0,
    headReadAtMs: null,
    paused,
    stalledForSeconds: null,
  };
  let lastGapCheckMs = Number.NEGATIVE_INFINITY;
  /** Below this block the last gap check found nothing missing (null: no check yet; carried over continue-as-new). */
  let gapFreeBelow: number | null = input.carried?.gapFreeBelow ?? null;
  /** When the last gap check over the whole chain was (workflow time, ms; carried over continue-as-new). */
  let lastFullGapCheckMs = input.carried?.lastFullGapCheckMs ?? Number.NEGATIVE_INFINITY;
  let searchAttributeAtMs = Number.NEGATIVE_INFINITY;
  let searchAttributeCursor: number | null = null;
  let cursorMovedAtMs = Date.now();
  /** The last head read was below the cursor and nothing was rolled back (logged once per episode). */
  let headBehindCursor = false;
  /** Set once the stall watchdog stopped (continue-as-new suggested): stalls are then worked out when asked. */
  let stallWatchStopped = false;
  /** The stall at workflow time `nowMs`: the watchdog's last finding, or, once it stopped, from when the cursor last moved. */
  const stalledSeconds = (nowMs: number): number | null => {
    if (!stallWatchStopped) return progress.stalledForSeconds;
    const stalledMs = nowMs - cursorMovedAtMs;
    const behind = progress.target !== null && progress.target > cursor.blockNumber;
    return !paused && behind && stalledMs >= (input.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS) ? Math.round(stalledMs / 1000) : null;
  };
  /** The progress at workflow time `nowMs` (the rate over the minute before it). */
  const snapshot = (nowMs = Date.now()): SyncProgress => {
    const stalledForSeconds = stalledSeconds(nowMs);
    return {
      ...progress,
      stalledForSeconds,
      status: stalledForSeconds !== null && !paused ? 'stalled' : progress.status,
      paused,
      blocksPerSecond: rate.perSecond(nowMs),
    };
  };
  /** Refreshes the Web UI's details (no history event) and, at most once a minute, the cursor search attribute. */
  const publish = () => {
    setCurrentDetails(syncDetails(snapshot(), input.endpoints ?? [], Date.now()));
    if (!input.searchAttributes || searchAttributeCursor === cursor.blockNumber || cursor.blockNumber < 0) return;
    if (Date.now() - searchAttributeAtMs < SEARCH_ATTRIBUTE_INTERVAL_MS) return;
    upsertSearchAttributes([{ key: cursorSearchAttribute, value: cursor.blockNumber }]);
    searchAttributeAtMs = Date.now();
    searchAttributeCursor = cursor.blockNumber;
  };
  const setCursor = (next: Cursor) => {
    if (next.blockNumber !== cursor.blockNumber) {
      cursorMovedAtMs = Date.now();
      if (progress.stalledForSeconds !== null) {
        log.info(`sync-recovered on chain ${input.chainId}: the cursor moves again (${next.blockNumber}) after ${progress.stalledForSeconds} s`);
        progress.stalledForSeconds = null;
      }
    }
    cursor = next;
    progress.cursor = next.blockNumber;
    progress.cursorHash = next.blockHash;
    progress.lagBlocks = progress.head === null ? null : progress.head - next.blockNumber;
    publish();
  };
  // A query runs between workflow tasks, where Date.now() is the last task's time: a paused or
  // stalled sync has no task for minutes, and its rate stood still at the last one. The query's own
  // time (never before the last task's; a query adds nothing to the history, so replay is unchanged)
  // lets the rate fall to 0 a minute after the last block stored.
  setHandler(syncProgressQuery, () => snapshot(Math.max(Date.now(), workflowInfo().unsafe.now())));
  setHandler(pauseSignal, () => {
    paused = true;
  });
  setHandler(resumeSignal, () => {
    paused = false;
  });

  // Stall watchdog: one timer per half stall timeout, whatever the batches do (they may hang).
  const stallTimeoutMs = input.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  // Exported with the Temporal SDK metrics by the worker that runs this workflow task (not on replay).
  const stalledGauge = metricMeter.createGauge('evm_indexer_sync_stalled_seconds', 'int', 's', 'Seconds the sync\'s cursor has stood still while blocks wait to be stored, once over STALL_TIMEOUT; 0 otherwise');
  const stallTags = { chain_id: String(input.chainId) };
  const watchStalls = async () => {
    for (;;) {
      stalledGauge.set(progress.stalledForSeconds ?? 0, stallTags);
      // Once the history is long enough to continue as new, the run waits for its batches in flight
      // to end: one that never does (endpoints down for days, retried forever) must not let this
      // loop's timers grow the history to the server's limit, which would end the run. The progress
      // query then works the stall out when asked (the gauge keeps its last value: no workflow task
      // runs to set it). Runs recorded before this patch kept checking.
      if (workflowInfo().continueAsNewSuggested && patched(STALL_WATCH_STOPS)) {
        stallWatchStopped = true;
        await condition(() => false);
      }
      await sleep(Math.max(MIN_STALL_CHECK_MS, Math.floor(stallTimeoutMs / 2)));
      const stalledMs = Date.now() - cursorMovedAtMs;
      const behind = progress.target !== null && progress.target > cursor.blockNumber;
      if (paused || !behind || stalledMs < stallTimeoutMs) {
        if (paused || !behind) cursorMovedAtMs = Date.now(); // waiting by choice is not a stall
        continue;
      }
      if (progress.stalledForSeconds === null) {
        log.warn(`sync-stalled on chain ${input.chainId}: cursor ${cursor.blockNumber} has not moved for ${Math.round(stalledMs / 1000)} s while the target is ${progress.target}; stuck batches are retried after their heartbeat timeout`);
      }
      progress.stalledForSeconds = Math.round(stalledMs / 1000);
      publish();
    }
  };
  // Guarded by a patch marker: runs started by a worker without the watchdog replay unchanged.
  if (patched('stall-watchdog')) watchStalls().catch(() => undefined); // ends with the run (cancellation, continue-as-new)

  if (!input.carried) {
    const stored = await acts.readCursor({ chainId: input.chainId });
    if (stored) setCursor(stored);
  }

  /**
   * Rolls back to the common ancestor of the stored chain and the canonical one, if below the
   * cursor. `seam`: where to start the walk (the endpoints' head, a gap's refill) and what it must
   * compare before agreeing blocks may end it, when not from the cursor down.
   */
  const rollBackIfReorged = async (atBlock: number, seam?: { walkFrom: number; checkDownTo?: number }) => {
    progress.status = 'rolling-back';
    const found = await acts.findCommonAncestor({ chainId: input.chainId, fromBlock: cursor.blockNumber, lowestBlock: input.startBlock, ...seam });
    if (found.ancestor.blockNumber < cursor.blockNumber) {
      progress.reorgs += 1;
      const to = found.ancestor.blockHash === null ? `below block ${found.ancestor.blockNumber + 1} (no stored block is on the canonical chain: a reset chain, such as a new devnet, or endpoints that serve another network with this chain id)` : `block ${found.ancestor.blockNumber}, the common ancestor`;
      log.warn(`reorg-detected on chain ${input.chainId} at block ${atBlock} (cursor ${cursor.blockNumber}): rolling back ${found.reorgDepth} blocks up to the cursor (and any stored above it) to ${to}`);
      // The head read last: how deep below it the reorg replaced blocks says whether it went past the confirmation depth.
      await acts.rollback({ chainId: input.chainId, ancestor: found.ancestor, reorgDepth: found.reorgDepth, confirmationDepth: input.confirmationDepth, head: progress.head });
      setCursor(found.ancestor);
    } else if (found.ancestor.blockHash !== cursor.blockHash && found.ancestor.blockHash !== null) {
      // The cursor's block was rewritten with the canonical one (a backfill after a reorg): adopt its hash.
      log.warn(`cursor-rewritten on chain ${input.chainId}: block ${cursor.blockNumber} is stored as ${found.ancestor.blockHash} now`);
      await acts.saveCursor({ chainId: input.chainId, cursor: found.ancestor });
      setCursor(found.ancestor);
    }
  };

  /**
   * Finds gaps below the cursor (rows deleted by hand, a batch lost) and re-indexes them. Returns
   * false when a refilled gap does not link to its neighbours (a reorg below the cursor), after
   * rolling back.
   */
  const repairGaps = async (): Promise<boolean> => {
    if (cursor.blockNumber < input.startBlock) return true;
    // The whole chain is read at the first check after a start and once per FULL_GAP_CHECK_EVERY
    // gap check intervals, across continue-as-new (a full check reads every stored block: about a
    // second per million blocks); the others read from where the last check ended. Runs recorded
    // before read it all each time.
    const interval = input.gapCheckIntervalMs ?? DEFAULT_GAP_CHECK_INTERVAL_MS;
    const incremental = gapFreeBelow !== null && Date.now() - lastFullGapCheckMs < FULL_GAP_CHECK_EVERY * interval && patched(GAP_CHECK_INCREMENTAL);
    // From the block below: findGaps reads its hash, which a refill of a gap starting there links to.
    const from = incremental ? Math.max(input.startBlock, Math.min(gapFreeBelow!, cursor.blockNumber) - 1) : input.startBlock;
    if (!incremental) lastFullGapCheckMs = Date.now();
    const checkedTo = cursor.blockNumber;
    const gaps = await acts.findGaps({ chainId: input.chainId, from, to: checkedTo });
    if (gaps.length === 0) gapFreeBelow = checkedTo;
    else gapFreeBelow = Math.min(gapFreeBelow ?? gaps[0]!.from, gaps[0]!.from); // refilled below: read again from the first gap
    for (const gap of gaps) {
      log.warn(`gap-found on chain ${input.chainId}: blocks ${gap.from}–${gap.to}; re-indexing`);
      const outcome = await runWindow({
        cursor: { blockNumber: gap.from - 1, blockHash: gap.belowHash },
        to: gap.to,
        batchSize: input.batchSize,
        concurrency: input.concurrency,
        index: (range) => acts.indexRange({ chainId: input.chainId, from: range.from, to: range.to, gapRepair: true }),
        // A pause, or a history long enough to continue as new (a gap of millions of blocks),
        // stops the refill after its batches in flight: the next gap check finds what is left.
        // Asked only when it would stop: runs recorded before this patch refilled each gap whole,
        // and replay so; one still refilling when a new worker takes it over stops from then on.
        shouldStop: () => (paused || workflowInfo().continueAsNewSuggested) && patched(GAP_REPAIR_STOPPABLE),
        onAdvance: async () => undefined,
        onInFlight: (count) => {
          progress.inFlightBatches = count;
        },
      });
      if (outcome.kind === 'stopped') return true;
      if (outcome.kind === 'reorg' || (gap.aboveParentHash !== null && outcome.cursor.blockHash !== gap.aboveParentHash)) {
        const atBlock = outcome.kind === 'reorg' ? outcome.atBlock : gap.to + 1;
        // The blocks above the cursor's agree with the chain, so a walk from the cursor would stop
        // long before the gap: compare both sides of the seam that did not link, and the refill's
        // batches committed above it (at most `concurrency` batches of `batchSize` blocks).
        const seam = patched(GAP_SEAMS_CHECKED)
          ? { walkFrom: Math.min(gap.to + 1, cursor.blockNumber, atBlock + input.concurrency * input.batchSize), checkDownTo: atBlock - 1 }
          : undefined;
        const before = cursor;
        await rollBackIfReorged(atBlock, seam);
        if (cursor === before) {
          // Nothing differs where the endpoints serve the blocks (they may lack them): say so, as
          // the refill's rows stay stored and the next gap check will not see them again.
          log.warn(`gap-seam-unresolved on chain ${input.chainId}: blocks ${gap.from}–${gap.to} were re-indexed but do not link at block ${atBlock}, and no endpoint serves a stored block there with another hash: run verify --from ${Math.max(input.startBlock, gap.from - 1)} --to ${gap.to + 1 > cursor.blockNumber ? gap.to : gap.to + 1}`);
        }
        return false;
      }
      progress.gapsRepaired += 1;
    }
    return true;
  };

  for (;;) {
    if (paused) {
      progress.status = 'paused';
      publish();
      await condition(() => !paused || workflowInfo().continueAsNewSuggested);
    }
    if (workflowInfo().continueAsNewSuggested) break;
    progress.status = 'syncing';
    const chainHead = await acts.getChainHead({ chainId: input.chainId });
    const { target, usedFallback } = syncTarget(chainHead, input.finality, input.confirmationDepth);
    if (usedFallback && progress.target === null) {
      log.warn(`chain ${input.chainId} reports no '${input.finality}' block; using head − ${input.confirmationDepth} instead`);
    }
    progress.head = chainHead.head;
    progress.headReadAtMs = Date.now();
    progress.target = target;
    progress.lagBlocks = chainHead.head - cursor.blockNumber;
    publish();
    if (chainHead.head < cursor.blockNumber || (chainHead.head === cursor.blockNumber && cursor.blockHash !== null && chainHead.headHash !== cursor.blockHash)) {
      // The chain is shorter than what we stored, or its head differs at our cursor: a reorg, a
      // reset chain, or an endpoint behind. Only a stored block served with another hash is rolled
      // back; blocks the endpoints do not serve yet are kept, and the sync waits.
      const before = cursor.blockNumber;
      // Blocks above the endpoints' head cannot differ from theirs: the walk starts at the head.
      await rollBackIfReorged(Math.min(chainHead.head + 1, cursor.blockNumber), { walkFrom: Math.max(chainHead.head, input.startBlock) });
      if (cursor.blockNumber === before) {
        if (chainHead.head < cursor.blockNumber && !headBehindCursor) {
          log.warn(`head-below-cursor on chain ${input.chainId}: the endpoints' head ${chainHead.head} is below the stored cursor ${cursor.blockNumber}, and every stored block they serve is the same: waiting for them to reach it (an endpoint behind, or a chain that got shorter); a stored block they serve with another hash is rolled back`);
        }
        headBehindCursor = chainHead.head < cursor.blockNumber;
        progress.status = 'caught-up'; // nothing to index, nothing to roll back
        // The details only: publish() may upsert the cursor search attribute, a command the runs
        // recorded before this branch existed did not make here (their replay would fail).
        setCurrentDetails(syncDetails(snapshot(), input.endpoints ?? [], Date.now()));
        await condition(() => paused, input.pollIntervalMs); // nothing to undo: wait, don't spin
      }
      continue;
    }
    headBehindCursor = false;

    if (target > cursor.blockNumber && !paused) {
      const outcome = await runWindow({
        cursor,
        to: target,
        batchSize: input.batchSize,
        batchRows: input.batchRows ?? 0, // absent in runs started before adaptive sizing: fixed size, so their histories replay
        concurrency: input.concurrency,
        index: (range) => acts.indexRange({ chainId: input.chainId, from: range.from, to: range.to }),
        shouldStop: () => paused || workflowInfo().continueAsNewSuggested,
        onAdvance: async (next, consumed) => {
          // A local activity since this patch; runs recorded before it replay with the regular one.
          await (patched(CURSOR_SAVED_LOCALLY) ? local : acts).saveCursor({ chainId: input.chainId, cursor: next });
          setCursor(next);
          progress.blocksStoredThisRun += consumed.reduce((sum, b) => sum + b.blockCount, 0);
          rate.record(Date.now(), progress.blocksStoredThisRun);
        },
        onInFlight: (count) => {
          progress.inFlightBatches = count;
        },
        refillFirst: () => patched(WINDOW_REFILL_FIRST), // the saveCursor round trip no longer holds back the next batches
        leaveOnSettle: () => patched(WINDOW_LEAVES_ON_SETTLE), // a batch settling during the saveCursor local activity changes no command
        guidedTail: () => patched(WINDOW_GUIDED_TAIL), // the last batches shrink, so every worker has work to the end
      });
      if (outcome.kind === 'reorg') {
        const before = cursor;
        await rollBackIfReorged(outcome.atBlock);
        // Nothing rolled back (the endpoints answered the seam and the walk differently, or no
        // longer serve the blocks): wait a poll interval rather than re-index the range at once.
        if (cursor === before && patched(GAP_SEAMS_CHECKED)) await condition(() => paused, input.pollIntervalMs);
        continue; // re-read the head and re-index above the (possibly new) cursor
      }
      if (outcome.kind === 'done') continue; // the head may have moved while we worked
    }
    if (workflowInfo().continueAsNewSuggested) break;
    if (Date.now() - lastGapCheckMs >= (input.gapCheckIntervalMs ?? DEFAULT_GAP_CHECK_INTERVAL_MS) && !(paused && patched(GAP_SEAMS_CHECKED))) {
      lastGapCheckMs = Date.now();
      if (!(await repairGaps())) continue; // a gap that did not link means a reorg: re-read the head
    }
    progress.status = 'caught-up';
    publish();
    await condition(() => paused, input.pollIntervalMs);
  }

  await condition(allHandlersFinished);
  await continueAsNew<typeof chainSync>({
    ...input,
    carried: { cursor, paused, blocksStored: 0, reorgs: progress.reorgs, ...(gapFreeBelow === null ? {} : { gapFreeBelow, lastFullGapCheckMs }) },
  });
}

/** Least time between two updates of the `CursorBlockNumber` search attribute, in ms (each is a history event). */
const SEARCH_ATTRIBUTE_INTERVAL_MS = 60_000;

/** Default stall timeout, in ms: the cursor not moving this long while behind is a stall. */
const DEFAULT_STALL_TIMEOUT_MS = 300_000;
/** Shortest interval between two stall checks, in ms. */
const MIN_STALL_CHECK_MS = 1_000;

/** Default time between gap checks once caught up, in ms. */
const DEFAULT_GAP_CHECK_INTERVAL_MS = 60_000;
