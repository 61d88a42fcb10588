/**
 * Header proofs: recomputes a block's `transactionsRoot`, `receiptsRoot` and `withdrawalsRoot` from
 * the JSON-RPC objects a node returned and compares them with the header, so data that does not
 * belong to the block is refused before it is stored (`VERIFY_ROOTS=true`).
 *
 * Each root is the Merkle-Patricia trie (Yellow Paper, appendix D) keyed by `rlp(position)` over:
 * - transactions: the EIP-2718 envelope, `rlp([...])` for legacy, `type || rlp([...])` for types 1
 *   (EIP-2930), 2 (EIP-1559), 3 (EIP-4844, without sidecar), 4 (EIP-7702) and OP Stack deposits
 *   0x7e (OP spec "deposits"); Polygon Bor's state-sync pseudo-transaction is not part of it;
 * - receipts: `type || rlp([status | root, cumulativeGasUsed, logsBloom, [[address, topics, data]…]])`
 *   (EIP-658 status, pre-Byzantium state root), OP deposit receipts adding `depositNonce` (Regolith)
 *   and `depositReceiptVersion` (Canyon);
 * - withdrawals: `rlp([index, validatorIndex, address, amount])` (EIP-4895).
 * RLP is `@ethereumjs/rlp`, the trie `@ethereumjs/mpt` hashing with hash-wasm's keccak-256 (about
 * twice as fast as the trie's default pure-JS keccak; the trie still costs most of the time). Field lists are written here rather than
 * taken from viem's `serializeTransaction`, because that validates and normalises (it throws on a
 * tip above the fee cap or an unusual legacy `v`, and takes chain ids as JS numbers): a throw would
 * have to count as "not verifiable" and would let a tampered field through unchecked.
 */
import { createMPT } from '@ethereumjs/mpt';
import { encode as rlp, type Input } from '@ethereumjs/rlp';
import { createKeccak, type IHasher } from 'hash-wasm';
import { bytesToHex, concat, hexToBytes, keccak256, numberToHex, stringToHex, type Hex } from 'viem';
import { RpcBadResponseError } from '../errors.js';
import type { RpcBlock, RpcReceipt, RpcTransaction } from './types.js';

/** Root of an empty trie: keccak256(rlp('')). */
const EMPTY_TRIE_ROOT = '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421';
/** Reason given for a root the header lacks or sends as zeros. */
const NO_ROOT = 'the header has none (missing or all zeros)';
/** OP Stack deposit transaction type (OP spec, "deposits"). */
const DEPOSIT_TYPE = 0x7e;
/** Transaction types whose envelope this module encodes. */
const KNOWN_TYPES: ReadonlySet<number> = new Set([0, 1, 2, 3, 4, DEPOSIT_TYPE]);
/**
 * Chains whose header roots are not Ethereum tries of the returned objects, by EIP-155 chain id,
 * with the reason (seen on the recorded blocks of test/fixtures, see its PROVENANCE.md).
 */
const CHAINS_WITH_OTHER_ROOTS: ReadonlyMap<number, string> = new Map([
  [25, 'Cronos (Ethermint): the header roots are not Ethereum tries of the returned transactions and receipts'],
  [338, 'Cronos testnet (Ethermint): the header roots are not Ethereum tries of the returned transactions and receipts'],
  [295, 'Hedera (JSON-RPC relay): the header roots are not Ethereum tries of the returned transactions and receipts'],
  [296, 'Hedera testnet (JSON-RPC relay): the header roots are not Ethereum tries of the returned transactions and receipts'],
  [297, 'Hedera previewnet (JSON-RPC relay): the header roots are not Ethereum tries of the returned transactions and receipts'],
]);
/** Ethereum and its public testnets: a transaction type unknown here is a bad response, not a chain's own type. */
const ETHEREUM_CHAINS: ReadonlySet<number> = new Set([1, 11155111, 17000, 560048]);

/** A header field this module recomputes. */
export type RootName = 'transactionsRoot' | 'receiptsRoot' | 'withdrawalsRoot';

/**
 * The outcome for one block. `roots` lists the roots that were recomputed and equal the header's,
 * in the order transactions, receipts, withdrawals. `verified`: every root the header carries (and
 * the receipts, when given) was checked. `not-verifiable`: at least one could not be recomputed
 * (a chain that commits differently, a transaction type of unknown encoding); `reason` says which
 * and why, one `<root>: <why>` clause per root, joined by `; `.
 */
export type RootsVerdict =
  | { status: 'verified'; roots: RootName[] }
  | { status: 'not-verifiable'; reason: string; roots: RootName[] };

type RootCheck = { root: RootName; outcome: 'equal' } | { root: RootName; outcome: 'unknowable'; reason: string };

