import type { BlockBundle, RpcBlock, RpcLog, RpcReceipt, RpcTransaction, RpcWithdrawal } from '../rpc/types.js';
import type { BlockRow, LogRow, TransactionRow, WithdrawalRow } from './database.js';

/** Key in `receipt_extra` of the receipt of a later block that a node gave for a listed transaction (Cronos phantom transaction). */
export const LATER_BLOCK_RECEIPT = 'laterBlockReceipt';

/**
 * Hex data as the node sent it (`0x`, an even number of digits): a `bytea` value that COPY writes
 * as bytes (copy-format.ts), with no Buffer per field in between. Never bind one to an INSERT
 * parameter: Postgres would store its text. {@link rowsWithBuffers} turns rows into INSERT values.
 */
export type Hex = `0x${string}`;
/** A bytea column's value in a batch row: Buffer → Hex, Buffer[] → Hex[] (other values unchanged). */
type CopyValue<V> = V extends Buffer ? Hex : V extends Buffer[] ? Hex[] : V;
/** A table row for COPY: its bytea columns hold {@link Hex} strings. */
export type CopyRow<R> = { [K in keyof R]: CopyValue<R[K]> };

/** Rows of one batch, ready for one transaction (COPY only: bytea columns hold hex). */
export type BatchRows = {
  blocks: CopyRow<BlockRow>[];
  transactions: CopyRow<TransactionRow>[];
  logs: CopyRow<LogRow>[];
  withdrawals: CopyRow<WithdrawalRow>[];
};

/** Tables a batch writes, in this order (blocks first: nothing references them, but readers expect them first). */
export const BATCH_TABLES = ['blocks', 'transactions', 'logs', 'withdrawals'] as const;
/** One of {@link BATCH_TABLES}. */
export type BatchTable = (typeof BATCH_TABLES)[number];

const BLOCK_FIELDS = new Set([
  'number', 'hash', 'parentHash', 'timestamp', 'miner', 'gasLimit', 'gasUsed', 'baseFeePerGas', 'difficulty',
  'totalDifficulty', 'size', 'nonce', 'mixHash', 'sha3Uncles', 'logsBloom', 'transactionsRoot', 'stateRoot',
  'receiptsRoot', 'extraData', 'withdrawalsRoot', 'blobGasUsed', 'excessBlobGas', 'parentBeaconBlockRoot',
  'requestsHash', 'uncles', 'transactions', 'withdrawals',
]);
const TRANSACTION_FIELDS = new Set([
  'hash', 'blockHash', 'blockNumber', 'transactionIndex', 'type', 'nonce', 'from', 'to', 'value', 'gas', 'gasPrice',
  'maxFeePerGas', 'maxPriorityFeePerGas', 'maxFeePerBlobGas', 'blobVersionedHashes', 'input', 'chainId', 'v', 'r',
  's', 'yParity', 'accessList', 'authorizationList',
]);
const RECEIPT_FIELDS = new Set([
  'transactionHash', 'transactionIndex', 'blockHash', 'blockNumber', 'from', 'to', 'cumulativeGasUsed', 'gasUsed',
  'effectiveGasPrice', 'contractAddress', 'logs', 'logsBloom', 'status', 'root', 'type', 'blobGasUsed', 'blobGasPrice',
]);
const LOG_FIELDS = new Set(['address', 'topics', 'data', 'blockNumber', 'blockHash', 'transactionHash', 'transactionIndex', 'logIndex', 'removed']);
const WITHDRAWAL_FIELDS = new Set(['index', 'validatorIndex', 'address', 'amount']);

/**
 * Key in an `extra` / `receipt_extra` jsonb of the standard fields the node left out that
 * exportBlock would otherwise write with a default (Parity receipts without `from`/`to`, logs
 * without `removed`, Tempo 0x76 transactions without `to`). A list of JSON-RPC field names.
 */
export const ABSENT_FIELDS = '$absent';
/** Per object kind, the fields exportBlock writes even when no column holds them (defaults, or values taken from the block/transaction). */
const DEFAULTED_FIELDS = {
  block: ['uncles', 'withdrawals'],
  transaction: ['blockHash', 'blockNumber', 'transactionIndex', 'to'],
  receipt: ['transactionHash', 'transactionIndex', 'blockHash', 'blockNumber', 'from', 'to', 'contractAddress', 'logs'],
  log: ['blockNumber', 'blockHash', 'transactionHash', 'transactionIndex', 'logIndex', 'removed'],
} as const;
/** A JSON-RPC quantity (hex, `0x` prefix, at least one digit). */
const HEX_QUANTITY = /^0x[0-9a-fA-F]+$/;
/** Largest value of the typed columns narrower than a JS safe integer: `integer` (type, receipt_type) and `smallint` (status, y_parity). */
const INTEGER_MAX = 2_147_483_647;
const SMALLINT_MAX = 32_767;

