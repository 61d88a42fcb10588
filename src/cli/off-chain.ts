/**
 * What the client says when the stored cursor is not on the chain the endpoints serve: the chain
 * was reset (a new devnet, a testnet reset) or reorganized deeper than the confirmation depth. The
 * sync handles it (it finds the common ancestor and rolls back); this only explains, at `start`,
 * the deep-reorg warning the worker is about to log.
 */
import { formatCount, type Cursor } from '../domain/index.js';

/**
 * The note `start` prints on a line of its own when block N of the chain the endpoints serve is not
 * the stored cursor's (`chainHash`: that block's hash, null when the chain has no block N; when it
 * is undefined, unknown, or no hash is stored, there is no note: ''): a chain that was reset (a new
 * devnet, a testnet reset), an endpoint behind it, or a reorg deeper than the confirmation depth,
 * which the sync rolls back first (a chain without block N: once it serves a stored block with
 * another hash; until then it waits). Pure.
 * @example offChainNote({ blockNumber: 13, blockHash: '0xc0e8…' }, null)
 *   // 'note: the stored cursor 13 is not on the chain the endpoints serve (it has no block 13 yet: a reset chain, such as a new devnet, or an endpoint behind it): if the workers' endpoints serve the same, the sync waits for them to reach block 13, and rolls back the stored blocks above the common ancestor as soon as one they serve has another hash'
 */
export function offChainNote(cursor: Cursor, chainHash: string | null | undefined): string {
  if (chainHash === undefined || cursor.blockHash === null || chainHash === cursor.blockHash.toLowerCase()) return '';
  const n = formatCount(cursor.blockNumber);
  const why = chainHash === null
    ? `it has no block ${n} yet: a reset chain, such as a new devnet, or an endpoint behind it`
    : `its block ${n} is ${chainHash}, stored ${cursor.blockHash}: a reset chain, such as a new devnet, or a reorg deeper than the confirmation depth`;
  const then = chainHash === null
    ? `if the workers' endpoints serve the same, the sync waits for them to reach block ${n}, and rolls back the stored blocks above the common ancestor as soon as one they serve has another hash`
    : `if the workers' endpoints serve the same, the sync first rolls back the stored blocks above the common ancestor`;
  return `note: the stored cursor ${n} is not on the chain the endpoints serve (${why}): ${then}`;
}
