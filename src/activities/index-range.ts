import { Context } from '@temporalio/activity';
import type { Kysely } from 'kysely';
import { isValidRange, rangeSize, type StoredBatch } from '../domain/index.js';
import { batchAttemptKey, toBatchRows, writeBatch, type BatchAttempt, type Database, type EncodedRows } from '../db/index.js';
import { heldBudget, type HeldBudget } from '../db/held-rows.js';
import type { DecodePool } from '../decode/pool.js';
import { InvalidInputError, StoredChainLinkError } from '../errors.js';
import type { Logger } from '../log.js';
import { DecodedBlock, streamBlocks, verifyRoots, type BlockBundle, type BlockLink, type BodyDecoder, type DecodedBody, type FetchSlots, type RootsVerdict, type RpcPool } from '../rpc/index.js';

/** Heartbeat interval of a running batch, in ms; well under the proxy's heartbeat timeout (30 s). */
const HEARTBEAT_EVERY_MS = 5_000;

/**
 * Input of `indexRange`: one batch, inclusive block numbers. `linkBelow` / `linkAbove` (a
 * backfill's first and last batch): the batch is stored only if its first block is the child of
 * the stored block `from − 1`, and its last block the parent of the stored block `to + 1`, when
 * those are stored.
 */
export type IndexRangeInput = { chainId: number; from: number; to: number; linkBelow?: boolean; linkAbove?: boolean };

/** What `indexRange` returns: the stored batch, and with `VERIFY_ROOTS` how many of its blocks' header roots could not be checked. */
export type IndexRangeSummary = StoredBatch & { rootsNotVerifiable?: number };

/**
 * What a worker of chain `workerChainId` says of work for chain `chainId` on its task queue (not
 * retried: any worker of that queue may get it). The fix is a queue of the chain's own: a worker
 * of `chainId` added to this queue would take the other chain's work as often as its own. Pure.
 * @example wrongChainMessage(31337, 1) // 'this worker indexes chain 31337, not chain 1: chain 1 needs a task queue of its own, polled only by workers of chain 1 (CHAIN_ID=1 and its endpoints, or a CHAINS_FILE that lists it)'
 */
export function wrongChainMessage(workerChainId: number, chainId: number): string {
  return `this worker indexes chain ${workerChainId}, not chain ${chainId}: chain ${chainId} needs a task queue of its own, polled only by workers of chain ${chainId} (CHAIN_ID=${chainId} and its endpoints, or a CHAINS_FILE that lists it)`;
}

/**
 * Fetches blocks `from..to` with full transactions and receipts from the pool, validates them,
 * and replaces what is stored for the range in one Postgres transaction. Each JSON-RPC batch of
 * blocks is converted and streamed into the open transaction as soon as it arrives
 * (`streamBlocks` into `writeBatch`), so a range never sits whole in memory; the commit comes after
 * the last block arrived and the range's parent-hash links checked out. `fetchSlots`, when given,
 * is the worker's limit on JSON-RPC batches in flight (and not yet encoded for COPY) across all ranges it
 * runs (`workerFetchSlots`): it bounds the worker's memory. `decodePool`, when given, parses,
 * validates, converts and encodes the answers in its threads (src/decode/; not with `verifyRoots`,
 * whose checks need the parsed blocks). `heldBudget` (default: the process's, `heldBudget` in
 * db/held-rows.ts) bounds, loosely, the rows the worker's ranges hold until their ends: past it, the
 * range waits before it starts (heartbeating) until other ranges wrote theirs. Heartbeats on a timer and passes the activity's
 * cancellation to fetch. Idempotent. With `verifyRoots` each block's header roots are recomputed
 * before an endpoint's answer is taken (`verifyRoots` in rpc/verify-roots.ts): a mismatch refuses
 * that answer; blocks whose roots cannot be recomputed are stored, counted in `rootsNotVerifiable`
 * and logged as `roots-not-verifiable` with the reasons. With `linkBelow` / `linkAbove` (a
 * backfill's edges) the range commits only if it links to the stored blocks next to it. Returns a
 * small summary (no block bodies).
 * @throws InvalidInputError (not retried) for a bad range or another chain; RpcTransientError,
 *   RpcBadResponseError, DbTransientError, StoredChainLinkError (retried by Temporal).
 */