/**
 * Turns validated bundles of chain `chainId` into table rows. Standard JSON-RPC fields go to typed
 * columns; every other field (chain-specific or unknown), and any standard quantity that is not a
 * hex quantity, is kept in the row's `extra` jsonb, so nothing a node returned is lost.
 * Receipts whose transaction is not in the block's list are stored as rows with
 * `in_block_list = false`. A receipt of a later block for a listed transaction (Ethermint phantom
 * transaction, allowed by `validateReceipts`) leaves the transaction's receipt columns null and is
 * kept verbatim in `receipt_extra.laterBlockReceipt`; its logs stay out of `logs` (they are the
 * later block's). Pure; never throws on unknown shapes.
 */
export function toBatchRows(chainId: number, bundles: readonly BlockBundle[]): BatchRows {
  const rows: BatchRows = { blocks: [], transactions: [], logs: [], withdrawals: [] };
  for (const { block, receipts } of bundles) {
    const blockNumber = Number(BigInt(block.number));
    const blockHash = hex(block.hash)!;
    rows.blocks.push(blockRow(chainId, block));
    const matched = matchReceipts(block.transactions, receipts);
    const isOwn = (receipt: RpcReceipt) => String(receipt.blockHash).toLowerCase() === block.hash.toLowerCase();
    block.transactions.forEach((tx, position) => {
      const receipt = matched.byTransaction[position] ?? null;
      rows.transactions.push(
        receipt === null || isOwn(receipt)
          ? transactionRow(chainId, blockNumber, blockHash, tx, position, receipt)
          : { ...transactionRow(chainId, blockNumber, blockHash, tx, position, null), receipt_extra: JSON.stringify({ [LATER_BLOCK_RECEIPT]: receipt }) },
      );
    });
    for (const receipt of matched.unmatched) rows.transactions.push(receiptOnlyRow(chainId, blockNumber, blockHash, receipt));
    for (const receipt of receipts.filter(isOwn)) {
      for (const log of receipt.logs) rows.logs.push(logRow(chainId, blockNumber, blockHash, log));
    }
    (block.withdrawals ?? []).forEach((w, position) => rows.withdrawals.push(withdrawalRow(chainId, blockNumber, blockHash, w, position)));
  }
  return rows;
}

/**
 * Pairs each transaction with its receipt: same hash and same `transactionIndex` first, then same
 * hash alone (some chains list one hash twice, e.g. Hedera). Receipts left over belong to no listed
 * transaction (Polygon state-sync, Hedera's extra receipt) and are returned as `unmatched`. Pure.
 */
export function matchReceipts(
  transactions: readonly RpcTransaction[],
  receipts: readonly RpcReceipt[],
): { byTransaction: (RpcReceipt | null)[]; unmatched: RpcReceipt[] } {
  const free = new Set(receipts);
  const byHash = new Map<string, RpcReceipt[]>();
  for (const r of receipts) {
    const key = r.transactionHash.toLowerCase();
    byHash.set(key, [...(byHash.get(key) ?? []), r]);
  }
  const take = (tx: RpcTransaction, sameIndex: boolean): RpcReceipt | null => {
    const found = (byHash.get(tx.hash.toLowerCase()) ?? []).find(
      (r) => free.has(r) && (!sameIndex || sameQuantity(r.transactionIndex, tx.transactionIndex)),
    );
    if (found) free.delete(found);
    return found ?? null;
  };
  const byTransaction = transactions.map((tx) => take(tx, true));
  transactions.forEach((tx, i) => {
    byTransaction[i] ??= take(tx, false);
  });
  return { byTransaction, unmatched: receipts.filter((r) => free.has(r)) };
}

function sameQuantity(a: unknown, b: unknown): boolean {
  try {
    return typeof a === 'string' && typeof b === 'string' && BigInt(a) === BigInt(b);
  } catch {
    return false;
  }
}

