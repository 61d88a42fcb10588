import { sql, type Kysely } from 'kysely';
import { createPartitions } from '../src/db/partitions.js';

/** Each chain table, its block-number column, its primary key and its secondary indexes, exactly as migration 01 made them. */
const TABLES = [
  { table: 'blocks', column: 'number', key: ['chain_id', 'number'], indexes: [['blocks_hash_idx', 'chain_id, hash']] },
  { table: 'transactions', column: 'block_number', key: ['chain_id', 'block_number', 'transaction_index'], indexes: [['transactions_hash_idx', 'chain_id, hash']] },
  { table: 'logs', column: 'block_number', key: ['chain_id', 'block_number', 'log_index'], indexes: [['logs_address_idx', 'chain_id, address, block_number'], ['logs_topic0_idx', 'chain_id, topic0, block_number']] },
  { table: 'withdrawals', column: 'block_number', key: ['chain_id', 'block_number', 'position'], indexes: [] },
] as const;

/**
 * Range partitions by block number: `blocks`, `transactions`, `logs` and `withdrawals` become
 * partitioned LIST by `chain_id`, then RANGE by block number (src/db/partitions.ts). Adds
 * `chain_partitioning` (the partition size in force per chain) and `archived_ranges`. An existing
 * database is converted in the migration's one transaction: each table is renamed, a partitioned
 * table with the same columns, defaults, primary key and indexes takes its name, partitions of
 * `size` blocks (`PARTITION_SIZE`, bound in migrations/index.ts; recorded per chain) covering every
 * stored block are created, the rows are moved with one INSERT … SELECT per table, and the old
 * table is dropped.
 * Frozen: never edit after release; add a new migration instead.
 */
export async function up(db: Kysely<any>, size: number): Promise<void> {
  await sql`
    create table chain_partitioning (
      chain_id bigint primary key,
      partition_size bigint not null check (partition_size > 0),
      recorded_at timestamptz not null default now()
    )`.execute(db);
  await sql`
    create table archived_ranges (
      chain_id bigint not null,
      from_block bigint not null,
      to_block bigint not null,
      mode text not null,
      location text,
      archived_at timestamptz not null default now(),
      primary key (chain_id, from_block)
    )`.execute(db);

  for (const { table, key, indexes } of TABLES) {
    const old = `${table}_unpartitioned`;
    await sql`alter table ${sql.id(table)} rename to ${sql.id(old)}`.execute(db);
    await sql`alter table ${sql.id(old)} rename constraint ${sql.id(`${table}_pkey`)} to ${sql.id(`${old}_pkey`)}`.execute(db);
    for (const [index] of indexes) await sql`alter index ${sql.id(index)} rename to ${sql.id(`${index}_unpartitioned`)}`.execute(db);
    await sql`create table ${sql.id(table)} (like ${sql.id(old)} including defaults) partition by list (chain_id)`.execute(db);
    await sql`alter table ${sql.id(table)} add constraint ${sql.id(`${table}_pkey`)} primary key (${sql.join(key.map((k) => sql.id(k)))})`.execute(db);
    for (const [index, columns] of indexes) await sql`create index ${sql.id(index)} on ${sql.id(table)} (${sql.raw(columns)})`.execute(db);
  }

  const chains = await sql<{ chain_id: string; low: string; high: string }>`
    select chain_id, min(n) as low, max(n) as high from (
      select chain_id, number as n from blocks_unpartitioned
      union all select chain_id, block_number from transactions_unpartitioned
      union all select chain_id, block_number from logs_unpartitioned
      union all select chain_id, block_number from withdrawals_unpartitioned
    ) stored group by chain_id`.execute(db);
  for (const c of chains.rows) {
    const chainId = Number(c.chain_id);
    await sql`insert into chain_partitioning (chain_id, partition_size) values (${chainId}, ${size})`.execute(db);
    await createPartitions(db, chainId, size, Number(c.low), Number(c.high));
  }

  for (const { table } of TABLES) {
    await sql`insert into ${sql.id(table)} select * from ${sql.id(`${table}_unpartitioned`)}`.execute(db);
    await sql`drop table ${sql.id(`${table}_unpartitioned`)}`.execute(db);
  }
}
