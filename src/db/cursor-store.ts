import { sql, type Kysely } from 'kysely';
import type { Cursor } from '../domain/cursor.js';
import { DbIntegrityError } from '../errors.js';
import type { Database } from './database.js';
import { bytes } from './rows.js';
import { firstUnarchivedBlock } from './partitions.js';
import { classifyDbError } from './sqlstate.js';

const hex = (b: Buffer): string => `0x${b.toString('hex')}`;

/**
 * Reads the cursor of chain `chainId`: the last block committed contiguously, or null when the
 * chain has none yet.
 * @throws DbTransientError when Postgres is unreachable.
 */
export async function readCursor(db: Kysely<Database>, chainId: number): Promise<Cursor | null> {
  try {
    const row = await db.selectFrom('cursors').select(['block_number', 'block_hash']).where('chain_id', '=', chainId).executeTakeFirst();
    return row ? { blockNumber: row.block_number, blockHash: hex(row.block_hash) } : null;
  } catch (err) {
    throw classifyDbError(err, `reading the cursor of chain ${chainId}`);
  }
}

/**
 * Moves the cursor of chain `chainId` to `cursor`, only if block `cursor.blockNumber` is stored
 * with exactly `cursor.blockHash` (so the cursor never points past committed rows).
 *
 * Committed without waiting for its WAL flush (`synchronous_commit` off for its transaction only,
 * PostgreSQL docs, "Asynchronous Commit"). A synchronous commit waited for the flush of every WAL
 * record before it, which while eight ranges COPY is megabytes: 20–160 ms per save in the bench,
 * and the sync's workflow task, with the next range's activity in it, waited as long. Safe: the
 * ranges it moves over committed synchronously before it was called, and Postgres recovers a
 * prefix of its WAL, so a crash of Postgres or of the machine can only take back the cursor moves
 * of about its last 600 ms (three `wal_writer_delay`s), never leave the cursor past stored rows.
 * The running sync keeps its own cursor and saves past them at its next range; until then the
 * stored cursor (`status` of a stopped sync, the cursor metric, `verify`/`archive`) is behind by
 * those blocks, which stay stored (a sync started afresh indexes them again, idempotently).
 * A rollback moves the cursor back in its own synchronous transaction ({@link rollbackTo}).
 * @throws DbIntegrityError when that block is not stored with that hash (a bug: the workflow
 *   only moves the cursor over committed batches); DbTransientError when Postgres is unreachable.
 */
export async function saveCursor(db: Kysely<Database>, chainId: number, cursor: Cursor): Promise<void> {
  if (cursor.blockHash === null) throw new DbIntegrityError(`chain ${chainId}: a cursor needs a block hash`);
  const hash = bytes(cursor.blockHash)!;
  let written: number;
  try {
    // One statement, its own transaction: set_config(…, true) lasts until that transaction ends,
    // and a commit follows the setting in effect when it commits (docs, synchronous_commit).
    const result = await sql`
      with async_commit as (select set_config('synchronous_commit', 'off', true))
      insert into cursors (chain_id, block_number, block_hash, updated_at)
      select ${chainId}, ${cursor.blockNumber}, ${hash}, now() from async_commit
      where exists (select 1 from blocks where chain_id = ${chainId} and number = ${cursor.blockNumber} and hash = ${hash})
      on conflict (chain_id) do update set block_number = excluded.block_number, block_hash = excluded.block_hash, updated_at = now()
    `.execute(db);
    written = Number(result.numAffectedRows ?? 0n);
  } catch (err) {
    throw classifyDbError(err, `saving the cursor of chain ${chainId} at block ${cursor.blockNumber}`);
  }
  if (written !== 1) {
    throw new DbIntegrityError(`chain ${chainId}: block ${cursor.blockNumber} with hash ${cursor.blockHash} is not stored; the cursor stays where it was`);
  }
}

/**
 * Hashes of the stored blocks `numbers` of chain `chainId`, as lower-case hex; missing blocks are absent.
 * @throws DbTransientError when Postgres is unreachable.
 */
export async function readStoredHashes(db: Kysely<Database>, chainId: number, numbers: readonly number[]): Promise<Map<number, string>> {
  if (numbers.length === 0) return new Map();
  try {
    const rows = await db.selectFrom('blocks').select(['number', 'hash']).where('chain_id', '=', chainId).where('number', 'in', [...numbers]).execute();
    return new Map(rows.map((r) => [r.number, hex(r.hash)]));
  } catch (err) {
    throw classifyDbError(err, `reading stored hashes of chain ${chainId}`);
  }
}

