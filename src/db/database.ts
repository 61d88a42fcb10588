/**
 * Kysely types of the public schema (see migrations/). Hashes, addresses and byte strings are
 * `bytea` (Buffer), uint256 and gas values `numeric(78,0)` (decimal strings: they exceed 2^53),
 * block numbers `bigint` (parsed to number by the int8 parser installed in connect.ts).
 * A nullable column is `T | null`, never optional.
 */
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** uint256 / gas quantity: written and read as a decimal string. */
export type Numeric = string;
/** jsonb column: written as JSON text, read as the parsed value. */
export type Jsonb = ColumnType<unknown, string | null, string | null>;

export type BlocksTable = {
  chain_id: number;
  number: number;
  hash: Buffer;
  parent_hash: Buffer;
  /** Unix time in seconds. */
  timestamp: number;
  miner: Buffer | null;
  gas_limit: Numeric | null;
  gas_used: Numeric | null;
  /** wei, EIP-1559. */
  base_fee_per_gas: Numeric | null;
  difficulty: Numeric | null;
  total_difficulty: Numeric | null;
  /** bytes */
  size: number | null;
  nonce: Buffer | null;
  mix_hash: Buffer | null;
  sha3_uncles: Buffer | null;
  logs_bloom: Buffer;
  transactions_root: Buffer | null;
  state_root: Buffer | null;
  receipts_root: Buffer | null;
  extra_data: Buffer | null;
  withdrawals_root: Buffer | null;
  blob_gas_used: Numeric | null;
  excess_blob_gas: Numeric | null;
  parent_beacon_block_root: Buffer | null;
  requests_hash: Buffer | null;
  uncles: Buffer[];
  transaction_count: number;
  extra: Jsonb;
};

export type TransactionsTable = {
  chain_id: number;
  block_number: number;
  block_hash: Buffer;
  transaction_index: number;
  hash: Buffer;
  /** EIP-2718 type byte (0 legacy, 1, 2, 3 blob, 4 set-code, 126 OP deposit, …); null when the node omits it. */
  type: number | null;
  nonce: Numeric | null;
  from_address: Buffer | null;
  to_address: Buffer | null;
  /** wei */
  value: Numeric | null;
  gas: Numeric | null;
  gas_price: Numeric | null;
  max_fee_per_gas: Numeric | null;
  max_priority_fee_per_gas: Numeric | null;
  max_fee_per_blob_gas: Numeric | null;
  blob_versioned_hashes: Buffer[] | null;
  input: Buffer | null;
  /** The transaction's own `chainId` field (EIP-155 signing), not the row's chain. */
  signed_chain_id: Numeric | null;
  v: Numeric | null;
  r: Numeric | null;
  s: Numeric | null;
  y_parity: number | null;
  access_list: Jsonb;
  authorization_list: Jsonb;
  extra: Jsonb;
  /** Receipt status: 1 success, 0 reverted (EIP-658); null before Byzantium (see `root`). */
  status: number | null;
  root: Buffer | null;
  gas_used: Numeric | null;
  cumulative_gas_used: Numeric | null;
  effective_gas_price: Numeric | null;
  contract_address: Buffer | null;
  receipt_logs_bloom: Buffer | null;
  blob_gas_used: Numeric | null;
  blob_gas_price: Numeric | null;
  receipt_type: number | null;
  receipt_extra: Jsonb;
  log_count: number;
  /** False for a receipt whose transaction is not in the block's list (Polygon state-sync). */
  in_block_list: boolean;
};

export type LogsTable = {
  chain_id: number;
  block_number: number;
  block_hash: Buffer;
  /** Position of the log in its block (JSON-RPC `logIndex`). */
  log_index: number;
  transaction_hash: Buffer;
  transaction_index: number;
  address: Buffer;
  topic0: Buffer | null;
  topic1: Buffer | null;
  topic2: Buffer | null;
  topic3: Buffer | null;
  data: Buffer;
  extra: Jsonb;
};

export type WithdrawalsTable = {
  chain_id: number;
  block_number: number;
  block_hash: Buffer;
  /** Position in the block's `withdrawals` list. */
  position: number;
  /** EIP-4895 global withdrawal index. */
  index: Numeric;
  validator_index: Numeric;
  address: Buffer;
  /** gwei (EIP-4895). */
  amount: Numeric;
  extra: Jsonb;
};

export type CursorsTable = {
  chain_id: number;
  block_number: number;
  block_hash: Buffer;
  updated_at: Generated<Date>;
};

/** The partition size in force per chain (blocks per range partition), recorded once (src/db/partitions.ts). */
export type ChainPartitioningTable = {
  chain_id: number;
  partition_size: number;
  recorded_at: Generated<Date>;
};

/** A range of blocks `from_block..to_block` (inclusive) whose partitions `archive` detached; `mode` detach/drop/export, `location` the schema or directory. */
export type ArchivedRangesTable = {
  chain_id: number;
  from_block: number;
  to_block: number;
  mode: string;
  location: string | null;
  archived_at: Generated<Date>;
};

/** The whole schema, as Kysely sees it. */
export type Database = {
  blocks: BlocksTable;
  transactions: TransactionsTable;
  logs: LogsTable;
  withdrawals: WithdrawalsTable;
  cursors: CursorsTable;
  chain_partitioning: ChainPartitioningTable;
  archived_ranges: ArchivedRangesTable;
};

export type BlockRow = Insertable<BlocksTable>;
export type TransactionRow = Insertable<TransactionsTable>;
export type LogRow = Insertable<LogsTable>;
export type WithdrawalRow = Insertable<WithdrawalsTable>;
export type StoredBlock = Selectable<BlocksTable>;
