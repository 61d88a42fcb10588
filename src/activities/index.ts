/**
 * Activities: thin glue between the workflows and the rpc and db layers. Each checks its input,
 * calls domain, rpc and db, and returns a small JSON summary (never block bodies). Errors pass
 * through `toApplicationFailure` in one place (failure.ts).
 */
import type { Kysely } from 'kysely';
import type { ChainHead, Cursor, StoredBatch } from '../domain/index.js';
import { findGaps, readCursor, saveCursor, type Database, type Gap } from '../db/index.js';
import { InvalidInputError } from '../errors.js';
import type { Logger } from '../log.js';
import { adaptiveFetchSlots, BLOCKS_PER_RPC_BATCH, fetchChainHead, type FetchSlots, type RpcPool } from '../rpc/index.js';
import { DEFAULT_FETCH_BUFFER_BYTES } from '../config/parse.js';
import { sharedDecodePool, type DecodePool } from '../decode/pool.js';
import { asActivity } from './failure.js';
import { activityContext, runIndexRange, wrongChainMessage, type IndexRangeInput } from './index-range.js';
import { findCommonAncestor, rollback, type CommonAncestor } from './reorg.js';
import { verifyRange, type VerifyRangeInput, type VerifyResult } from './verify.js';

/**
 * Most JSON-RPC batches of blocks that one worker fetches and holds unwritten at once for one
 * chain, over all the ranges it runs: enough requests in flight to hide a 100–300 ms round trip
 * (light blocks: 16 batches of 50 blocks per 100 ms round trip is 8,000 blocks/s, above what
 * the CPU of two cores allows). The pool's
 * per-endpoint budget (8 requests at first, at most 16, fewer after rate limits) still applies.
 */
export const BLOCK_BATCHES_IN_FLIGHT = 16;

/** JSON-RPC batches in flight whatever the blocks weigh, so fetching overlaps writing. */
const MIN_BLOCK_BATCHES_IN_FLIGHT = 2;

/** JSON the blocks of one JSON-RPC batch should make, in bytes: 5 mainnet blocks, 50 (the most) light ones (≈1.5 MB). */
const BATCH_BYTES = 4 * 2 ** 20;

/** What a block is assumed to weigh until the chain's first answer (a heavy mainnet block with receipts, in bytes of JSON). */
const ASSUMED_BYTES_PER_BLOCK = 2 ** 20;

/**
 * The fetch slots one worker shares over all the ranges of one chain (`adaptiveFetchSlots`): by
 * the mean size of the chain's blocks so far (1 MiB until the first answer), JSON-RPC batches of about 4 MiB of JSON (1 to
 * `maxBlocksPerBatch` blocks: half of `RPC_BATCH_CALLS`, default BLOCKS_PER_RPC_BATCH), and as many in flight (and unwritten) as fit in `fetchBufferBytes`
 * (2 to BLOCK_BATCHES_IN_FLIGHT). With the default `FETCH_BUFFER_MB` (48), Ethereum mainnet
 * (≈0.65–0.8 MB of JSON per block with receipts) gets about 12 batches of 5–6 blocks, light chains (≈30 kB) 16 of 50. It
 * bounds the worker's memory (parsed blocks take 2–3× their JSON) whatever a chain's blocks weigh.
 * Measured with `npm run bench` (README, Performance).
 */
export function workerFetchSlots(fetchBufferBytes: number, maxBlocksPerBatch = BLOCKS_PER_RPC_BATCH): FetchSlots {
  return adaptiveFetchSlots({
    budgetBytes: fetchBufferBytes, batchBytes: BATCH_BYTES, maxBlocksPerBatch, min: MIN_BLOCK_BATCHES_IN_FLIGHT, max: BLOCK_BATCHES_IN_FLIGHT,
    assumedBytesPerBlock: ASSUMED_BYTES_PER_BLOCK,
  });
}

/**
 * What the activities report to, when given (the worker's metrics). Block numbers; durations in
 * ms; timestamps in Unix seconds. Implementations must not throw.
 */
