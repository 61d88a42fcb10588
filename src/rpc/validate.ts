import { RpcBadResponseError } from '../errors.js';
import type { BlockBundle, RpcBlock, RpcReceipt } from './types.js';

const ZERO_BLOOM = /^0x0*$/;

/** Lower-cased hex, for comparing hashes that some nodes print in mixed case. Pure. */
const lc = (value: unknown): string => String(value).toLowerCase();

/**
 * Checks that `block` is block `blockNumber` with full transaction objects, as asked of
 * `eth_getBlockByNumber(n, true)`. Pure.
 * @throws RpcBadResponseError naming the endpoint label, the block number, expected and actual.
 */
export function validateBlock(block: unknown, blockNumber: number, label: string): asserts block is RpcBlock {
  const where = `${label}: block ${blockNumber}`;
  if (typeof block !== 'object' || block === null) throw new RpcBadResponseError(`${where}: not an object`);
  const b = block as Partial<RpcBlock>;
  for (const field of ['number', 'hash', 'parentHash', 'timestamp', 'logsBloom'] as const) {
    if (typeof b[field] !== 'string') throw new RpcBadResponseError(`${where}: field ${field} missing`);
  }
  if (Number(BigInt(b.number!)) !== blockNumber) {
    throw new RpcBadResponseError(`${where}: answered block ${Number(BigInt(b.number!))} instead`);
  }
  if (!Array.isArray(b.transactions)) throw new RpcBadResponseError(`${where}: transactions missing`);
  b.transactions.forEach((tx, i) => {
    if (typeof tx !== 'object' || tx === null || typeof tx.hash !== 'string') {
      throw new RpcBadResponseError(`${where}: transaction ${i} is not a full transaction object`);
    }
    if (tx.blockHash !== undefined && tx.blockHash !== null && lc(tx.blockHash) !== lc(b.hash)) {
      throw new RpcBadResponseError(`${where}: transaction ${tx.hash} has blockHash ${tx.blockHash}, expected ${b.hash}`);
    }
  });
}

/**
 * Checks that `receipts` belong to `block` (same `blockHash` and block number) and cover every
 * transaction of the block exactly once. Receipts without a transaction in the block's list
 * (Polygon state-sync) are allowed. So is the receipt of a later block for a transaction the block
 * lists (an Ethermint "phantom" transaction, Cronos 6541: listed in blocks 6541 and 6542, executed
 * and receipted in 6542 only; see {@link isLaterBlockReceipt}); its logs must carry its own block's
 * hash. A non-zero `logsBloom` with no log of the block's own receipts is refused as an
 * inconsistent node. Pure.
 * @throws RpcBadResponseError naming the endpoint label, the block, expected and actual.
 */
export function validateReceipts(block: RpcBlock, receipts: unknown, label: string): asserts receipts is RpcReceipt[] {
  const blockNumber = Number(BigInt(block.number));
  const where = `${label}: block ${blockNumber}`;
  if (!Array.isArray(receipts)) throw new RpcBadResponseError(`${where}: receipts missing (got ${receipts === null ? 'null' : typeof receipts})`);
  const byHash = new Map<string, RpcReceipt>();
  let logCount = 0;
  for (const receipt of receipts as RpcReceipt[]) {
    if (typeof receipt !== 'object' || receipt === null || typeof receipt.transactionHash !== 'string') {
      throw new RpcBadResponseError(`${where}: a receipt is not an object with transactionHash`);
    }
    const later = isLaterBlockReceipt(block, receipt);
    if (!later && lc(receipt.blockHash) !== lc(block.hash)) {
      throw new RpcBadResponseError(`${where}: receipt ${receipt.transactionHash} has blockHash ${receipt.blockHash}, expected ${block.hash}`);
    }
    if (!later && receipt.blockNumber !== undefined && lc(receipt.blockNumber) !== lc(block.number) && BigInt(receipt.blockNumber) !== BigInt(block.number)) {
      throw new RpcBadResponseError(`${where}: receipt ${receipt.transactionHash} has blockNumber ${BigInt(receipt.blockNumber)}, expected ${blockNumber}`);
    }
    if (!Array.isArray(receipt.logs)) throw new RpcBadResponseError(`${where}: receipt ${receipt.transactionHash} has no logs array`);
    for (const log of receipt.logs) {
      if (lc(log.blockHash) !== lc(receipt.blockHash)) {
        throw new RpcBadResponseError(`${where}: log ${log.logIndex} of ${receipt.transactionHash} has blockHash ${log.blockHash}, expected ${receipt.blockHash}`);
      }
    }
    if (!later) logCount += receipt.logs.length;
    byHash.set(lc(receipt.transactionHash), receipt);
  }
  for (const tx of block.transactions) {
    if (!byHash.has(lc(tx.hash))) {
      throw new RpcBadResponseError(`${where}: no receipt for transaction ${tx.hash} (${receipts.length} receipts for ${block.transactions.length} transactions)`);
    }
  }
  if (logCount === 0 && !ZERO_BLOOM.test(block.logsBloom) && block.transactions.length > 0) {
    throw new RpcBadResponseError(`${where}: logsBloom is not zero but the receipts carry no log`);
  }
}

/**
 * Whether `receipt` is the receipt of a later block for a transaction that `block` lists: its
 * `blockHash` differs from the block's, its `blockNumber` is higher, and its `transactionHash` is
 * one of the block's transactions (Ethermint phantom transaction, Cronos). Pure; never throws on
 * well-formed hex (a malformed `blockNumber` counts as not later).
 */
export function isLaterBlockReceipt(block: RpcBlock, receipt: RpcReceipt): boolean {
  if (lc(receipt.blockHash) === lc(block.hash)) return false;
  try {
    if (typeof receipt.blockNumber !== 'string' || BigInt(receipt.blockNumber) <= BigInt(block.number)) return false;
  } catch {
    return false;
  }
  return block.transactions.some((tx) => lc(tx.hash) === lc(receipt.transactionHash));
}

/**
 * Checks that consecutive bundles link: each block's `parentHash` equals the previous block's
 * `hash` (the canonical chain as one endpoint saw it). Pure.
 * @throws RpcBadResponseError naming the block and both hashes.
 */
export function validateLinkage(bundles: readonly BlockBundle[]): void {
  validateLinks(bundles.map(({ block }) => ({ number: Number(BigInt(block.number)), hash: block.hash, parentHash: block.parentHash })));
}

/**
 * {@link validateLinkage} over consecutive block links (number, hash, parent hash). Pure.
 * @throws RpcBadResponseError naming the block and both hashes.
 */
export function validateLinks(links: readonly { number: number; hash: string; parentHash: string }[]): void {
  for (let i = 1; i < links.length; i++) {
    const previous = links[i - 1]!;
    const current = links[i]!;
    if (lc(current.parentHash) !== lc(previous.hash)) {
      throw new RpcBadResponseError(`block ${current.number}: parentHash ${current.parentHash} does not match hash ${previous.hash} of block ${previous.number}`);
    }
  }
}