/**
 * The highest block number stored for chain `chainId`, or null when none is (what a chain that was
 * only backfilled, with no cursor, holds at most).
 * @throws DbTransientError when Postgres is unreachable.
 */
export async function highestStoredBlock(db: Kysely<Database>, chainId: number): Promise<number | null> {
  try {
    const row = await db.selectFrom('blocks').select((eb) => eb.fn.max('number').as('highest')).where('chain_id', '=', chainId).executeTakeFirst();
    return row?.highest === null || row?.highest === undefined ? null : Number(row.highest);
  } catch (err) {
    throw classifyDbError(err, `reading the highest stored block of chain ${chainId}`);
  }
}

/**
 * Rolls chain `chainId` back to `commonAncestor`: in ONE transaction deletes every block,
 * transaction, log and withdrawal above it and moves the cursor to it (or removes the cursor when
 * the ancestor is not stored, e.g. below the start block). The four tables' rows go in ONE
 * statement (data-modifying CTEs share its snapshot): a batch that commits while the rollback runs
 * is either deleted whole or left whole (the sync then rewrites it), never its logs without their
 * block, as four statements with a snapshot each allowed. Returns the number of blocks deleted.
 * @throws DbTransientError when Postgres is unreachable.
 */
export async function rollbackTo(db: Kysely<Database>, chainId: number, commonAncestor: Cursor): Promise<number> {
  try {
    return await db.transaction().execute(async (trx) => {
      const above = commonAncestor.blockNumber;
      // Tables in the order every writer locks them (logs, transactions, withdrawals, blocks: partitions.ts).
      const deleted = await sql`
        with l as (delete from logs where chain_id = ${chainId} and block_number > ${above}),
             t as (delete from transactions where chain_id = ${chainId} and block_number > ${above}),
             w as (delete from withdrawals where chain_id = ${chainId} and block_number > ${above})
        delete from blocks where chain_id = ${chainId} and number > ${above}`.execute(trx);
      if (commonAncestor.blockHash === null) {
        await trx.deleteFrom('cursors').where('chain_id', '=', chainId).execute();
      } else {
        await trx.updateTable('cursors').set({ block_number: commonAncestor.blockNumber, block_hash: bytes(commonAncestor.blockHash)! }).where('chain_id', '=', chainId).execute();
      }
      return Number(deleted.numAffectedRows ?? 0n);
    });
  } catch (err) {
    throw classifyDbError(err, `rolling chain ${chainId} back to block ${commonAncestor.blockNumber}`);
  }
}

/** A missing inclusive range, with the hashes it must link to: the stored block below (`belowHash`) and the `parentHash` of the stored block above. Null where nothing is stored. */
export type Gap = { from: number; to: number; belowHash: string | null; aboveParentHash: string | null };

/**
 * Missing ranges (gaps) of chain `chainId` between `from` and `to` inclusive: block numbers with
 * no stored block, as inclusive ranges in ascending order. Starts above the archived ranges that
 * cover `from` (`client archive`), which are not missing.
 * @throws DbTransientError when Postgres is unreachable.
 */
export async function findGaps(db: Kysely<Database>, chainId: number, lowest: number, to: number): Promise<Gap[]> {
  const from = await firstUnarchivedBlock(db, chainId, lowest);
  if (to < from) return [];
  try {
    const result = await sql<{ gap_from: number; gap_to: number; below_hash: Buffer | null; above_parent_hash: Buffer | null }>`
      with present as (
        select number, hash, parent_hash from blocks where chain_id = ${chainId} and number between ${from} and ${to}
        union all select ${from - 1}::bigint, null, null union all select ${to + 1}::bigint, null, null
      ), seams as (
        select number, hash, lead(number) over (order by number) as next, lead(parent_hash) over (order by number) as next_parent_hash from present
      )
      select number + 1 as gap_from, next - 1 as gap_to, hash as below_hash, next_parent_hash as above_parent_hash
      from seams where next > number + 1 order by number
    `.execute(db);
    const hex = (b: Buffer | null) => (b ? `0x${b.toString('hex')}` : null);
    return result.rows.map((r) => ({ from: Number(r.gap_from), to: Number(r.gap_to), belowHash: hex(r.below_hash), aboveParentHash: hex(r.above_parent_hash) }));
  } catch (err) {
    throw classifyDbError(err, `finding gaps of chain ${chainId}`);
  }
}
