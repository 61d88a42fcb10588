import type { Kysely } from 'kysely';
import type { Database } from '../db/index.js';
import { classifyDbError, firstUnarchivedBlock } from '../db/index.js';
import { pickBlocks } from '../domain/index.js';
import { InvalidInputError } from '../errors.js';
import { fetchBlocks, type BlockBundle, type RpcPool } from '../rpc/index.js';

/** Differences listed in one result at most; the count is always exact. */
const MAX_LISTED_DIFFERENCES = 100;

/** Input of `verifyRange`: blocks `from..to` inclusive; `sample` checks only that many blocks, spread evenly. */
export type VerifyRangeInput = { chainId: number; from: number; to: number; sample?: number };
/** Result of `verifyRange`: blocks compared, the exact number of differences and the first ones, one line each. */
export type VerifyResult = { checkedBlocks: number; differenceCount: number; differences: string[] };

const hex = (b: Buffer | null | undefined): string | null => (b ? `0x${b.toString('hex')}` : null);
const quantity = (q: unknown): string | null => (typeof q === 'string' ? BigInt(q).toString() : null);

/**
 * Re-reads blocks `from..to` from the pool (validated like the indexer's own reads) and compares
 * them with Postgres: block hash and parent hash, transaction hashes in order and their count,
 * each receipt's status and gas used, log count, and each log's key (transaction hash, log index,
 * address, topic0). Blocks in archived ranges are skipped (not checked). Read-only.
 * @throws InvalidInputError for a bad range; RpcTransientError, DbTransientError (retried).
 */
export async function verifyRange(deps: { db: Kysely<Database>; pool: RpcPool }, input: VerifyRangeInput): Promise<VerifyResult> {
  if (!Number.isSafeInteger(input.from) || !Number.isSafeInteger(input.to) || input.from < 0 || input.from > input.to) {
    throw new InvalidInputError(`verify needs integers 0 ≤ from ≤ to, got from=${input.from} to=${input.to}`);
  }
  // Archived blocks (`client archive`) are no longer in the database by design: not compared.
  const from = await firstUnarchivedBlock(deps.db, input.chainId, input.from);
  if (from > input.to) return { checkedBlocks: 0, differenceCount: 0, differences: [] };
  const numbers = pickBlocks(from, input.to, input.sample);
  const bundles: BlockBundle[] = [];
  if (numbers.length === input.to - from + 1) bundles.push(...(await fetchBlocks(deps.pool, { from, to: input.to })));
  else for (const n of numbers) bundles.push(...(await fetchBlocks(deps.pool, { from: n, to: n })));
  const differences: string[] = [];
  let differenceCount = 0;
  const differ = (line: string) => {
    differenceCount += 1;
    if (differences.length < MAX_LISTED_DIFFERENCES) differences.push(line);
  };
  try {
    const blocks = await deps.db.selectFrom('blocks').select(['number', 'hash', 'parent_hash', 'transaction_count']).where('chain_id', '=', input.chainId).where('number', 'in', numbers).execute();
    const txs = await deps.db.selectFrom('transactions').select(['block_number', 'hash', 'status', 'gas_used', 'in_block_list']).where('chain_id', '=', input.chainId).where('block_number', 'in', numbers).orderBy('block_number').orderBy('transaction_index').execute();
    const logs = await deps.db.selectFrom('logs').select(['block_number', 'log_index', 'transaction_hash', 'address', 'topic0']).where('chain_id', '=', input.chainId).where('block_number', 'in', numbers).orderBy('block_number').orderBy('log_index').execute();
    const storedBlock = new Map(blocks.map((b) => [b.number, b]));
    for (const { block, receipts } of bundles) {
      const n = Number(BigInt(block.number));
      const stored = storedBlock.get(n);
      const at = `block ${n}`;
      if (!stored) {
        differ(`${at}: missing in the database`);
        continue;
      }
      if (hex(stored.hash) !== block.hash.toLowerCase()) differ(`${at}: hash is ${hex(stored.hash)} in the database, ${block.hash} on the chain`);
      if (hex(stored.parent_hash) !== block.parentHash.toLowerCase()) differ(`${at}: parent hash is ${hex(stored.parent_hash)} in the database, ${block.parentHash} on the chain`);
      const storedTxs = txs.filter((t) => t.block_number === n && t.in_block_list);
      const chainTxHashes = block.transactions.map((t) => t.hash.toLowerCase());
      const storedTxHashes = storedTxs.map((t) => hex(t.hash));
      if (JSON.stringify(chainTxHashes) !== JSON.stringify(storedTxHashes)) {
        differ(storedTxHashes.length === chainTxHashes.length
          ? `${at}: its ${chainTxHashes.length} transactions differ (other hashes, or another order) between the database and the chain`
          : `${at}: ${storedTxHashes.length} transactions in the database, ${chainTxHashes.length} on the chain`);
      }
      // A later block's receipt for a listed transaction (Cronos phantom) is stored verbatim, not in the columns or logs compared here.
      const ownReceipts = receipts.filter((r) => r.blockHash.toLowerCase() === block.hash.toLowerCase());
      const receiptByHash = new Map(ownReceipts.map((r) => [r.transactionHash.toLowerCase(), r]));
      for (const t of storedTxs) {
        const receipt = receiptByHash.get(hex(t.hash)!);
        if (!receipt) continue;
        const status = quantity(receipt.status);
        if (status !== null && String(t.status) !== status) differ(`${at}: transaction ${hex(t.hash)} status ${t.status} in the database, ${status} on the chain`);
        if (t.gas_used !== quantity(receipt.gasUsed)) differ(`${at}: transaction ${hex(t.hash)} gas used ${t.gas_used} in the database, ${quantity(receipt.gasUsed)} on the chain`);
      }
      const chainLogs = ownReceipts.flatMap((r) => r.logs).map((l) => `${l.transactionHash.toLowerCase()}:${BigInt(l.logIndex)}:${l.address.toLowerCase()}:${(l.topics[0] ?? '').toLowerCase()}`);
      const storedLogs = logs.filter((l) => l.block_number === n).map((l) => `${hex(l.transaction_hash)}:${l.log_index}:${hex(l.address)}:${hex(l.topic0) ?? ''}`);
      if (chainLogs.length !== storedLogs.length) differ(`${at}: ${storedLogs.length} logs in the database, ${chainLogs.length} on the chain`);
      else if (chainLogs.some((key, i) => key !== storedLogs[i])) differ(`${at}: log keys (transaction hash, log index, address, topic0) differ`);
    }
  } catch (err) {
    throw classifyDbError(err, `verifying chain ${input.chainId} blocks ${input.from}–${input.to}`);
  }
  return { checkedBlocks: numbers.length, differenceCount, differences };
}

/** Block numbers to check (the domain's `pickBlocks`, where the verify workflow's sampling finds it too). */
export { pickBlocks };