/**
 * Recomputes the `transactionsRoot`, `receiptsRoot` and `withdrawalsRoot` of `block` (chain
 * `chainId`, EIP-155) from its full transaction objects, `receipts` (those of
 * `eth_getBlockReceipts`, in any order; pass null to skip the receipts root) and `withdrawals`, and
 * compares each with the header. Pure (no I/O); async only because the trie library is.
 * @returns the {@link RootsVerdict}; the block may be stored either way.
 * @throws RpcBadResponseError (retried, on another endpoint) naming `label`, the block number and
 *   the root, with the header's and the recomputed value, when a root of a chain and transaction
 *   types that follow Ethereum's rules differs; or when a receipt has no transaction in the block.
 * @example await verifyRoots(1, block, receipts, 'eth.example#0') // { status: 'verified', roots: [...] }
 */
export async function verifyRoots(chainId: number, block: RpcBlock, receipts: readonly RpcReceipt[] | null, label: string): Promise<RootsVerdict> {
  const otherRoots = CHAINS_WITH_OTHER_ROOTS.get(chainId);
  if (otherRoots !== undefined) return { status: 'not-verifiable', reason: otherRoots, roots: [] };
  const blockNumber = Number(BigInt(block.number));
  const where = `${label}: block ${blockNumber}`;
  const committed = block.transactions.filter((tx) => !isBorStateSync(tx, block));
  const checks: RootCheck[] = [await recompute(where, 'transactionsRoot', () => checkTransactions(chainId, block, committed, where))];
  if (receipts !== null) checks.push(await recompute(where, 'receiptsRoot', () => checkReceipts(block, committed, receipts, where)));
  if (block.withdrawalsRoot === undefined || block.withdrawalsRoot === null) {
    if ((block.withdrawals ?? []).length > 0) throw new RpcBadResponseError(`${where}: ${block.withdrawals!.length} withdrawals but the header has no withdrawalsRoot`);
  } else checks.push(await recompute(where, 'withdrawalsRoot', () => checkWithdrawals(block, committed, where)));
  const roots = checks.filter((c) => c.outcome === 'equal').map((c) => c.root);
  const reasons = checks.flatMap((c) => (c.outcome === 'unknowable' ? [`${c.root}: ${c.reason}`] : []));
  return reasons.length === 0 ? { status: 'verified', roots } : { status: 'not-verifiable', reason: reasons.join('; '), roots };
}

/** A field that is not the hex its encoding needs; {@link recompute} names the block and root. */
class FieldShapeError extends Error {}

async function recompute(where: string, root: RootName, check: () => Promise<RootCheck>): Promise<RootCheck> {
  try {
    return await check();
  } catch (err) {
    if (err instanceof FieldShapeError) throw new RpcBadResponseError(`${where}: ${root} cannot be recomputed: ${err.message}`);
    throw err;
  }
}

async function checkTransactions(chainId: number, block: RpcBlock, committed: readonly RpcTransaction[], where: string): Promise<RootCheck> {
  const root: RootName = 'transactionsRoot';
  if (!isRoot(block.transactionsRoot)) return { root, outcome: 'unknowable', reason: NO_ROOT };
  const unknown = [...new Set(committed.map(typeOf).filter((t) => !KNOWN_TYPES.has(t)))];
  if (unknown.length > 0) {
    const types = unknown.map((t) => numberToHex(t)).join(', ');
    if (ETHEREUM_CHAINS.has(chainId)) throw new RpcBadResponseError(`${where}: transactionsRoot cannot hold transaction type ${types} on chain ${chainId}`);
    return { root, outcome: 'unknowable', reason: `transaction type ${types} has no known encoding` };
  }
  assertEqual(where, root, block.transactionsRoot, await trieRoot(committed.map(encodeTransaction)), `${committed.length} transactions`);
  return { root, outcome: 'equal' };
}

async function checkReceipts(block: RpcBlock, committed: readonly RpcTransaction[], receipts: readonly RpcReceipt[], where: string): Promise<RootCheck> {
  const root: RootName = 'receiptsRoot';
  if (!isRoot(block.receiptsRoot)) return { root, outcome: 'unknowable', reason: NO_ROOT };
  const ordered = receiptsInOrder(block, committed, receipts, where);
  const computed = await trieRoot(ordered.map(({ receipt, tx }) => encodeReceipt(receipt, tx)));
  const unknown = [...new Set(ordered.map(({ receipt, tx }) => typeOf(receipt.type === undefined ? tx : receipt)).filter((t) => !KNOWN_TYPES.has(t)))];
  if (unknown.length > 0 && computed.toLowerCase() !== block.receiptsRoot.toLowerCase()) {
    return { root, outcome: 'unknowable', reason: `receipts of type ${unknown.map((t) => numberToHex(t)).join(', ')} are encoded differently` };
  }
  assertEqual(where, root, block.receiptsRoot, computed, `${ordered.length} receipts`);
  return { root, outcome: 'equal' };
}

