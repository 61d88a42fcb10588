/**
 * Rebuilds a stored block in JSON-RPC shape (EIP-1474 / execution-apis): the block of
 * `eth_getBlockByNumber(n, true)` with full transaction objects, and the receipts of
 * `eth_getBlockReceipts(n)` with their logs. The inverse of `toBatchRows` (rows.ts), so what was
 * stored can be compared with what the node returned.
 */
import type { Kysely, Selectable } from 'kysely';
import { DbIntegrityError } from '../errors.js';
import type { BlockBundle, RpcBlock, RpcLog, RpcReceipt, RpcTransaction, RpcWithdrawal } from '../rpc/types.js';
import type { BlocksTable, Database, LogsTable, TransactionsTable, WithdrawalsTable } from './database.js';
import { ABSENT_FIELDS, LATER_BLOCK_RECEIPT } from './rows.js';
import { classifyDbError } from './sqlstate.js';

/** The stored rows of one block, as pg returns them: jsonb parsed, numeric as decimal strings, bigint as number. */
export type StoredBlockRows = {
  block: Selectable<BlocksTable>;
  /** Every row of the block's `transactions` table, in any order (receipt-only rows included). */
  transactions: Selectable<TransactionsTable>[];
  logs: Selectable<LogsTable>[];
  withdrawals: Selectable<WithdrawalsTable>[];
};

/** How a typed column goes back to JSON: `data` = bytea → 0x-hex bytes; `quantity` = number → 0x-hex without leading zeros. */
type Kind = 'data' | 'quantity';
type Mapping<Row> = readonly (readonly [jsonKey: string, column: keyof Row, kind: Kind])[];

/** Block header columns written only when not null (number, hash, parentHash, timestamp, logsBloom always are). */
const BLOCK_MAPPING: Mapping<Selectable<BlocksTable>> = [
  ['miner', 'miner', 'data'], ['gasLimit', 'gas_limit', 'quantity'], ['gasUsed', 'gas_used', 'quantity'],
  ['baseFeePerGas', 'base_fee_per_gas', 'quantity'], ['difficulty', 'difficulty', 'quantity'],
  ['totalDifficulty', 'total_difficulty', 'quantity'], ['size', 'size', 'quantity'], ['nonce', 'nonce', 'data'],
  ['mixHash', 'mix_hash', 'data'], ['sha3Uncles', 'sha3_uncles', 'data'], ['transactionsRoot', 'transactions_root', 'data'],
  ['stateRoot', 'state_root', 'data'], ['receiptsRoot', 'receipts_root', 'data'], ['extraData', 'extra_data', 'data'],
  ['withdrawalsRoot', 'withdrawals_root', 'data'], ['blobGasUsed', 'blob_gas_used', 'quantity'],
  ['excessBlobGas', 'excess_blob_gas', 'quantity'], ['parentBeaconBlockRoot', 'parent_beacon_block_root', 'data'],
  ['requestsHash', 'requests_hash', 'data'],
];

/** Transaction columns written only when not null (`to` is written as null for a creation). */
const TRANSACTION_MAPPING: Mapping<Selectable<TransactionsTable>> = [
  ['type', 'type', 'quantity'], ['nonce', 'nonce', 'quantity'], ['from', 'from_address', 'data'], ['value', 'value', 'quantity'],
  ['gas', 'gas', 'quantity'], ['gasPrice', 'gas_price', 'quantity'], ['maxFeePerGas', 'max_fee_per_gas', 'quantity'],
  ['maxPriorityFeePerGas', 'max_priority_fee_per_gas', 'quantity'], ['maxFeePerBlobGas', 'max_fee_per_blob_gas', 'quantity'],
  ['input', 'input', 'data'], ['chainId', 'signed_chain_id', 'quantity'], ['v', 'v', 'quantity'], ['r', 'r', 'quantity'],
  ['s', 's', 'quantity'], ['yParity', 'y_parity', 'quantity'],
];

/** Receipt columns written only when not null (`contractAddress` is written as null when absent). */
const RECEIPT_MAPPING: Mapping<Selectable<TransactionsTable>> = [
  ['cumulativeGasUsed', 'cumulative_gas_used', 'quantity'], ['gasUsed', 'gas_used', 'quantity'],
  ['effectiveGasPrice', 'effective_gas_price', 'quantity'], ['logsBloom', 'receipt_logs_bloom', 'data'],
  ['status', 'status', 'quantity'], ['root', 'root', 'data'], ['type', 'receipt_type', 'quantity'],
  ['blobGasUsed', 'blob_gas_used', 'quantity'], ['blobGasPrice', 'blob_gas_price', 'quantity'],
];

/** Columns that only a receipt fills: a row with all of them null was stored without a receipt. */
const RECEIPT_ONLY_COLUMNS = ['status', 'root', 'gas_used', 'cumulative_gas_used', 'effective_gas_price', 'contract_address',
  'receipt_logs_bloom', 'blob_gas_used', 'blob_gas_price', 'receipt_type', 'receipt_extra'] as const;