function blockRow(chainId: number, b: RpcBlock): CopyRow<BlockRow> {
  // exportBlock writes `withdrawals: []` only where a withdrawalsRoot is stored.
  const extra = extrasOf(b, BLOCK_FIELDS, typeof b.withdrawalsRoot === 'string' ? DEFAULTED_FIELDS.block : ['uncles']);
  const q = (field: string) => quantity(b[field], field, extra);
  return {
    chain_id: chainId,
    number: Number(BigInt(b.number)),
    hash: hex(b.hash)!,
    parent_hash: hex(b.parentHash)!,
    timestamp: Number(BigInt(b.timestamp)),
    miner: hex(b.miner),
    gas_limit: q('gasLimit'),
    gas_used: q('gasUsed'),
    base_fee_per_gas: q('baseFeePerGas'),
    difficulty: q('difficulty'),
    total_difficulty: q('totalDifficulty'),
    size: narrowQuantity(b.size, 'size', extra, Number.MAX_SAFE_INTEGER),
    nonce: hex(b.nonce),
    mix_hash: hex(b.mixHash),
    sha3_uncles: hex(b.sha3Uncles),
    logs_bloom: hex(b.logsBloom)!,
    transactions_root: hex(b.transactionsRoot),
    state_root: hex(b.stateRoot),
    receipts_root: hex(b.receiptsRoot),
    extra_data: hex(b.extraData),
    withdrawals_root: hex(b.withdrawalsRoot),
    blob_gas_used: q('blobGasUsed'),
    excess_blob_gas: q('excessBlobGas'),
    parent_beacon_block_root: hex(b.parentBeaconBlockRoot),
    requests_hash: hex(b.requestsHash),
    uncles: (b.uncles ?? []).map((u) => hex(u)!),
    transaction_count: b.transactions.length,
    extra: json(extra),
  };
}

function transactionRow(
  chainId: number,
  blockNumber: number,
  blockHash: Hex,
  tx: RpcTransaction,
  position: number,
  receipt: RpcReceipt | null,
): CopyRow<TransactionRow> {
  const extra = extrasOf(tx, TRANSACTION_FIELDS, DEFAULTED_FIELDS.transaction);
  const q = (field: string) => quantity(tx[field], field, extra);
  const index = narrowQuantity(tx.transactionIndex, 'transactionIndex', extra, Number.MAX_SAFE_INTEGER) ?? position;
  return {
    chain_id: chainId,
    block_number: blockNumber,
    block_hash: blockHash,
    transaction_index: index,
    hash: hex(tx.hash)!,
    type: narrowQuantity(tx.type, 'type', extra, INTEGER_MAX),
    nonce: q('nonce'),
    from_address: hex(tx.from),
    to_address: hex(tx.to),
    value: q('value'),
    gas: q('gas'),
    gas_price: q('gasPrice'),
    max_fee_per_gas: q('maxFeePerGas'),
    max_priority_fee_per_gas: q('maxPriorityFeePerGas'),
    max_fee_per_blob_gas: q('maxFeePerBlobGas'),
    blob_versioned_hashes: Array.isArray(tx.blobVersionedHashes) ? (tx.blobVersionedHashes as string[]).map((h) => hex(h)!) : null,
    input: hex(tx.input),
    signed_chain_id: q('chainId'),
    v: q('v'),
    r: q('r'),
    s: q('s'),
    y_parity: narrowQuantity(tx.yParity, 'yParity', extra, SMALLINT_MAX),
    access_list: tx.accessList === undefined ? null : JSON.stringify(tx.accessList),
    authorization_list: tx.authorizationList === undefined ? null : JSON.stringify(tx.authorizationList),
    extra: json(extra),
    ...receiptColumns(receipt, tx),
  };
}

function receiptColumns(receipt: RpcReceipt | null, tx?: RpcTransaction): Omit<
  CopyRow<TransactionRow>,
  'chain_id' | 'block_number' | 'block_hash' | 'transaction_index' | 'hash' | 'type' | 'nonce' | 'from_address' | 'to_address' | 'value' | 'gas' | 'gas_price' | 'max_fee_per_gas' | 'max_priority_fee_per_gas' | 'max_fee_per_blob_gas' | 'blob_versioned_hashes' | 'input' | 'signed_chain_id' | 'v' | 'r' | 's' | 'y_parity' | 'access_list' | 'authorization_list' | 'extra'