async function checkWithdrawals(block: RpcBlock, committed: readonly RpcTransaction[], where: string): Promise<RootCheck> {
  const root: RootName = 'withdrawalsRoot';
  const withdrawals = block.withdrawals ?? [];
  if (!isRoot(block.withdrawalsRoot)) return { root, outcome: 'unknowable', reason: NO_ROOT };
  // OP Stack since Isthmus: withdrawals stay [] and withdrawalsRoot is the L2ToL1MessagePasser's storage root.
  if (committed.some((tx) => typeOf(tx) === DEPOSIT_TYPE) && withdrawals.length === 0 && block.withdrawalsRoot.toLowerCase() !== EMPTY_TRIE_ROOT) {
    return { root, outcome: 'unknowable', reason: 'on OP Stack chains since Isthmus it is the L2ToL1MessagePasser storage root' };
  }
  const encoded = withdrawals.map((w) => rlp([quantity(w.index), quantity(w.validatorIndex), data(w.address), quantity(w.amount)]));
  assertEqual(where, root, block.withdrawalsRoot, await trieRoot(encoded), `${withdrawals.length} withdrawals`);
  return { root, outcome: 'equal' };
}

/**
 * The receipts of `committed`, in their order, each with its transaction: same hash and same
 * `transactionIndex` first, then same hash. A receipt left over must be Bor's state-sync receipt.
 * @throws RpcBadResponseError for a missing receipt or one that belongs to no transaction.
 */
function receiptsInOrder(block: RpcBlock, committed: readonly RpcTransaction[], receipts: readonly RpcReceipt[], where: string) {
  const byHash = new Map<string, RpcReceipt[]>();
  for (const r of receipts) byHash.set(lower(r.transactionHash), [...(byHash.get(lower(r.transactionHash)) ?? []), r]);
  const ordered = committed.map((tx) => {
    const candidates = byHash.get(lower(tx.hash)) ?? [];
    const at = Math.max(0, candidates.findIndex((r) => sameQuantity(r.transactionIndex, tx.transactionIndex)));
    const receipt = candidates.splice(at, 1)[0];
    if (receipt === undefined) throw new RpcBadResponseError(`${where}: receiptsRoot cannot be recomputed: no receipt for transaction ${tx.hash}`);
    return { receipt, tx };
  });
  const stateSync = borStateSyncHash(block);
  for (const r of [...byHash.values()].flat()) {
    if (lower(r.transactionHash) !== stateSync) {
      throw new RpcBadResponseError(`${where}: receiptsRoot cannot hold receipt ${r.transactionHash}: no transaction of the block has it`);
    }
  }
  return ordered;
}

/** The EIP-2718 envelope of a transaction of a known type (see the module docstring). */
function encodeTransaction(tx: RpcTransaction): Uint8Array {
  const type = typeOf(tx);
  const t = tx as Record<string, unknown>;
  const input = data(t.input ?? t.data);
  const to = t.to === null || t.to === undefined ? new Uint8Array() : data(t.to);
  const signature = [quantity(t.yParity ?? t.v), quantity(t.r), quantity(t.s)];
  const fees = [quantity(t.maxPriorityFeePerGas), quantity(t.maxFeePerGas)];
  const accessList = accessListOf(t.accessList);
  switch (type) {
    case 0:
      return rlp([quantity(t.nonce), quantity(t.gasPrice), quantity(t.gas), to, quantity(t.value), input, quantity(t.v), quantity(t.r), quantity(t.s)]);
    case 1:
      return typed(1, [quantity(t.chainId), quantity(t.nonce), quantity(t.gasPrice), quantity(t.gas), to, quantity(t.value), input, accessList, ...signature]);
    case 2:
      return typed(2, [quantity(t.chainId), quantity(t.nonce), ...fees, quantity(t.gas), to, quantity(t.value), input, accessList, ...signature]);
    case 3: {
      const blobs = listOf(t.blobVersionedHashes).map(data);
      return typed(3, [quantity(t.chainId), quantity(t.nonce), ...fees, quantity(t.gas), to, quantity(t.value), input, accessList, quantity(t.maxFeePerBlobGas), blobs, ...signature]);
    }
    case 4: {
      const authorizations = listOf(t.authorizationList).map((a) => {
        const auth = a as Record<string, unknown>;
        return [quantity(auth.chainId), data(auth.address), quantity(auth.nonce), quantity(auth.yParity ?? auth.v), quantity(auth.r), quantity(auth.s)];
      });
      return typed(4, [quantity(t.chainId), quantity(t.nonce), ...fees, quantity(t.gas), to, quantity(t.value), input, accessList, authorizations, ...signature]);
    }
    default: // DEPOSIT_TYPE; unknown types never get here
      return typed(DEPOSIT_TYPE, [data(t.sourceHash), data(t.from), to, quantity(t.mint), quantity(t.value), quantity(t.gas), t.isSystemTx === true ? 1n : 0n, input]);
  }
}

