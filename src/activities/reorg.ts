import type { Kysely } from 'kysely';
import type { Cursor } from '../domain/index.js';
import { readStoredHashes, rollbackTo, type Database } from '../db/index.js';
import type { Logger } from '../log.js';
import { fetchBlockHashes, type RpcPool } from '../rpc/index.js';

/** Blocks compared per step when walking back to the common ancestor (one JSON-RPC batch). */
const ANCESTOR_STEP_BLOCKS = 32;
/** Agreeing blocks in a row, below the last disagreement, that end the walk. */
const AGREEING_RUN_BLOCKS = 32;

/** Result of {@link findCommonAncestor}. `reorgDepth` counts stored blocks above the ancestor, up to `fromBlock`. */
export type CommonAncestor = { ancestor: Cursor; reorgDepth: number };

/**
 * Walks back from `fromBlock` comparing stored block hashes with the canonical chain (the pool),
 * `ANCESTOR_STEP_BLOCKS` at a time, and returns the common ancestor: the highest block below every
 * disagreement, once `AGREEING_RUN_BLOCKS` blocks in a row agree. Looking past the first agreement
 * matters when part of a reorganised range was rewritten (by a backfill) and stale blocks remain
 * below it. Blocks not stored are skipped; a block missing on the pool's side (node behind)
 * disagrees. When the walk reaches `lowestBlock` inside a disagreement, the ancestor is
 * `{ lowestBlock − 1, null }`.
 * @throws RpcTransientError, DbTransientError (retried).
 */
export async function findCommonAncestor(
  deps: { db: Kysely<Database>; pool: RpcPool },
  input: { chainId: number; fromBlock: number; lowestBlock: number },
): Promise<CommonAncestor> {
  let ancestor: Cursor | null = null;
  let agreeing = 0;
  for (let top = input.fromBlock; top >= input.lowestBlock; top -= ANCESTOR_STEP_BLOCKS) {
    const numbers: number[] = [];
    for (let n = top; n > top - ANCESTOR_STEP_BLOCKS && n >= input.lowestBlock; n--) numbers.push(n);
    const [stored, canonical] = await Promise.all([
      readStoredHashes(deps.db, input.chainId, numbers),
      fetchBlockHashes(deps.pool, numbers),
    ]);
    for (const n of numbers) {
      const hash = stored.get(n);
      if (hash === undefined) continue;
      if (hash === canonical.get(n)) {
        ancestor ??= { blockNumber: n, blockHash: hash };
        agreeing += 1;
      } else {
        ancestor = null;
        agreeing = 0;
      }
      if (agreeing >= AGREEING_RUN_BLOCKS) return { ancestor: ancestor!, reorgDepth: input.fromBlock - ancestor!.blockNumber };
    }
  }
  const found = ancestor ?? { blockNumber: input.lowestBlock - 1, blockHash: null };
  return { ancestor: found, reorgDepth: input.fromBlock - found.blockNumber };
}

/**
 * Deletes everything of chain `chainId` above `ancestor` and moves the cursor to it, in one
 * transaction. Logs `reorg-rolled-back` as a warning, louder when the reorg was deeper than the
 * confirmation depth. Returns the number of blocks deleted.
 * @throws DbTransientError (retried).
 */
export async function rollback(
  deps: { db: Kysely<Database>; log: Logger },
  input: { chainId: number; ancestor: Cursor; reorgDepth: number; confirmationDepth: number },
): Promise<{ deletedBlocks: number }> {
  const deletedBlocks = await rollbackTo(deps.db, input.chainId, input.ancestor);
  const deep = input.reorgDepth > input.confirmationDepth;
  deps.log.warn(
    { chainId: input.chainId, commonAncestor: input.ancestor.blockNumber, reorgDepth: input.reorgDepth, deletedBlocks, deeperThanConfirmationDepth: deep },
    deep ? 'reorg-deeper-than-confirmation-depth' : 'reorg-rolled-back',
  );
  return { deletedBlocks };
}
