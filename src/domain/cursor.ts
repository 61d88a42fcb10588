import type { BlockRange } from './block-range.js';

/** The last block committed for a chain, contiguous from the start block: number and hash. */
export type Cursor = { readonly blockNumber: number; readonly blockHash: string | null };

/** Summary of one stored batch, as `indexRange` returns it (no block bodies). */
export type StoredBatch = {
  readonly from: number;
  readonly to: number;
  /** `parentHash` of block `from`: must equal the hash of block `from − 1`. */
  readonly firstParentHash: string;
  /** `hash` of block `to`. */
  readonly lastHash: string;
  readonly blockCount: number;
  readonly transactionCount: number;
  readonly logCount: number;
};

/** Result of advancing the cursor over finished batches. */
export type CursorAdvance =
  | { kind: 'advanced'; cursor: Cursor; consumed: StoredBatch[] }
  | { kind: 'reorg'; atBlock: number; expectedParentHash: string; actualParentHash: string };

/**
 * Moves the cursor over the contiguous prefix of `finished` batches that starts right after it,
 * checking at each seam that the batch's first parent hash equals the hash below it.
 * `finished` is keyed by the batch's `from`. Batches consumed are removed from the map.
 * A seam whose hashes differ yields `{ kind: 'reorg' }` with the block number of the batch start,
 * and nothing past the seam is consumed. A null cursor hash (nothing stored yet) links to anything.
 * Pure apart from mutating `finished`; never throws.
 * Invariant: the returned cursor's block number only grows, by whole batches.
 */
export function advanceCursor(cursor: Cursor, finished: Map<number, StoredBatch>): CursorAdvance {
  let current = cursor;
  const consumed: StoredBatch[] = [];
  for (;;) {
    const next = finished.get(current.blockNumber + 1);
    if (!next) break;
    if (current.blockHash !== null && next.firstParentHash !== current.blockHash) {
      if (consumed.length > 0) break; // report the seam on the next call, once this progress is saved
      return {
        kind: 'reorg',
        atBlock: next.from,
        expectedParentHash: current.blockHash,
        actualParentHash: next.firstParentHash,
      };
    }
    finished.delete(next.from);
    consumed.push(next);
    current = { blockNumber: next.to, blockHash: next.lastHash };
  }
  return { kind: 'advanced', cursor: current, consumed };
}

/** The inclusive ranges not yet covered between `cursor + 1` and `target`, cut to `batchSize`. Pure. */
export function pendingRange(cursor: Cursor, target: number): BlockRange | null {
  return target > cursor.blockNumber ? { from: cursor.blockNumber + 1, to: target } : null;
}