> {
  if (receipt === null) {
    return {
      status: null, root: null, gas_used: null, cumulative_gas_used: null, effective_gas_price: null, contract_address: null,
      receipt_logs_bloom: null, blob_gas_used: null, blob_gas_price: null, receipt_type: null, receipt_extra: null, log_count: 0,
      in_block_list: true,
    };
  }
  const extra = extrasOf(receipt, RECEIPT_FIELDS, DEFAULTED_FIELDS.receipt);
  // A receipt's own from/to are kept only where they differ from its transaction's (Tempo 0x76 has a receipt `to` and no tx `to`).
  for (const field of ['from', 'to'] as const) {
    if (tx && field in receipt && String(receipt[field] ?? null).toLowerCase() !== String(tx[field] ?? null).toLowerCase()) extra[field] = receipt[field];
  }
  const q = (field: string) => quantity(receipt[field], field, extra);
  return {
    status: narrowQuantity(receipt.status, 'status', extra, SMALLINT_MAX),
    root: hex(receipt.root),
    gas_used: q('gasUsed'),
    cumulative_gas_used: q('cumulativeGasUsed'),
    effective_gas_price: q('effectiveGasPrice'),
    contract_address: hex(receipt.contractAddress),
    receipt_logs_bloom: hex(receipt.logsBloom),
    blob_gas_used: q('blobGasUsed'),
    blob_gas_price: q('blobGasPrice'),
    receipt_type: narrowQuantity(receipt.type, 'type', extra, INTEGER_MAX),
    receipt_extra: json(extra),
    log_count: receipt.logs.length,
    in_block_list: true,
  };
}

function receiptOnlyRow(chainId: number, blockNumber: number, blockHash: Hex, receipt: RpcReceipt): CopyRow<TransactionRow> {
  const columns = receiptColumns(receipt);
  return {
    chain_id: chainId,
    block_number: blockNumber,
    block_hash: blockHash,
    transaction_index: Number(BigInt(receipt.transactionIndex)),
    hash: hex(receipt.transactionHash)!,
    type: null, nonce: null, from_address: hex(receipt.from), to_address: hex(receipt.to), value: null, gas: null,
    gas_price: null, max_fee_per_gas: null, max_priority_fee_per_gas: null, max_fee_per_blob_gas: null,
    blob_versioned_hashes: null, input: null, signed_chain_id: null, v: null, r: null, s: null, y_parity: null,
    access_list: null, authorization_list: null, extra: null,
    ...columns,
    in_block_list: false,
  };
}

function logRow(chainId: number, blockNumber: number, blockHash: Hex, log: RpcLog): CopyRow<LogRow> {
  const extra = extrasOf(log, LOG_FIELDS, DEFAULTED_FIELDS.log);
  if (log.removed === true) extra.removed = true;
  const topics = log.topics ?? [];
  if (topics.length > 4) extra.topics = topics;
  return {
    chain_id: chainId,
    block_number: blockNumber,
    block_hash: blockHash,
    log_index: Number(BigInt(log.logIndex)),
    transaction_hash: hex(log.transactionHash)!,
    transaction_index: Number(BigInt(log.transactionIndex)),
    address: hex(log.address)!,
    topic0: hex(topics[0]),
    topic1: hex(topics[1]),
    topic2: hex(topics[2]),
    topic3: hex(topics[3]),
    data: hex(log.data) ?? '0x',
    extra: json(extra),
  };
}

function withdrawalRow(chainId: number, blockNumber: number, blockHash: Hex, w: RpcWithdrawal, position: number): CopyRow<WithdrawalRow> {
  const extra = extrasOf(w, WITHDRAWAL_FIELDS);
  return {
    chain_id: chainId,
    block_number: blockNumber,
    block_hash: blockHash,
    position,
    index: BigInt(w.index).toString(),
    validator_index: BigInt(w.validatorIndex).toString(),
    address: hex(w.address)!,
    amount: BigInt(w.amount).toString(),
    extra: json(extra),
  };
}

/**
 * Fields of `object` not in `known`, as a fresh object (the future `extra` jsonb), plus under
 * {@link ABSENT_FIELDS} those of `defaulted` that `object` lacks.
 */
function extrasOf(object: Record<string, unknown>, known: ReadonlySet<string>, defaulted: readonly string[] = []): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  for (const key in object) {
    if (known.has(key)) continue; // a parsed JSON object: own keys only, in order
    // A "__proto__" key (JSON.parse makes it an own field) would set the prototype instead.
    if (key === '__proto__') Object.defineProperty(extra, key, { value: object[key], enumerable: true, writable: true, configurable: true });
    else extra[key] = object[key];
  }
  let absent: string[] | undefined;
  for (const key of defaulted) if (!(key in object)) (absent ??= []).push(key);
  if (absent) extra[ABSENT_FIELDS] = absent;
  return extra;
}

