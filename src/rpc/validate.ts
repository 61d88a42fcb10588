import { RpcBadResponseError } from '../errors.js';
import type { BlockBundle, RpcBlock, RpcReceipt } from './types.js';
import { matchReceipts } from '../db/rows.js';

const ZERO_BLOOM = /^0x0*$/;
/** The largest integer the rows keep exactly (a JS number; the columns are bigint). */
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Lower-cased hex, for comparing hashes that some nodes print in mixed case. Pure. */
export const lc = (value: unknown): string => String(value).toLowerCase();

/**
 * Checks that `block` is block `blockNumber` with full transaction objects, as asked of
 * `eth_getBlockByNumber(n, true)`, listed by rising `transactionIndex` (where given). An empty
 * list under a header whose `gasUsed` is above 0 is taken: Ethermint chains (Cronos, Evmos) count
 * their Cosmos transactions' gas there and list only the EVM ones, and Hedera counts results it
 * does not list (VERIFY_ROOTS checks the body against the header where the chain follows
 * Ethereum's roots). Pure.
 * @throws RpcBadResponseError naming the endpoint label, the block number, expected and actual.
 */
export function validateBlock(block: unknown, blockNumber: number, label: string): asserts block is RpcBlock {
  const where = `${label}: block ${blockNumber}`;
  if (typeof block !== 'object' || block === null) throw new RpcBadResponseError(`${where}: not an object`);
  const b = block as Partial<RpcBlock>;
  for (const field of ['number', 'hash', 'parentHash', 'timestamp', 'logsBloom'] as const) {
    if (typeof b[field] !== 'string') throw new RpcBadResponseError(`${where}: field ${field} missing`);
  }
  const timestamp = quantity(b.timestamp);
  if (timestamp !== null && timestamp > MAX_SAFE) throw new RpcBadResponseError(`${where}: timestamp ${timestamp} is above 2^53 − 1`);
  if (Number(BigInt(b.number!)) !== blockNumber) {
    throw new RpcBadResponseError(`${where}: answered block ${Number(BigInt(b.number!))} instead`);
  }
  if (!Array.isArray(b.transactions)) throw new RpcBadResponseError(`${where}: transactions missing`);
  let previousIndex = -1n;
  b.transactions.forEach((tx, i) => {
    if (typeof tx !== 'object' || tx === null || typeof tx.hash !== 'string') {
      throw new RpcBadResponseError(`${where}: transaction ${i} is not a full transaction object`);
    }
    if (tx.blockHash !== undefined && tx.blockHash !== null && lc(tx.blockHash) !== lc(b.hash)) {
      throw new RpcBadResponseError(`${where}: transaction ${tx.hash} has blockHash ${tx.blockHash}, expected ${b.hash}`);
    }
    // Positions in the block rise with the list (Hedera's skip numbers: 0–3, then 7); a list in
    // another order is an endpoint that mixed transactions up.
    const index = quantity(tx.transactionIndex);
    if (index !== null) {
      if (index <= previousIndex) throw new RpcBadResponseError(`${where}: transaction ${tx.hash} has transactionIndex ${index}, not above the previous transaction's ${previousIndex}`);
      previousIndex = index;
    }
  });
}

/** A hex quantity as a bigint; null when absent, null, or not a hex string (checked where the value is used). Pure. */
function quantity(value: unknown): bigint | null {
  if (typeof value !== 'string' || !/^0x[0-9a-fA-F]+$/.test(value)) return null;
  return BigInt(value);
}

/**
 * Checks that `receipts` belong to `block` (same `blockHash` and block number) and cover every
 * transaction of the block exactly once. Receipts without a transaction in the block's list
 * (Polygon state-sync) are allowed. So is the receipt of a later block for a transaction the block
 * lists (an Ethermint "phantom" transaction, Cronos 6541: listed in blocks 6541 and 6542, executed
 * and receipted in 6542 only; see {@link isLaterBlockReceipt}); its logs must carry its own block's
 * hash. A non-zero `logsBloom` with no log of the block's own receipts is refused as an
 * inconsistent node, and so are logs that are not their receipt's (another `transactionHash` or
 * `transactionIndex`), a receipt without logs whose own `logsBloom` is not zero (its logs left
 * out), a log index used twice, and log indexes that do not rise through the block's transactions
 * (each receipt's logs numbered from 0: Besu and polygon-edge have done it). Gaps are allowed
 * (Cronos has them). `options.laterBlockReceipts: false` refuses receipts of a later block too (the
 * receipts came from another endpoint than the block, which may serve another fork). Pure.
 * @throws RpcBadResponseError naming the endpoint label, the block, expected and actual.
 */