/** A receipt's consensus encoding; its type is the receipt's own, or its transaction's when the node left it out. */
function encodeReceipt(receipt: RpcReceipt, tx: RpcTransaction): Uint8Array {
  const type = typeOf(receipt.type === undefined ? tx : receipt);
  const outcome = receipt.status !== undefined && receipt.status !== null ? quantity(receipt.status) : data(receipt.root);
  const logs = receipt.logs.map((log) => [data(log.address), log.topics.map(data), data(log.data)]);
  const fields: Input[] = [outcome, quantity(receipt.cumulativeGasUsed), data(receipt.logsBloom), logs];
  if (type === DEPOSIT_TYPE && receipt.depositNonce !== undefined && receipt.depositNonce !== null) {
    fields.push(quantity(receipt.depositNonce));
    if (receipt.depositReceiptVersion !== undefined && receipt.depositReceiptVersion !== null) fields.push(quantity(receipt.depositReceiptVersion));
  }
  return type === 0 ? rlp(fields) : typed(type, fields);
}

let keccakHasher: Promise<IHasher> | undefined;

/** Root of the trie that maps `rlp(i)` to `values[i]`, as 0x-hex. */
async function trieRoot(values: readonly Uint8Array[]): Promise<Hex> {
  const hasher = await (keccakHasher ??= createKeccak(256));
  const keccak = (message: Uint8Array) => {
    hasher.init();
    hasher.update(message);
    return hasher.digest('binary');
  };
  const trie = await createMPT({ useKeyHashingFunction: keccak });
  for (let i = 0; i < values.length; i++) await trie.put(rlp(i), values[i]!);
  return bytesToHex(trie.root());
}

function assertEqual(where: string, root: RootName, header: string, computed: Hex, from: string): void {
  if (header.toLowerCase() !== computed) {
    throw new RpcBadResponseError(`${where}: ${root} mismatch: the header has ${header.toLowerCase()}, the ${from} give ${computed}`);
  }
}

/**
 * Polygon Bor lists a state-sync pseudo-transaction (hash keccak256("matic-bor-receipt-" ‖
 * uint64(blockNumber) ‖ blockHash)) that is not part of the block's transactionsRoot or receiptsRoot.
 */
function isBorStateSync(tx: RpcTransaction, block: RpcBlock): boolean {
  return lower(tx.hash) === borStateSyncHash(block);
}

function borStateSyncHash(block: RpcBlock): string {
  return keccak256(concat([stringToHex('matic-bor-receipt-'), numberToHex(BigInt(block.number), { size: 8 }), lower(block.hash) as Hex]));
}

function typed(type: number, fields: Input[]): Uint8Array {
  return concat([new Uint8Array([type]), rlp(fields)]);
}

/** The EIP-2718 type number of a transaction or receipt; a missing `type` is legacy (0). */
function typeOf(object: { type?: unknown }): number {
  return object.type === undefined || object.type === null ? 0 : Number(BigInt(object.type as string));
}

/** A hex quantity as a bigint for RLP (0 encodes as the empty string); absent or null is 0. */
function quantity(value: unknown): bigint {
  if (value === undefined || value === null) return 0n;
  if (typeof value !== 'string' || !/^0x[0-9a-f]+$/i.test(value)) throw new FieldShapeError(`not a hex quantity: ${JSON.stringify(value)}`);
  return BigInt(value);
}

/** Hex data as bytes; absent or null is empty. */
function data(value: unknown): Uint8Array {
  if (value === undefined || value === null) return new Uint8Array();
  if (typeof value !== 'string' || !/^0x([0-9a-f]{2})*$/i.test(value)) throw new FieldShapeError(`not hex data: ${JSON.stringify(value)}`);
  return hexToBytes(value as Hex);
}

function accessListOf(value: unknown): Input[] {
  return listOf(value).map((entry) => {
    const e = entry as { address?: unknown; storageKeys?: unknown };
    return [data(e.address), listOf(e.storageKeys).map(data)];
  });
}

function listOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function isRoot(value: unknown): value is string {
  return typeof value === 'string' && /^0x[0-9a-f]{64}$/i.test(value) && !/^0x0{64}$/.test(value);
}

function lower(value: unknown): string {
  return String(value).toLowerCase();
}

function sameQuantity(a: unknown, b: unknown): boolean {
  try {
    return typeof a === 'string' && typeof b === 'string' && BigInt(a) === BigInt(b);
  } catch {
    return false;
  }
}
