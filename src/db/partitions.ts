/**
 * Range partitions by block number. `blocks`, `transactions`, `logs` and `withdrawals` are
 * partitioned LIST by `chain_id` (one partition per chain, `<table>_c<chainId>`), each of those
 * RANGE by block number (`<table>_c<chainId>_p<first block>`, `partition size` blocks each). The
 * size in force per chain is recorded once in `chain_partitioning`, so every worker agrees and a
 * changed `PARTITION_SIZE` never changes an existing layout. Archived partitions are recorded in
 * `archived_ranges` (see {@link archivePartitions}).
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { sql, type Kysely, type Transaction } from 'kysely';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { coveringPartitions, type BlockRange } from '../domain/block-range.js';
import type { Database } from './database.js';
import { classifyDbError } from './sqlstate.js';

/** Blocks per range partition when neither the chain nor `PARTITION_SIZE` says otherwise. */
export const DEFAULT_PARTITION_SIZE = 1_000_000;
/** Partitions created beyond the highest one a write needs, so most writes find theirs ready. */
const LOOKAHEAD_PARTITIONS = 1;
/** Schema detached partitions are moved to by `archive` without `--drop`/`--export`. */
export const ARCHIVE_SCHEMA = 'archive';

/**
 * The partitioned tables with their block-number column, in the order partitions are created and
 * detached: the order in which a batch (`rangeDeleteStatements`) or a rollback (`rollbackTo`) first locks them. Creating a
 * partition takes an ACCESS EXCLUSIVE lock on its parent; taking them in any other order deadlocks
 * with a batch in flight (seen: SQLSTATE 40P01 with blocks first).
 */
export const PARTITIONED_TABLES = [
  { table: 'logs', column: 'block_number' },
  { table: 'transactions', column: 'block_number' },
  { table: 'withdrawals', column: 'block_number' },
  { table: 'blocks', column: 'number' },
] as const;

/** One range partition's bounds: blocks `from..to` inclusive. */
export type PartitionBounds = BlockRange;

/** Name of the per-chain LIST partition of `table`. */
export const chainPartitionName = (table: string, chainId: number): string => `${table}_c${chainId}`;
/** Name of the range partition of `table` for chain `chainId` starting at block `from`. */
export const rangePartitionName = (table: string, chainId: number, from: number): string => `${table}_c${chainId}_p${from}`;

/**
 * Records `size` as chain `chainId`'s partition size unless one is recorded already, and returns
 * the size in force (the recorded one wins: a layout never changes size).
 * @throws DbTransientError when Postgres is unreachable.
 */
export async function recordPartitionSize(db: Kysely<Database>, chainId: number, size: number): Promise<number> {
  try {
    await db.insertInto('chain_partitioning').values({ chain_id: chainId, partition_size: size }).onConflict((oc) => oc.column('chain_id').doNothing()).execute();
    const row = await db.selectFrom('chain_partitioning').select('partition_size').where('chain_id', '=', chainId).executeTakeFirstOrThrow();
    return Number(row.partition_size);
  } catch (err) {
    throw classifyDbError(err, `recording the partition size of chain ${chainId}`);
  }
}

/**
 * Creates (if missing) the LIST partition of chain `chainId` and the range partitions of size
 * `size` covering `from..to` in every partitioned table. No lock, no check: the caller holds the
 * chain's partition lock ({@link lockPartitions}) or runs alone (the migration).
 */
export async function createPartitions(trx: Transaction<Database> | Kysely<Database>, chainId: number, size: number, from: number, to: number): Promise<void> {
  for (const { table, column } of PARTITIONED_TABLES) {
    const parent = chainPartitionName(table, chainId);
    await sql`create table if not exists ${sql.id(parent)} partition of ${sql.id(table)} for values in (${sql.lit(chainId)}) partition by range (${sql.id(column)})`.execute(trx);
    for (const p of coveringPartitions({ from, to }, size)) {
      await sql`create table if not exists ${sql.id(rangePartitionName(table, chainId, p.from))} partition of ${sql.id(parent)} for values from (${sql.lit(p.from)}) to (${sql.lit(p.to + 1)})`.execute(trx);
    }
  }
}