export function validateReceipts(block: RpcBlock, receipts: unknown, label: string, options: { laterBlockReceipts?: boolean } = {}): asserts receipts is RpcReceipt[] {
  const allowLater = options.laterBlockReceipts ?? true;
  const isLater = (receipt: RpcReceipt) => allowLater && isLaterBlockReceipt(block, receipt);
  const blockNumber = Number(BigInt(block.number));
  const where = `${label}: block ${blockNumber}`;
  if (!Array.isArray(receipts)) throw new RpcBadResponseError(`${where}: receipts missing (got ${receipts === null ? 'null' : typeof receipts})`);
  const byHash = new Map<string, RpcReceipt>();
  /** Each log index of the block's own receipts, with its receipt: the stored logs' key is (block, log index). */
  const logIndexes = new Map<bigint, string>();
  let logCount = 0;
  for (const receipt of receipts as RpcReceipt[]) {
    if (typeof receipt !== 'object' || receipt === null || typeof receipt.transactionHash !== 'string') {
      throw new RpcBadResponseError(`${where}: a receipt is not an object with transactionHash`);
    }
    const later = isLater(receipt);
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
    if (!later) {
      logCount += receipt.logs.length;
      checkLogsOfReceipt(receipt, where);
      for (const log of receipt.logs) {
        const index = quantity(log.logIndex);
        if (index === null) continue;
        const other = logIndexes.get(index);
        if (other !== undefined) throw new RpcBadResponseError(`${where}: log index ${index} is used twice (receipts ${other} and ${receipt.transactionHash})`);
        logIndexes.set(index, receipt.transactionHash);
      }
    }
    byHash.set(lc(receipt.transactionHash), receipt);
  }
  for (const tx of block.transactions) {
    if (!byHash.has(lc(tx.hash))) {
      throw new RpcBadResponseError(`${where}: no receipt for transaction ${tx.hash} (${receipts.length} receipts for ${block.transactions.length} transactions)`);
    }
  }
  let previousLogIndex = -1n;
  let previousReceipt = '';
  for (const receipt of matchReceipts(block.transactions, receipts as RpcReceipt[]).byTransaction) {
    if (receipt === null || isLater(receipt)) continue;
    // Log indexes rise through the block in transaction order (Cronos skips some): one that does
    // not is an endpoint numbering each receipt's logs from 0, or logs moved between receipts.
    for (const log of receipt.logs) {
      const index = quantity(log.logIndex);
      if (index === null) continue;
      if (index <= previousLogIndex) {
        throw new RpcBadResponseError(`${where}: log index ${index} of ${receipt.transactionHash} is not above the previous log's ${previousLogIndex}${previousReceipt === receipt.transactionHash ? '' : ` (of ${previousReceipt})`}`);
      }
      previousLogIndex = index;
      previousReceipt = receipt.transactionHash;
    }
  }
  if (logCount === 0 && !ZERO_BLOOM.test(block.logsBloom) && block.transactions.length > 0) {
    throw new RpcBadResponseError(`${where}: logsBloom is not zero but the receipts carry no log`);
  }
  // The same for each receipt: a receipt's bloom is made of its own logs' addresses and topics.
  for (const receipt of receipts as RpcReceipt[]) {
    if (receipt.logs.length === 0 && typeof receipt.logsBloom === 'string' && !ZERO_BLOOM.test(receipt.logsBloom) && !isLater(receipt)) {
      throw new RpcBadResponseError(`${where}: receipt ${receipt.transactionHash} has a non-zero logsBloom but no logs`);
    }
  }
}

/**
 * Checks that the logs of `receipt` are its own: each log's `transactionHash` and
 * `transactionIndex` (where given) are the receipt's. Pure.
 * @throws RpcBadResponseError naming the block (`where`), the receipt and the log.
 */
function checkLogsOfReceipt(receipt: RpcReceipt, where: string): void {
  const receiptIndex = quantity(receipt.transactionIndex);
  for (const log of receipt.logs) {
    for (const field of ['logIndex', 'transactionIndex'] as const) {
      const value = quantity(log[field]);
      if (value !== null && value > MAX_SAFE) throw new RpcBadResponseError(`${where}: a log of ${receipt.transactionHash} has ${field} ${value}, above 2^53 − 1`);
    }
    if (typeof log.transactionHash === 'string' && lc(log.transactionHash) !== lc(receipt.transactionHash)) {
      throw new RpcBadResponseError(`${where}: log ${log.logIndex} in the receipt of ${receipt.transactionHash} has transactionHash ${log.transactionHash}`);
    }
    const logTxIndex = quantity(log.transactionIndex);
    if (logTxIndex !== null && receiptIndex !== null && logTxIndex !== receiptIndex) {
      throw new RpcBadResponseError(`${where}: log ${log.logIndex} in the receipt of ${receipt.transactionHash} (transactionIndex ${receiptIndex}) has transactionIndex ${logTxIndex}`);
    }
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