export async function runIndexRange(
  deps: { db: Kysely<Database>; pool: RpcPool; chainId: number; log: Logger; verifyRoots?: boolean; fetchSlots?: FetchSlots; decodePool?: DecodePool; heldBudget?: HeldBudget },
  input: IndexRangeInput,
  context?: { heartbeat(details: unknown): void; cancellationSignal?: AbortSignal; attempt?: BatchAttempt },
): Promise<IndexRangeSummary> {
  const range = { from: input.from, to: input.to };
  if (!isValidRange(range)) throw new InvalidInputError(`indexRange needs integers 0 ≤ from ≤ to, got from=${input.from} to=${input.to}`);
  if (input.chainId !== deps.chainId) {
    throw new InvalidInputError(wrongChainMessage(deps.chainId, input.chainId));
  }
  const startedAt = Date.now();
  // Heartbeat on a timer while this process works (fetch failover and a long write included), so
  // a dead worker is noticed after the heartbeat timeout and a live one never is.
  let stage: Record<string, unknown> = { fetchedBlocks: 0, writtenBlocks: 0 };
  const timer = setInterval(() => context?.heartbeat(stage), HEARTBEAT_EVERY_MS);
  const counts = { blocks: 0, transactions: 0, logs: 0 };
  const verdicts = new Map<number, RootsVerdict>();
  let links: BlockLink[];
  let decoder: BodyDecoder | undefined;
  let endTurn: () => void = () => {};
  try {
    // The worker's budget of held rows: past it, this range starts once other ranges wrote theirs
    // (src/db/held-rows.ts); it holds nothing while it waits.
    endTurn = await (deps.heldBudget ?? heldBudget).start(context?.cancellationSignal);
    links = await writeBatch(deps.db, input.chainId, range, async (write, { types, writeEncoded, storedLinks }) => {
      const fetched = await streamBlocks(deps.pool, range, {
        signal: context?.cancellationSignal,
        slots: deps.fetchSlots,
        decoder: (decoder = deps.decodePool?.forRange(input.chainId, types)),
        onProgress: (fetchedBlocks) => {
          stage = { fetchedBlocks, writtenBlocks: counts.blocks };
        },
        check: deps.verifyRoots
          ? async ({ block, receipts }, label) => {
              verdicts.set(Number(BigInt(block.number)), await verifyRoots(input.chainId, block, receipts, label));
            }
          : undefined,
        onBundles: async (fetched) => {
          const bundles: BlockBundle[] = [];
          const bodies = new Map<DecodedBody, number>();
          for (const b of fetched) {
            if (b instanceof DecodedBlock) bodies.set(b.body!, (bodies.get(b.body!) ?? 0) + 1);
            else bundles.push(b);
          }
          const writes: Promise<{ blocks: number; transactions: number; logs: number }>[] = [];
          for (const [body, blocks] of bodies) {
            // The valid blocks of one answer share its rows: all of them must be here (fetchChunk takes an answer whole).
            if (blocks !== body.blockCount) throw new Error(`blocks ${range.from}–${range.to}: ${blocks} of the ${body.blockCount} blocks of one decoded answer arrived (a bug)`);
            const encoded = body.payload as EncodedRows;
            writes.push(writeEncoded(encoded).then(() => encoded.counts));
          }
          if (bundles.length > 0) {
            const rows = toBatchRows(input.chainId, bundles);
            writes.push(write(rows).then(() => ({ blocks: rows.blocks.length, transactions: rows.transactions.length, logs: rows.logs.length })));
          }
          for (const written of await Promise.all(writes)) {
            counts.blocks += written.blocks;
            counts.transactions += written.transactions;
            counts.logs += written.logs;
          }
        },
      });
      // Before the commit: a refused range leaves nothing (writeBatch rolls back what it wrote).
      if (input.linkBelow || input.linkAbove) await checkStoredNeighbours(storedLinks, input, fetched);
      return fetched;
    }, {
      attempt: context?.attempt,
      // An earlier attempt Temporal gave up on still held its transaction (and the rows' locks this one would wait for).
      onStopFailed: (err) => deps.log.warn({ from: input.from, to: input.to, attempt: context?.attempt?.number, err: err instanceof Error ? err.message : String(err) }, `stale-attempt-not-stopped: chain ${input.chainId} blocks ${input.from}–${input.to}: Postgres refused to end the sessions of earlier attempts of this batch (the worker's role needs to be theirs, or pg_signal_backend); a frozen one holds this attempt until it ends`),
      onStopped: (stopped) => deps.log.warn({ from: input.from, to: input.to, attempt: context?.attempt?.number, stopped }, `stale-attempt-stopped: chain ${input.chainId} blocks ${input.from}–${input.to}: ended ${stopped.length} Postgres session${stopped.length === 1 ? '' : 's'} of an earlier attempt of this batch, whose transaction was still open (a worker frozen or cut off from Temporal)`),
    });
  } finally {
    clearInterval(timer);
    endTurn();
    // The transaction ended: no COPY reads this range's answers any more, written, refused or dropped.
    decoder?.end?.();
  }
  const first = links[0]!;
  const last = links[links.length - 1]!;
  const notVerifiable = [...verdicts].filter(([, v]) => v.status === 'not-verifiable');
  if (notVerifiable.length > 0) {
    const reasons = [...new Set(notVerifiable.map(([, v]) => (v.status === 'not-verifiable' ? v.reason : '')))];
    deps.log.info({ chainId: input.chainId, from: range.from, to: range.to, blocks: notVerifiable.length, firstBlock: notVerifiable[0]![0], reasons }, 'roots-not-verifiable');
  }
  const summary: IndexRangeSummary = {
    from: range.from,
    to: range.to,
    firstParentHash: first.parentHash.toLowerCase(),
    lastHash: last.hash.toLowerCase(),
    blockCount: counts.blocks,
    transactionCount: counts.transactions,
    logCount: counts.logs,
    ...(deps.verifyRoots ? { rootsNotVerifiable: notVerifiable.length } : {}),
  };
  deps.log.info({ chainId: input.chainId, from: range.from, to: range.to, transactions: summary.transactionCount, logs: summary.logCount, durationMs: Date.now() - startedAt }, 'batch-stored');
  return summary;
}

