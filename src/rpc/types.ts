/**
 * Raw JSON-RPC objects as nodes return them (EIP-1474 / execution-apis): every quantity is a hex
 * string, every field may be missing on some chain, and unknown fields are kept as they come.
 * Only the fields the indexer reads are named; the rest stay reachable through the index signature.
 */
import type { Address, Hash, Hex } from 'viem';

/** A log object of `eth_getBlockReceipts` / `eth_getLogs`. */
export type RpcLog = {
  address: Address;
  topics: Hex[];
  data: Hex;
  blockNumber: Hex;
  blockHash: Hash;
  transactionHash: Hash;
  transactionIndex: Hex;
  logIndex: Hex;
  removed?: boolean;
  [extra: string]: unknown;
};

/** A receipt object of `eth_getBlockReceipts` / `eth_getTransactionReceipt`. */
export type RpcReceipt = {
  transactionHash: Hash;
  transactionIndex: Hex;
  blockHash: Hash;
  blockNumber: Hex;
  from?: Address;
  to?: Address | null;
  cumulativeGasUsed: Hex;
  gasUsed: Hex;
  effectiveGasPrice?: Hex;
  contractAddress?: Address | null;
  logs: RpcLog[];
  logsBloom: Hex;
  status?: Hex;
  root?: Hex;
  type?: Hex;
  blobGasUsed?: Hex;
  blobGasPrice?: Hex;
  [extra: string]: unknown;
};

/** A transaction object inside `eth_getBlockByNumber(n, true)`. */
export type RpcTransaction = {
  hash: Hash;
  blockHash: Hash;
  blockNumber: Hex;
  transactionIndex: Hex;
  from: Address;
  to: Address | null;
  nonce: Hex;
  value: Hex;
  gas: Hex;
  input: Hex;
  type?: Hex;
  [extra: string]: unknown;
};

/** A withdrawal (EIP-4895) inside a block; `amount` is in gwei. */
export type RpcWithdrawal = { index: Hex; validatorIndex: Hex; address: Address; amount: Hex; [extra: string]: unknown };

/** A block object of `eth_getBlockByNumber(n, true)`. */
export type RpcBlock = {
  number: Hex;
  hash: Hash;
  parentHash: Hash;
  timestamp: Hex;
  logsBloom: Hex;
  transactions: RpcTransaction[];
  withdrawals?: RpcWithdrawal[];
  uncles?: Hash[];
  [extra: string]: unknown;
};

/** One block with its receipts, fetched together and validated. `receipts[i]` need not match `transactions[i]`. */
export type BlockBundle = { block: RpcBlock; receipts: RpcReceipt[] };

/** One JSON-RPC call inside a batch. */
export type RpcRequest = { method: string; params: readonly unknown[] };

/** A JSON-RPC error object (EIP-1474 codes). */
export type RpcErrorObject = { code: number; message: string; data?: unknown };

/** The outcome of one call of a batch, matched to its request by `id`. */
export type RpcOutcome = { ok: true; result: unknown } | { ok: false; error: RpcErrorObject };