export type ActivityObserver = {
  /** The head and tags just read (`getChainHead`). */
  onChainHead(chainId: number, chainHead: ChainHead): void;
  /** The cursor just read, saved or rolled back to, with its block's timestamp when stored. */
  onCursor(chainId: number, blockNumber: number, blockTimestampSeconds: number | null): void;
  /** An `indexRange` ended: `batch` is its summary, or null when it failed. */
  onRangeFinished(chainId: number, durationMs: number, batch: StoredBatch | null, gapRepair: boolean): void;
  /** A reorg was rolled back, `reorgDepth` stored blocks deep. */
  onReorg(chainId: number, reorgDepth: number): void;
  /** The gap check found these gaps (possibly none). */
  onGapsFound(chainId: number, gaps: readonly Gap[]): void;
  /** `verifyRange` compared a range with the chain. */
  onVerified(chainId: number, result: VerifyResult): void;
};

/**
 * What the activities need: the database, the RPC pool of this worker's chain, a logger,
 * `verifyRoots` (`VERIFY_ROOTS`), `fetchBufferBytes` (`FETCH_BUFFER_MB` in bytes; default the
 * config's default, 48 MiB), `rpcBatchCalls` (`RPC_BATCH_CALLS`: a JSON-RPC batch holds at most
 * half as many blocks; default 100 calls, 50 blocks), optionally an observer (metrics), and `decodePool`: the threads
 * that decode answers (default: the process's shared pool, `sharedDecodePool`; null: none, the
 * main thread decodes; never used with `verifyRoots`).
 */
export type ActivityDeps = {
  db: Kysely<Database>; pool: RpcPool; chainId: number; log: Logger; verifyRoots?: boolean; fetchBufferBytes?: number; rpcBatchCalls?: number; observer?: ActivityObserver;
  decodePool?: DecodePool | null;
};

/** The activities every worker registers, by name. Inputs and outputs are plain JSON. */
export type Activities = {
  /** Head, safe and finalized block numbers of the chain (JSON-RPC `eth_getBlockByNumber` with tags). */
  getChainHead(input: { chainId: number }): Promise<ChainHead>;
  /** Stores one batch `[from, to]` in one transaction; see `runIndexRange`. `gapRepair` marks the re-indexing of a gap (metrics). */
  indexRange(input: IndexRangeInput & { gapRepair?: boolean }): Promise<StoredBatch>;
  /** The stored cursor of the chain, or null. */
  readCursor(input: { chainId: number }): Promise<Cursor | null>;
  /** Persists the cursor; the block it names must be stored with that hash. */
  saveCursor(input: { chainId: number; cursor: Cursor }): Promise<void>;
  /**
   * The common ancestor at or below `fromBlock` (the cursor): the highest block below every stored
   * block the endpoint serves with another hash, or `fromBlock` itself when there is none (blocks it
   * does not serve are no evidence). `walkFrom`/`checkDownTo`: start lower, and compare down to that
   * block before agreeing blocks may end the walk (a gap's seams). See `findCommonAncestor` in reorg.ts.
   */
  findCommonAncestor(input: { chainId: number; fromBlock: number; lowestBlock: number; walkFrom?: number; checkDownTo?: number }): Promise<CommonAncestor>;
  /** Deletes everything above the ancestor and moves the cursor there, in one transaction. */
  rollback(input: { chainId: number; ancestor: Cursor; reorgDepth: number; confirmationDepth: number; head?: number | null }): Promise<{ deletedBlocks: number }>;
  /** Missing block ranges between `from` and `to` inclusive, with the hashes they must link to. */
  findGaps(input: { chainId: number; from: number; to: number }): Promise<Gap[]>;
  /** Re-reads `from..to` from the pool and lists differences with the database (read-only). */
  verifyRange(input: VerifyRangeInput): Promise<VerifyResult>;
};

/**
 * Builds the activities over `deps`. Every activity refuses another chain than `deps.chainId`
 * with InvalidInputError (not retried).
 */