/**
 * A hex quantity for a typed column that holds at most `max` (`integer`, `smallint`, or a JS safe
 * integer for `bigint` columns read as numbers); null when absent. A value above `max` is kept
 * verbatim in `extra` under its field name, like any value that is not a hex quantity.
 */
function narrowQuantity(value: unknown, field: string, extra: Record<string, unknown>, max: number): number | null {
  if (value === undefined) return null;
  const small = typeof value === 'string' ? smallHexQuantity(value) : NaN;
  if (small <= max) return small; // false for NaN
  const decimal = quantity(value, field, extra);
  if (decimal === null) return null;
  const n = Number(decimal);
  if (Number.isSafeInteger(n) && n <= max) return n;
  extra[field] = value;
  return null;
}

/**
 * A hex quantity as a decimal string (for numeric columns); null when absent. A value that is not
 * a hex quantity (a chain's decimal string, say) is kept verbatim in `extra` under its field name.
 */
function quantity(value: unknown, field: string, extra: Record<string, unknown>): string | null {
  if (value === undefined) return null;
  if (value === null) {
    extra[field] = null; // sent as null (Parity style), which is not the same as absent
    return null;
  }
  if (typeof value === 'string') {
    const small = smallHexQuantity(value);
    if (small === small) return String(small); // not NaN
    if (value.length > 15 && HEX_QUANTITY.test(value)) return BigInt(value).toString();
  }
  extra[field] = value;
  return null;
}

/**
 * The value of hex quantity `value` (`0x` and 1 to 13 hex digits, so below 2^52 and exact as a
 * double); NaN for anything else (longer, no `0x`, no digit, a character that is not hex). Pure.
 */
function smallHexQuantity(value: string): number {
  const length = value.length;
  if (length < 3 || length > 15 || value.charCodeAt(0) !== 48 || value.charCodeAt(1) !== 120) return NaN; // '0x'
  let n = 0;
  for (let i = 2; i < length; i++) {
    const c = value.charCodeAt(i);
    const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (digit < 0) return NaN;
    n = n * 16 + digit;
  }
  return n;
}

/**
 * Hex data (`0x…`) as {@link Hex}; null when absent. The node's string itself when it is `0x` and
 * an even number of digits (the JSON-RPC spec's DATA encoding); otherwise `0X` becomes `0x` and an
 * odd number of digits gets a leading zero. Digits are checked when COPY writes them.
 */
function hex(value: unknown): Hex | null {
  if (typeof value !== 'string') return null;
  if (value.length % 2 === 0 && value.charCodeAt(0) === 48 && value.charCodeAt(1) === 120) return value as Hex; // '0x'
  const digits = value.startsWith('0x') || value.startsWith('0X') ? value.slice(2) : value;
  return `0x${digits.length % 2 === 1 ? '0' : ''}${digits}`;
}

/**
 * Batch rows as kysely INSERT values: every {@link Hex} (a bytea value) as a Buffer. A row's other
 * strings never start with `0x` (numeric columns hold decimal digits, jsonb columns JSON text) and
 * its only arrays are bytea arrays. For the seed-style baseline of the bench and for tests. Pure.
 */
export function rowsWithBuffers<R>(rows: readonly CopyRow<R>[]): R[] {
  const isHex = (v: unknown): v is Hex => typeof v === 'string' && v.startsWith('0x');
  return rows.map((row) => {
    const out: Record<string, unknown> = {};
    for (const key in row) {
      const v: unknown = row[key];
      out[key] = isHex(v) ? bytes(v) : Array.isArray(v) ? v.map((e) => (isHex(e) ? bytes(e) : e)) : v;
    }
    return out as R;
  });
}

/** Hex data (`0x…`) as bytes; null when absent. Normalized like {@link hex}: an odd number of digits gets a leading zero. */
export function bytes(value: unknown): Buffer | null {
  const data = hex(value);
  return data === null ? null : Buffer.from(data.slice(2), 'hex');
}

function json(extra: Record<string, unknown>): string | null {
  return Object.keys(extra).length === 0 ? null : JSON.stringify(extra);
}
