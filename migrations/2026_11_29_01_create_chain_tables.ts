import { sql, type Kysely } from 'kysely';

/**
 * Creates the public schema: `blocks`, `transactions` (with receipt fields), `logs`,
 * `withdrawals` and `cursors`. Hashes, addresses and byte strings are `bytea`; uint256 and gas
 * are `numeric(78,0)`; block numbers `bigint`. Every table carries `chain_id` (EIP-155).
 * Fields a chain adds beyond the standard ones are kept in the `extra` jsonb columns.
 * Frozen: never edit after release; add a new migration instead.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table blocks (
      chain_id bigint not null,
      number bigint not null,
      hash bytea not null,
      parent_hash bytea not null,
      timestamp bigint not null,
      miner bytea,
      gas_limit numeric(78,0),
      gas_used numeric(78,0),
      base_fee_per_gas numeric(78,0),
      difficulty numeric(78,0),
      total_difficulty numeric(78,0),
      size bigint,
      nonce bytea,
      mix_hash bytea,
      sha3_uncles bytea,
      logs_bloom bytea not null,
      transactions_root bytea,
      state_root bytea,
      receipts_root bytea,
      extra_data bytea,
      withdrawals_root bytea,
      blob_gas_used numeric(78,0),
      excess_blob_gas numeric(78,0),
      parent_beacon_block_root bytea,
      requests_hash bytea,
      uncles bytea[] not null default '{}',
      transaction_count integer not null,
      extra jsonb,
      primary key (chain_id, number)
    )`.execute(db);
  await sql`create index blocks_hash_idx on blocks (chain_id, hash)`.execute(db);

  await sql`
    create table transactions (
      chain_id bigint not null,
      block_number bigint not null,
      block_hash bytea not null,
      transaction_index bigint not null,
      hash bytea not null,
      type integer,
      nonce numeric(78,0),
      from_address bytea,
      to_address bytea,
      value numeric(78,0),
      gas numeric(78,0),
      gas_price numeric(78,0),
      max_fee_per_gas numeric(78,0),
      max_priority_fee_per_gas numeric(78,0),
      max_fee_per_blob_gas numeric(78,0),
      blob_versioned_hashes bytea[],
      input bytea,
      signed_chain_id numeric(78,0),
      v numeric(78,0),
      r numeric(78,0),
      s numeric(78,0),
      y_parity smallint,
      access_list jsonb,
      authorization_list jsonb,
      extra jsonb,
      status smallint,
      root bytea,
      gas_used numeric(78,0),
      cumulative_gas_used numeric(78,0),
      effective_gas_price numeric(78,0),
      contract_address bytea,
      receipt_logs_bloom bytea,
      blob_gas_used numeric(78,0),
      blob_gas_price numeric(78,0),
      receipt_type integer,
      receipt_extra jsonb,
      log_count integer not null,
      in_block_list boolean not null,
      primary key (chain_id, block_number, transaction_index)
    )`.execute(db);
  await sql`create index transactions_hash_idx on transactions (chain_id, hash)`.execute(db);

  await sql`
    create table logs (
      chain_id bigint not null,
      block_number bigint not null,
      block_hash bytea not null,
      log_index bigint not null,
      transaction_hash bytea not null,
      transaction_index bigint not null,
      address bytea not null,
      topic0 bytea,
      topic1 bytea,
      topic2 bytea,
      topic3 bytea,
      data bytea not null,
      extra jsonb,
      primary key (chain_id, block_number, log_index)
    )`.execute(db);
  await sql`create index logs_address_idx on logs (chain_id, address, block_number)`.execute(db);
  await sql`create index logs_topic0_idx on logs (chain_id, topic0, block_number)`.execute(db);

  await sql`
    create table withdrawals (
      chain_id bigint not null,
      block_number bigint not null,
      block_hash bytea not null,
      position integer not null,
      index numeric(20,0) not null,
      validator_index numeric(20,0) not null,
      address bytea not null,
      amount numeric(78,0) not null,
      extra jsonb,
      primary key (chain_id, block_number, position)
    )`.execute(db);

  await sql`
    create table cursors (
      chain_id bigint primary key,
      block_number bigint not null,
      block_hash bytea not null,
      updated_at timestamptz not null default now()
    )`.execute(db);
}