/**
 * Refuses a range whose edge blocks do not link to the stored blocks next to it (`linkBelow`: the
 * stored `from − 1`; `linkAbove`: the stored `to + 1`; a neighbour not stored is not checked).
 * Read on the batch's own connection (`storedLinks`), read committed: what other writers committed counts.
 * @throws StoredChainLinkError (retried) naming both blocks and hashes.
 */
async function checkStoredNeighbours(
  storedLinks: (numbers: readonly number[]) => Promise<Map<number, { hash: string; parentHash: string }>>,
  input: IndexRangeInput,
  links: readonly BlockLink[],
): Promise<void> {
  const first = links[0]!;
  const last = links[links.length - 1]!;
  const below = input.linkBelow && input.from > 0 ? input.from - 1 : null;
  const above = input.linkAbove ? input.to + 1 : null;
  const stored = await storedLinks([below, above].filter((n): n is number => n !== null));
  const why = 'the endpoint serves blocks of a chain reorganized away (it lags behind a reorg), or the stored block is from one and the sync has not rolled it back yet; nothing of the range is stored, retried (if no running sync will rewrite the stored block, backfill a range that includes it)';
  const storedBelow = below === null ? undefined : stored.get(below);
  if (storedBelow && storedBelow.hash !== first.parentHash.toLowerCase()) {
    throw new StoredChainLinkError(`chain ${input.chainId} blocks ${input.from}–${input.to}: block ${input.from}'s parent is ${first.parentHash.toLowerCase()}, but the stored block ${below} is ${storedBelow.hash}: ${why}`);
  }
  const storedAbove = above === null ? undefined : stored.get(above);
  if (storedAbove && storedAbove.parentHash !== last.hash.toLowerCase()) {
    throw new StoredChainLinkError(`chain ${input.chainId} blocks ${input.from}–${input.to}: block ${input.to} is ${last.hash.toLowerCase()}, but the stored block ${above}'s parent is ${storedAbove.parentHash}: ${why}`);
  }
}

/**
 * Temporal's activity context, adapted to what {@link runIndexRange} needs: heartbeats, the
 * cancellation, and which attempt of which activity this is (`batchAttemptKey` of its workflow,
 * run and activity ids; Temporal's attempt number).
 */
export function activityContext(): { heartbeat(details: unknown): void; cancellationSignal: AbortSignal; attempt?: BatchAttempt } {
  const ctx = Context.current();
  const { workflowExecution, activityId, attempt } = ctx.info;
  return {
    heartbeat: (details) => ctx.heartbeat(details),
    cancellationSignal: ctx.cancellationSignal,
    // An activity outside a workflow has no ids to name its batch by: no attempt then.
    ...(workflowExecution ? { attempt: { key: batchAttemptKey(workflowExecution.workflowId, workflowExecution.runId, activityId), number: attempt } } : {}),
  };
}
