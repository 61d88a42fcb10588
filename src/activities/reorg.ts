import type { Kysely } from 'kysely';
import type { Cursor } from '../domain/index.js';
import { readStoredHashes, rollbackTo, type Database } from '../db/index.js';
import type { Logger } from '../log.js';
import { fetchBlockHashes, type RpcPool } from '../rpc/index.js';

/** Blocks compared per step when walking back to the common ancestor (one JSON-RPC batch). */
const ANCESTOR_STEP_BLOCKS = 32;
/** Agreeing blocks in a row, below the last disagreement, that end the walk. */
const AGREEING_RUN_BLOCKS = 32;

/**
 * Result of {@link findCommonAncestor}. `reorgDepth` counts stored blocks above the ancestor, up to
 * `fromBlock`. `unserved`: stored blocks the walk found that the endpoint did not serve (it has no
 * such block: behind, or a shorter chain), none of them evidence of a reorg.
 */
export type CommonAncestor = { ancestor: Cursor; reorgDepth: number; unserved?: number };

/**
 * Walks back from `walkFrom` (default `fromBlock`, the cursor) comparing stored block hashes with
 * the canonical chain (the pool), `ANCESTOR_STEP_BLOCKS` at a time, and returns the common
 * ancestor: the highest block below every disagreement, once `AGREEING_RUN_BLOCKS` blocks in a row
 * agree below `checkDownTo` (default: anywhere). Looking past the first agreement matters when part
 * of a reorganised range was rewritten (by a backfill or a gap's refill) and stale blocks remain
 * below it. Blocks not stored are skipped, and so are blocks the endpoint does not serve (null:
 * a node behind, or a chain that got shorter): only a block served with another hash is evidence
 * of a reorg. Without any, the ancestor is the stored block `fromBlock` (`reorgDepth` 0: nothing to
 * roll back), however many stored blocks the endpoint lacks; so a lagging endpoint never rolls
 * back confirmed blocks. When the walk reaches `lowestBlock` inside a disagreement, the ancestor is
 * `{ lowestBlock − 1, null }`. `heartbeat` is called before each step (the activity's heartbeat).
 * @throws RpcTransientError, DbTransientError (retried).
 */
export async function findCommonAncestor(
  deps: { db: Kysely<Database>; pool: RpcPool; heartbeat?: (details: unknown) => void },
  input: { chainId: number; fromBlock: number; lowestBlock: number; walkFrom?: number; checkDownTo?: number },
): Promise<CommonAncestor> {
  let ancestor: Cursor | null = null;
  let agreeing = 0;
  let disagreed = false;
  let unserved = 0;
  const checkDownTo = input.checkDownTo ?? Number.POSITIVE_INFINITY;
  const noReorg = async (): Promise<CommonAncestor> => {
    const atCursor = (await readStoredHashes(deps.db, input.chainId, [input.fromBlock])).get(input.fromBlock) ?? null;
    return { ancestor: { blockNumber: input.fromBlock, blockHash: atCursor }, reorgDepth: 0, ...(unserved > 0 ? { unserved } : {}) };
  };
  walk: for (let top = Math.min(input.walkFrom ?? input.fromBlock, input.fromBlock); top >= input.lowestBlock; top -= ANCESTOR_STEP_BLOCKS) {
    deps.heartbeat?.({ walkedDownTo: top }); // a walk over a reset chain's many blocks outlasts any fixed timeout
    const numbers: number[] = [];
    for (let n = top; n > top - ANCESTOR_STEP_BLOCKS && n >= input.lowestBlock; n--) numbers.push(n);
    const [stored, canonical] = await Promise.all([
      readStoredHashes(deps.db, input.chainId, numbers),
      fetchBlockHashes(deps.pool, numbers),
    ]);
    for (const n of numbers) {
      const hash = stored.get(n);
      if (hash === undefined) continue;
      const theirs = canonical.get(n);
      if (theirs === undefined) {
        unserved += 1;
        continue;
      }
      if (hash === theirs) {
        ancestor ??= { blockNumber: n, blockHash: hash };
        agreeing += 1;
      } else {
        disagreed = true;
        ancestor = null;
        agreeing = 0;
      }
      if (agreeing >= AGREEING_RUN_BLOCKS && n <= checkDownTo) break walk;
    }
  }
  if (!disagreed) return noReorg();
  const found = ancestor ?? { blockNumber: input.lowestBlock - 1, blockHash: null };
  return { ancestor: found, reorgDepth: input.fromBlock - found.blockNumber, ...(unserved > 0 ? { unserved } : {}) };
}

/**
 * Deletes everything of chain `chainId` above `ancestor` and moves the cursor to it, in one
 * transaction. Logs `reorg-rolled-back` as a warning, `reorg-deeper-than-confirmation-depth` when
 * the reorg replaced blocks more than `confirmationDepth` below the chain's head: `head` (the head
 * the sync read last, in blocks) minus the ancestor, the number of blocks the reorg replaced on the
 * chain, or the stored blocks above the ancestor (`reorgDepth`) when more (a chain that got
 * shorter has a low head; runs recorded without `head` compare only these). A sync stores a block
 * only once it is that deep, so with depth finality any stored block rolled back means such a
 * reorg, however few of them it had stored. Returns the number of blocks deleted.
 * @throws DbTransientError (retried).
 */
export async function rollback(
  deps: { db: Kysely<Database>; log: Logger },
  input: { chainId: number; ancestor: Cursor; reorgDepth: number; confirmationDepth: number; head?: number | null },
): Promise<{ deletedBlocks: number }> {
  const deletedBlocks = await rollbackTo(deps.db, input.chainId, input.ancestor);
  const belowHead = input.head === undefined || input.head === null ? null : input.head - input.ancestor.blockNumber;
  const deep = Math.max(belowHead ?? 0, input.reorgDepth) > input.confirmationDepth;
  deps.log.warn(
    { chainId: input.chainId, commonAncestor: input.ancestor.blockNumber, reorgDepth: input.reorgDepth, ...(belowHead === null ? {} : { head: input.head, depthBelowHead: belowHead }), deletedBlocks, deeperThanConfirmationDepth: deep },
    deep ? 'reorg-deeper-than-confirmation-depth' : 'reorg-rolled-back',
  );
  return { deletedBlocks };
}