/** Takes chain `chainId`'s partition lock (transaction-scoped advisory lock) inside `trx`. */
async function lockPartitions(trx: Transaction<Database>, chainId: number): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`evm-indexer:partitions:${chainId}`}, 0))`.execute(trx);
}

/**
 * Makes sure every partition blocks `range.from..range.to` of chain `chainId` fall in exists, plus
 * {@link LOOKAHEAD_PARTITIONS} beyond, in every partitioned table. When one is missing, creates
 * them in a short transaction of its own under the chain's advisory lock (so workers never race),
 * which commits before the caller's write begins: the write's own transaction then holds no DDL
 * lock, and a range crossing a boundary is written atomically into both partitions. Uses the
 * chain's recorded size, recording {@link DEFAULT_PARTITION_SIZE} when none is.
 * @throws DbTransientError when Postgres is unreachable.
 */
export async function ensurePartitions(db: Kysely<Database>, chainId: number, range: { from: number; to: number }): Promise<void> {
  try {
    const row = await db.selectFrom('chain_partitioning').select('partition_size').where('chain_id', '=', chainId).executeTakeFirst();
    const size = row ? Number(row.partition_size) : await recordPartitionSize(db, chainId, DEFAULT_PARTITION_SIZE);
    const to = range.to + LOOKAHEAD_PARTITIONS * size;
    const names = PARTITIONED_TABLES.flatMap(({ table }) => coveringPartitions({ from: range.from, to }, size).map((p) => rangePartitionName(table, chainId, p.from)));
    const found = await sql<{ n: string }>`select count(*) as n from pg_class c join pg_namespace s on s.oid = c.relnamespace where s.nspname = current_schema() and c.relname = any(${names})`.execute(db);
    if (Number(found.rows[0]!.n) === names.length) return;
    await db.transaction().execute(async (trx) => {
      await lockPartitions(trx, chainId);
      await createPartitions(trx, chainId, size, range.from, to);
    });
  } catch (err) {
    throw classifyDbError(err, `creating the partitions of chain ${chainId} for blocks ${range.from}–${range.to}`);
  }
}

/** A range partition of chain `chainId` as the catalog shows it (every table has the same ones). */
export async function listRangePartitions(db: Kysely<Database> | Transaction<Database>, chainId: number): Promise<PartitionBounds[]> {
  const result = await sql<{ bound: string }>`
    select pg_get_expr(c.relpartbound, c.oid) as bound from pg_inherits i
    join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent join pg_namespace s on s.oid = p.relnamespace
    where p.relname = ${chainPartitionName('blocks', chainId)} and s.nspname = current_schema()
  `.execute(db);
  return result.rows
    .map((r) => /FROM \('?(\d+)'?\) TO \('?(\d+)'?\)/.exec(r.bound))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ from: Number(m[1]), to: Number(m[2]) - 1 }))
    .sort((a, b) => a.from - b.from);
}

/** What `archive` does with the partitions it detaches: keep them in schema `archive`, drop them, or export them to files and then drop them. */
export type ArchiveMode = { kind: 'detach' } | { kind: 'drop' } | { kind: 'export'; dir: string };

/** Thrown when an archive would touch blocks at or above the chain's cursor (or the chain has none). */
export class ArchiveRefusedError extends Error {}

/**
 * Archives chain `chainId`'s range partitions that lie entirely below block `before`: detaches
 * them from every partitioned table and, per `mode`, moves them to schema `archive`, drops them,
 * or first writes each one to `<dir>/<table>_c<chainId>_<from>_<to>.copy` (Postgres COPY text
 * format, via `COPY … TO STDOUT`) and then drops them. Records each archived range in
 * `archived_ranges` (so gap search and verify skip it), in the same transaction as the detach.
 * Returns the archived ranges, ascending (empty when none lies below `before`).
 * @throws ArchiveRefusedError when `before − 1` is at or above the stored cursor, or the chain has
 *   no cursor (nothing is touched); DbTransientError when Postgres is unreachable.
 */
export async function archivePartitions(db: Kysely<Database>, databaseUrl: string, chainId: number, before: number, mode: ArchiveMode): Promise<PartitionBounds[]> {
  const checkCursor = async (q: Kysely<Database> | Transaction<Database>) => {
    const cursor = await q.selectFrom('cursors').select('block_number').where('chain_id', '=', chainId).executeTakeFirst();
    if (!cursor) throw new ArchiveRefusedError(`chain ${chainId} has no cursor: nothing is final enough to archive`);
    if (before - 1 >= cursor.block_number) {
      throw new ArchiveRefusedError(`--before ${before} reaches the cursor of chain ${chainId} (block ${cursor.block_number}); archive only below it`);
    }
  };
  await checkCursor(db);
  const targets = (await listRangePartitions(db, chainId)).filter((p) => p.to < before);
  if (targets.length === 0) return [];
  if (mode.kind === 'export') await exportPartitions(databaseUrl, chainId, targets, mode.dir);
  try {
    await db.transaction().execute(async (trx) => {
      await lockPartitions(trx, chainId);
      await checkCursor(trx);
      if (mode.kind === 'detach') await sql`create schema if not exists ${sql.id(ARCHIVE_SCHEMA)}`.execute(trx);
      for (const p of targets) {
        for (const { table } of PARTITIONED_TABLES) {
          const name = rangePartitionName(table, chainId, p.from);
          await sql`alter table ${sql.id(chainPartitionName(table, chainId))} detach partition ${sql.id(name)}`.execute(trx);
          if (mode.kind === 'detach') await sql`alter table ${sql.id(name)} set schema ${sql.id(ARCHIVE_SCHEMA)}`.execute(trx);
          else await sql`drop table ${sql.id(name)}`.execute(trx);
        }
        await trx.insertInto('archived_ranges').values({
          chain_id: chainId, from_block: p.from, to_block: p.to, mode: mode.kind, location: mode.kind === 'export' ? mode.dir : mode.kind === 'detach' ? ARCHIVE_SCHEMA : null,
        }).execute();
      }
    });
  } catch (err) {
    if (err instanceof ArchiveRefusedError) throw err;
    throw classifyDbError(err, `archiving chain ${chainId} below block ${before}`);
  }
  return targets;
}

/** Writes each partition of `targets` in every table to `<dir>/<table>_c<chainId>_<from>_<to>.copy` with `COPY … TO STDOUT`. */
async function exportPartitions(databaseUrl: string, chainId: number, targets: readonly PartitionBounds[], dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (const p of targets) {
      for (const { table } of PARTITIONED_TABLES) {
        const name = client.escapeIdentifier(rangePartitionName(table, chainId, p.from));
        await pipeline(client.query(copyTo(`copy ${name} to stdout`)), createWriteStream(join(dir, `${table}_c${chainId}_${p.from}_${p.to}.copy`)));
      }
    }
  } finally {
    await client.end();
  }
}

/**
 * The first block at or above `from` of chain `chainId` that is not in an archived range: where a
 * gap search or a verify of chain `chainId` starts.
 * @throws DbTransientError when Postgres is unreachable.
 */
export async function firstUnarchivedBlock(db: Kysely<Database>, chainId: number, from: number): Promise<number> {
  try {
    const ranges = await db.selectFrom('archived_ranges').select(['from_block', 'to_block']).where('chain_id', '=', chainId).orderBy('from_block').execute();
    let first = from;
    for (const r of ranges) if (r.from_block <= first && first <= r.to_block) first = r.to_block + 1;
    return first;
  } catch (err) {
    throw classifyDbError(err, `reading the archived ranges of chain ${chainId}`);
  }
}