/**
 * Rebuilds block `blockNumber` of chain `chainId` (EIP-155) from Postgres in JSON-RPC shape: the
 * block object of `eth_getBlockByNumber(n, true)` ({@link RpcBlock}, transactions as full
 * {@link RpcTransaction} objects in `transactionIndex` order, `withdrawals` in position order) and
 * the receipts of `eth_getBlockReceipts(n)` ({@link RpcReceipt}, in `transactionIndex` order, each
 * with its {@link RpcLog}s in `logIndex` order). Receipt-only rows (`in_block_list = false`,
 * Polygon state-sync) appear among the receipts only. See {@link toRpcBundle} for the field rules.
 * Read-only; reads four tables in one snapshot-free pass (call it on committed blocks).
 * @returns the bundle, or null when the block is not stored.
 * @throws DbIntegrityError (not retried) when the rows contradict each other (see toRpcBundle);
 *   DbTransientError (retried) when Postgres is unreachable.
 * @example const bundle = await exportBlock(db, 1, 18_000_000); // bundle.block.hash === '0x95b1…'
 */
export async function exportBlock(db: Kysely<Database>, chainId: number, blockNumber: number): Promise<BlockBundle | null> {
  let rows: StoredBlockRows;
  try {
    const block = await db.selectFrom('blocks').selectAll().where('chain_id', '=', chainId).where('number', '=', blockNumber).executeTakeFirst();
    if (!block) return null;
    const [transactions, logs, withdrawals] = await Promise.all([
      db.selectFrom('transactions').selectAll().where('chain_id', '=', chainId).where('block_number', '=', blockNumber).orderBy('transaction_index').execute(),
      db.selectFrom('logs').selectAll().where('chain_id', '=', chainId).where('block_number', '=', blockNumber).orderBy('log_index').execute(),
      db.selectFrom('withdrawals').selectAll().where('chain_id', '=', chainId).where('block_number', '=', blockNumber).orderBy('position').execute(),
    ]);
    rows = { block, transactions, logs, withdrawals };
  } catch (err) {
    throw classifyDbError(err, `exporting chain ${chainId} block ${blockNumber}`);
  }
  return toRpcBundle(rows, `chain ${chainId} block ${blockNumber}`);
}

/**
 * Turns the stored rows of one block into JSON-RPC objects. Pure.
 * Rules: bytea columns become lower-case 0x-hex data of the stored length; numeric/integer
 * columns become 0x-hex quantities without leading zeros (units as stored: wei, gas, gwei for
 * withdrawal amounts, Unix seconds); a null column is left out, except the fields JSON-RPC
 * defines as nullable (`to` of a transaction and receipt, `contractAddress`), written as null;
 * log `removed` is written as false unless stored true. Then the row's `extra` (`receipt_extra`
 * for receipts) jsonb is merged over the object, so a chain's own fields and any value that was
 * not a hex quantity or too large for its column come back verbatim, and the standard fields the
 * node left out (`$absent`) are removed. `withdrawals` is written when rows exist or a
 * `withdrawalsRoot` is stored (EIP-4895 blocks; an empty list is not stored otherwise).
 * A receipt's `from`/`to` are those of its transaction row; blockHash/blockNumber are the block's.
 * A transaction stored with a later block's receipt (`receipt_extra.laterBlockReceipt`) gets that
 * receipt back verbatim.
 * @throws DbIntegrityError naming `where` when `transaction_count` differs from the listed rows, a
 *   log has no stored receipt, or a receipt's `log_count` differs from its logs.
 */
export function toRpcBundle(rows: StoredBlockRows, where = `block ${rows.block.number}`): BlockBundle {
  const { block } = rows;
  const blockHash = data(block.hash);
  const blockNumber = quantity(block.number);
  const sorted = [...rows.transactions].sort((a, b) => a.transaction_index - b.transaction_index);
  const listed = sorted.filter((t) => t.in_block_list);
  if (listed.length !== block.transaction_count) {
    throw new DbIntegrityError(`${where}: transaction_count is ${block.transaction_count} but ${listed.length} transaction rows are stored`);
  }
  const out: Record<string, unknown> = {
    number: blockNumber, hash: blockHash, parentHash: data(block.parent_hash), timestamp: quantity(block.timestamp),
    logsBloom: data(block.logs_bloom),
  };
  putMapped(out, block, BLOCK_MAPPING);
  out.uncles = block.uncles.map(data);
  out.transactions = listed.map((t) => transactionObject(t, blockHash, blockNumber));
  if (rows.withdrawals.length > 0 || block.withdrawals_root !== null) {
    out.withdrawals = [...rows.withdrawals].sort((a, b) => a.position - b.position).map(withdrawalObject);
  }
  mergeExtra(out, block.extra);
  const receipts = receiptObjects(sorted.filter(hasReceipt), rows.logs, blockHash, blockNumber, where);
  return { block: out as RpcBlock, receipts };
}