export function createActivities(deps: ActivityDeps): Activities {
  const fetchSlots = workerFetchSlots(deps.fetchBufferBytes ?? DEFAULT_FETCH_BUFFER_BYTES, deps.rpcBatchCalls === undefined ? undefined : Math.max(1, Math.floor(deps.rpcBatchCalls / 2)));
  const decodePool = deps.decodePool === null || deps.verifyRoots ? undefined : (deps.decodePool ?? sharedDecodePool());
  const sameChain = (chainId: number) => {
    if (chainId !== deps.chainId) throw new InvalidInputError(wrongChainMessage(deps.chainId, chainId)); // as indexRange says it
  };
  const observer = deps.observer;
  const observeCursor = async (chainId: number, cursor: Cursor | null) => {
    if (observer && cursor) observer.onCursor(chainId, cursor.blockNumber, await readBlockTimestamp(deps.db, chainId, cursor.blockNumber));
  };
  return {
    getChainHead: asActivity(async ({ chainId }) => {
      sameChain(chainId);
      const chainHead = await fetchChainHead(deps.pool);
      observer?.onChainHead(chainId, chainHead);
      return chainHead;
    }),
    indexRange: asActivity(async ({ gapRepair, ...input }) => {
      const startedAt = Date.now();
      try {
        const batch = await runIndexRange({ ...deps, fetchSlots, decodePool }, input, activityContext());
        observer?.onRangeFinished(input.chainId, Date.now() - startedAt, batch, gapRepair === true);
        return batch;
      } catch (err) {
        observer?.onRangeFinished(input.chainId, Date.now() - startedAt, null, gapRepair === true);
        throw err;
      }
    }),
    readCursor: asActivity(async ({ chainId }) => {
      sameChain(chainId);
      const cursor = await readCursor(deps.db, chainId);
      await observeCursor(chainId, cursor);
      return cursor;
    }),
    saveCursor: asActivity(async ({ chainId, cursor }) => {
      sameChain(chainId);
      await saveCursor(deps.db, chainId, cursor);
      await observeCursor(chainId, cursor);
    }),
    findCommonAncestor: asActivity(async (input) => {
      sameChain(input.chainId);
      return findCommonAncestor({ ...deps, heartbeat: activityContext().heartbeat }, input);
    }),
    rollback: asActivity(async (input) => {
      sameChain(input.chainId);
      const result = await heartbeating(() => rollback(deps, input));
      observer?.onReorg(input.chainId, input.reorgDepth);
      await observeCursor(input.chainId, input.ancestor);
      return result;
    }),
    findGaps: asActivity(async ({ chainId, from, to }) => {
      sameChain(chainId);
      const gaps = await heartbeating(() => findGaps(deps.db, chainId, from, to));
      observer?.onGapsFound(chainId, gaps);
      return gaps;
    }),
    verifyRange: asActivity(async (input) => {
      sameChain(input.chainId);
      const result = await verifyRange(deps, input);
      observer?.onVerified(input.chainId, result);
      return result;
    }),
  };
}

/** Timestamp (Unix seconds) of stored block `blockNumber`, or null when absent or unreadable (metrics only: never throws). */
async function readBlockTimestamp(db: Kysely<Database>, chainId: number, blockNumber: number): Promise<number | null> {
  try {
    const row = await db.selectFrom('blocks').select('timestamp').where('chain_id', '=', chainId).where('number', '=', blockNumber).executeTakeFirst();
    return row ? Number(row.timestamp) : null;
  } catch {
    return null;
  }
}

/** Heartbeat interval of the one-statement activities (a rollback, a gap check) while they run, in ms; well under their 1-minute heartbeat timeout. */
const STATEMENT_HEARTBEAT_MS = 10_000;

/**
 * Runs `work` (one long statement: a rollback of a whole reset chain, a gap check over a long one)
 * heartbeating every {@link STATEMENT_HEARTBEAT_MS} so that Temporal can give it hours yet notice a
 * dead worker within a minute (activities-proxy.ts). Called outside an activity (a test), it just runs `work`.
 */
async function heartbeating<T>(work: () => Promise<T>): Promise<T> {
  let context: ReturnType<typeof activityContext> | undefined;
  try {
    context = activityContext();
  } catch {
    return work();
  }
  const timer = setInterval(() => context.heartbeat('running'), STATEMENT_HEARTBEAT_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
