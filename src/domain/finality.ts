/** How the sync decides which blocks are settled enough to store. */
export type Finality = 'depth' | 'safe' | 'finalized';

/** What `getChainHead` reports: block numbers of the `latest`, `safe` and `finalized` tags. */
export type ChainHead = {
  /** Highest block number the pool reports for `latest`. */
  readonly head: number;
  readonly headHash: string;
  /** Block number of the `safe` tag, or null when the chain has no such tag. */
  readonly safeBlockNumber: number | null;
  /** Block number of the `finalized` tag, or null when the chain has no such tag. */
  readonly finalizedBlockNumber: number | null;
};

/**
 * Highest block number with at least `confirmationDepth` blocks on top of it, or -1 if there is
 * none. Units: block numbers. Pure; never throws. This is `confirmedHead` in the glossary.
 */
export function confirmedHead(head: number, confirmationDepth: number): number {
  return Math.max(-1, head - confirmationDepth);
}

/**
 * The highest block number the sync may store: the `finalized` or `safe` tag when chosen and
 * reported, otherwise `head − confirmationDepth`. `usedFallback` tells that a tag was asked for
 * but the chain did not report it, so depth was used. Pure.
 */
export function syncTarget(
  chainHead: ChainHead,
  finality: Finality,
  confirmationDepth: number,
): { target: number; usedFallback: boolean } {
  const tagged =
    finality === 'finalized'
      ? chainHead.finalizedBlockNumber
      : finality === 'safe'
        ? chainHead.safeBlockNumber
        : null;
  if (finality !== 'depth' && tagged !== null) return { target: Math.min(tagged, chainHead.head), usedFallback: false };
  return { target: confirmedHead(chainHead.head, confirmationDepth), usedFallback: finality !== 'depth' };
}