function transactionObject(t: Selectable<TransactionsTable>, blockHash: string, blockNumber: string): RpcTransaction {
  const out: Record<string, unknown> = { hash: data(t.hash), blockHash, blockNumber, transactionIndex: quantity(t.transaction_index) };
  putMapped(out, t, TRANSACTION_MAPPING);
  out.to = t.to_address === null ? null : data(t.to_address);
  if (t.blob_versioned_hashes !== null) out.blobVersionedHashes = t.blob_versioned_hashes.map(data);
  if (t.access_list !== null) out.accessList = t.access_list;
  if (t.authorization_list !== null) out.authorizationList = t.authorization_list;
  mergeExtra(out, t.extra);
  return out as RpcTransaction;
}

function receiptObjects(
  rows: Selectable<TransactionsTable>[],
  logs: Selectable<LogsTable>[],
  blockHash: string,
  blockNumber: string,
  where: string,
): RpcReceipt[] {
  // Logs belong to the receipt with the same transaction hash and index; failing that, the same hash.
  const byKey = new Map<string, Selectable<LogsTable>[]>();
  for (const log of [...logs].sort((a, b) => a.log_index - b.log_index)) {
    const key = `${data(log.transaction_hash)}:${log.transaction_index}`;
    byKey.set(key, [...(byKey.get(key) ?? []), log]);
  }
  const assigned = rows.map((r) => {
    const key = `${data(r.hash)}:${r.transaction_index}`;
    const own = byKey.get(key) ?? [];
    byKey.delete(key);
    return own;
  });
  for (const [key, orphans] of byKey) {
    const i = rows.findIndex((r) => key.startsWith(`${data(r.hash)}:`));
    if (i < 0) throw new DbIntegrityError(`${where}: log ${orphans[0]!.log_index} of transaction ${key.split(':')[0]} has no stored receipt`);
    assigned[i] = [...assigned[i]!, ...orphans].sort((a, b) => a.log_index - b.log_index);
  }
  return rows.map((r, i) => {
    const later = jsonObject(r.receipt_extra)[LATER_BLOCK_RECEIPT];
    if (later !== undefined) return later as RpcReceipt; // a later block's receipt, as the node gave it (rows.ts)
    const receiptLogs = assigned[i]!;
    if (receiptLogs.length !== r.log_count) {
      throw new DbIntegrityError(`${where}: receipt ${data(r.hash)} has log_count ${r.log_count} but ${receiptLogs.length} logs are stored`);
    }
    const out: Record<string, unknown> = {
      transactionHash: data(r.hash), transactionIndex: quantity(r.transaction_index), blockHash, blockNumber,
      ...(r.from_address === null ? {} : { from: data(r.from_address) }),
      to: r.to_address === null ? null : data(r.to_address),
      contractAddress: r.contract_address === null ? null : data(r.contract_address),
    };
    putMapped(out, r, RECEIPT_MAPPING);
    out.logs = receiptLogs.map((l) => logObject(l, blockHash, blockNumber));
    mergeExtra(out, r.receipt_extra);
    return out as RpcReceipt;
  });
}

function logObject(l: Selectable<LogsTable>, blockHash: string, blockNumber: string): RpcLog {
  const topics = [l.topic0, l.topic1, l.topic2, l.topic3].filter((t): t is Buffer => t !== null).map(data);
  const out: Record<string, unknown> = {
    address: data(l.address), topics, data: data(l.data), blockNumber, blockHash,
    transactionHash: data(l.transaction_hash), transactionIndex: quantity(l.transaction_index), logIndex: quantity(l.log_index),
    removed: false,
  };
  mergeExtra(out, l.extra);
  return out as RpcLog;
}

function withdrawalObject(w: Selectable<WithdrawalsTable>): RpcWithdrawal {
  return {
    index: quantity(w.index), validatorIndex: quantity(w.validator_index), address: data(w.address), amount: quantity(w.amount),
    ...jsonObject(w.extra),
  } as RpcWithdrawal;
}

function hasReceipt(t: Selectable<TransactionsTable>): boolean {
  return !t.in_block_list || RECEIPT_ONLY_COLUMNS.some((c) => t[c] !== null);
}

function putMapped<Row>(out: Record<string, unknown>, row: Row, mapping: Mapping<Row>): void {
  for (const [jsonKey, column, kind] of mapping) {
    const value = row[column] as unknown;
    if (value === null || value === undefined) continue;
    out[jsonKey] = kind === 'data' ? data(value as Buffer) : quantity(value as string | number);
  }
}

/** bytea → 0x-hex data, lower case, of the stored length. */
function data(b: Buffer): `0x${string}` {
  return `0x${b.toString('hex')}`;
}

/** A decimal string or integer → 0x-hex quantity without leading zeros (EIP-1474). */
function quantity(value: string | number): `0x${string}` {
  return `0x${BigInt(value).toString(16)}`;
}

/**
 * Merges a row's `extra` jsonb over `out`: the chain's own fields and verbatim values win, and the
 * standard fields the node left out (listed under `$absent`, see rows.ts) are removed again.
 */
function mergeExtra(out: Record<string, unknown>, extra: unknown): void {
  const { [ABSENT_FIELDS]: absent, ...fields } = jsonObject(extra);
  Object.assign(out, fields);
  if (Array.isArray(absent)) for (const key of absent) delete out[String(key)];
}

/** A jsonb `extra` column as pg parses it: an object of extra fields, or {} when null. */
function jsonObject(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
