import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { BlockRange } from '../domain/block-range.js';
import { DbTransientError, RpcBadResponseError } from '../errors.js';
import { pgPoolOf } from './connect.js';
import type { Database } from './database.js';
import { ensurePartitions } from './partitions.js';
import { BATCH_TABLES, type BatchRows } from './rows.js';
import type { ColumnTypes, EncodedRows } from './encoded-rows.js';
import { BINARY_TYPES, copyBinaryStream, copyBinaryTuples, copyText, CopyValueError } from './copy-format.js';
import { classifyDbError } from './sqlstate.js';

const UNIQUE_VIOLATION = '23505';

/**
 * Replaces everything stored for chain `chainId` in `range` (inclusive) with `rows`, in ONE
 * Postgres transaction: {@link writeBatch} with a single write.
 * @throws like writeBatch.
 */
export async function storeBatch(db: Kysely<Database>, chainId: number, range: BlockRange, rows: BatchRows): Promise<void> {
  await writeBatch(db, chainId, range, (write) => write(rows));
}

/**
 * Replaces everything stored for chain `chainId` in `range` (inclusive), in ONE Postgres
 * transaction, with the rows `produce` hands to `write` while it runs (a range is written while
 * its blocks are still arriving; memory holds only what is not written yet). Partitions are
 * created first (`ensurePartitions`); then the transaction deletes the range's logs,
 * transactions, withdrawals and blocks, and the rows `write` gets go in with `COPY … FROM STDIN`
 * (binary format, see copy-format.ts; pg-copy-streams).
 * Writes run one at a time in call order; each encodes its rows in COPY binary format at once,
 * and the encoded rows are written when about 1 MiB gathered (one COPY per table for many small
 * writes; in the background, one at a time: rows encoded while a COPY runs go out together in the
 * next, which starts when it ends) and at the end; block and withdrawal rows, a few per block,
 * wait for the end (or their own 1 MiB): one COPY each per range; `write` resolves when its rows
 * are encoded, or, when more than PENDING_LIMIT_BYTES (4 MiB, of every table) gathered while a
 * COPY runs, once that COPY ended (backpressure: a write waits for Postgres, not for each COPY
 * it is due). The transaction commits after `produce` resolved and every write landed; if `produce` or a write fails it rolls
 * back, so a retry, a concurrent duplicate attempt or a rewrite after a reorg leaves exactly one
 * copy, and a crash never leaves half a batch. The connection is taken before `produce` starts and
 * held until the end (take it before any shared limiter, never while holding one).
 * Columns are the keys of each table's first row (every row of a table has the same keys).
 * `produce` also gets `types`, the column types of the batch tables (read from the catalog once
 * per pool, again when a write meets a column it does not know), and `writeEncoded`, which writes rows already encoded for those columns
 * (`encodeRows`, the decode thread) the same way, its leftover `rows` through `write`, and calls
 * their `release` once the COPY that carried them ended, or when the transaction ended.
 * Invariant: after commit, every block in `range` that was written is stored with exactly its
 * transactions, logs and withdrawals.
 * @returns what `produce` returned.
 * @throws DbTransientError when the connection is lost or another writer committed the same
 *   blocks first (unique violation: the retry replaces them); whatever `produce` throws, unchanged
 *   when it is an IndexerError.
 */
export async function writeBatch<T>(
  db: Kysely<Database>,
  chainId: number,
  range: BlockRange,
  produce: (write: (rows: BatchRows) => Promise<void>, more: BatchWriter) => Promise<T>,
): Promise<T> {
  await ensurePartitions(db, chainId, range);
  const pool = pgPoolOf(db);
  let client: pg.PoolClient | undefined;
  let broken: Error | undefined;
  let queue: Promise<void> = Promise.resolve();
  let writeFailure: unknown;
  let settled = false; // produce returned or threw: later writes (stragglers of a failed range) are refused
  const pending = new PendingCopies();
  try {
    client = await pool.connect();
    const open = client;
    await open.query('begin');
    await open.query(rangeDeleteStatements(chainId, range).join('; ')); // one round trip
    const types = await catalogTypes(open, pool);
    /** Runs `add` after the writes before it, then starts a COPY or waits as the class says. */
    const enqueue = (add: () => Promise<void>): Promise<void> => {
      if (settled) return Promise.reject(new Error(`chain ${chainId} blocks ${range.from}–${range.to}: write after the batch ended`));
      const next = queue.then(async () => {
        if (writeFailure !== undefined) throw writeFailure;
        await add();
        if (pending.due) pending.kick(open);
        await pending.below(PENDING_LIMIT_BYTES);
      });
      queue = next.catch((err: unknown) => {
        writeFailure ??= err;
      });
      return next;
    };
    const write = (rows: BatchRows): Promise<void> =>
      enqueue(async () => {
        for (const table of BATCH_TABLES) await encodeRows(open, pool, pending, table, rows[table]);
      });
    const writeEncoded = (encoded: EncodedRows): Promise<void> =>
      enqueue(async () => {
        try {
          for (const { table, columns, start, end } of encoded.tables) {
            if (!pending.fits(table, columns)) await pending.write(open);
            pending.add(table, columns, [Buffer.from(encoded.tuples!, start, end - start)]);
          }
        } finally {
          // With the chunks held now (the last of these rows): run when they were written, or when the batch ends.
          if (encoded.release) pending.afterWritten(encoded.release);
        }
        for (const table of BATCH_TABLES) await encodeRows(open, pool, pending, table, encoded.rows[table] ?? []);
      });
    /** The stored blocks among `numbers`, read on this transaction's connection once the writes before it ended (read committed: other writers' commits count). */
    const storedLinks = async (numbers: readonly number[]): Promise<Map<number, { hash: string; parentHash: string }>> => {
      await queue;
      if (writeFailure !== undefined) throw writeFailure;
      await pending.written();
      const { rows } = await open.query<{ number: string; hash: string; parent_hash: string }>(
        `select number, '0x' || encode(hash, 'hex') as hash, '0x' || encode(parent_hash, 'hex') as parent_hash from blocks where chain_id = $1 and number = any($2::bigint[])`,
        [chainId, [...numbers]],
      );
      return new Map(rows.map((r) => [Number(r.number), { hash: r.hash, parentHash: r.parent_hash }]));
    };
    const result = await produce(write, { types, writeEncoded, storedLinks }).finally(() => {
      settled = true;
    });
    await queue;
    if (writeFailure !== undefined) throw writeFailure;
    await pending.write(open);
    await open.query('commit');
    return result;
  } catch (err) {
    settled = true;
    await queue;
    await pending.settled(); // never roll back under a COPY in progress
    if (client) {
      await client.query('rollback').catch((rollbackErr: unknown) => {
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr)); // the connection is gone: drop it
      });
    }
    if ((err as { code?: string }).code === UNIQUE_VIOLATION) {
      throw new DbTransientError(
        `chain ${chainId} blocks ${range.from}–${range.to}: another writer stored these blocks at the same time; the retry replaces them`,
        { cause: err },
      );
    }
    throw classifyDbError(err, `storing chain ${chainId} blocks ${range.from}–${range.to}`);
  } finally {
    pending.releaseAll(); // committed or rolled back: no COPY reads the chunks any more
    client?.release(broken);
  }
}

/** Bytes of encoded rows a range holds before it writes them (one COPY per table for many light JSON-RPC batches). */
export const COPY_FLUSH_BYTES = 2 ** 20;
/**
 * Bytes of encoded rows a range may hold unwritten while a COPY runs before its next write waits
 * (backpressure on fetching: the waiting batch keeps its fetch slot). Rows that gather while a
 * COPY runs go out together in the next one, so a range's writes grow as Postgres falls behind.
 */
export const PENDING_LIMIT_BYTES = 4 * COPY_FLUSH_BYTES;

/**
 * Tables with few rows per block (one block row, up to 16 withdrawals): a range holds their
 * encoded rows until it ends, or until COPY_FLUSH_BYTES of them gathered, and writes them then
 * with one COPY each, rather than one small COPY per write of the other tables (each statement
 * costs Postgres its set-up whatever its size: about 1 ms for 11 block rows, as for 100).
 */
const HELD_TABLES: ReadonlySet<string> = new Set(['blocks', 'withdrawals']);

/**
 * Rows encoded in COPY binary format and not written yet, per table, with their columns: a range
 * encodes each JSON-RPC batch's rows as they arrive (the parsed blocks are then free) and writes
 * them with one COPY per table once about COPY_FLUSH_BYTES have gathered, or at its end, so many
 * small batches (light chains) cost one statement per table, not one each. One write runs at a
 * time on the range's connection, in the background; rows encoded meanwhile gather and go out in
 * the next write, which starts as soon as the running one ends. A batch waits only when more than
 * PENDING_LIMIT_BYTES gathered while a write runs (Postgres is slower than fetching).
 */
class PendingCopies {
  private tables = new Map<string, { columns: string[]; chunks: Buffer[] }>();
  /** What gives back the memory of the chunks held (EncodedRows.release), run once their COPY ended. */
  private releases: (() => void)[] = [];
  /** Releases of chunks a failed write carried, or that were never written: run when the batch ends. */
  private leftover: (() => void)[] = [];
  /** The write running, or the last one. */
  private writing: Promise<void> = Promise.resolve();
  private running = false;
  /** What a write threw: every later call throws it. */
  private failure: { error: unknown } | undefined;
  /** Encoded bytes held of the tables not in HELD_TABLES (what a write is due on). */
  bytes = 0;
  /** Encoded bytes held of the HELD_TABLES. */
  private heldBytes = 0;

  /** Whether a write is due: COPY_FLUSH_BYTES held of the other tables, or of the HELD_TABLES. */
  get due(): boolean {
    return this.bytes >= COPY_FLUSH_BYTES || this.heldBytes >= COPY_FLUSH_BYTES;
  }

  /** Whether `columns` of `table` can join what is held (the same columns, in the same order). */
  fits(table: string, columns: readonly string[]): boolean {
    const held = this.tables.get(table);
    return held === undefined || (held.columns.length === columns.length && held.columns.every((c, i) => c === columns[i]));
  }

  /**
   * Holds `chunks` (encoded tuples of `table`, from copyBinaryTuples or views of a decode arena).
   * Those of the HELD_TABLES are copied: they outlive the write their answer's `release` waits for.
   */
  add(table: string, columns: string[], chunks: Buffer[]): void {
    let held = this.tables.get(table);
    if (!held) this.tables.set(table, (held = { columns, chunks: [] }));
    const kept = HELD_TABLES.has(table);
    for (const chunk of chunks) {
      held.chunks.push(kept ? Buffer.from(chunk) : chunk);
      if (kept) this.heldBytes += chunk.length;
      else this.bytes += chunk.length;
    }
  }

  /** Runs `release` once the chunks held now were written (their COPY ended), or when the batch ends ({@link releaseAll}). */
  afterWritten(release: () => void): void {
    this.releases.push(release);
  }

  /**
   * Runs every release not run yet: for chunks a failed write carried or that were never written.
   * Call it when the batch's transaction ended (committed or rolled back: nothing reads the chunks
   * any more, not even a socket write of a COPY that failed).
   */
  releaseAll(): void {
    const all = [...this.leftover, ...this.releases];
    this.leftover = [];
    this.releases = [];
    for (const release of all) release();
  }

  /**
   * Starts writing what is held (one `COPY … FROM STDIN (format binary)` per table, in
   * BATCH_TABLES order) unless a write runs, without waiting for it; the HELD_TABLES only with
   * `all` or once COPY_FLUSH_BYTES of them gathered. When a write ends with another due
   * ({@link due}), the next starts at once.
   */
  kick(client: pg.PoolClient, all = false): void {
    const withHeld = all || this.heldBytes >= COPY_FLUSH_BYTES;
    if (this.running || this.failure || this.bytes + (withHeld ? this.heldBytes : 0) === 0) return;
    const tables = this.tables;
    const releases = this.releases;
    this.tables = new Map();
    if (withHeld) this.heldBytes = 0;
    else {
      for (const table of HELD_TABLES) {
        const held = tables.get(table);
        if (held) {
          this.tables.set(table, held); // copies (add): the releases may run
          tables.delete(table);
        }
      }
    }
    this.releases = [];
    this.bytes = 0;
    this.running = true;
    this.writing = copyTables(client, tables).then(
      () => {
        for (const release of releases) release(); // Postgres has every byte: the COPY ended
        this.running = false;
        if (this.due) this.kick(client);
      },
      (error: unknown) => {
        this.leftover.push(...releases);
        this.running = false;
        this.failure = { error };
      },
    );
  }

  /** Waits until no write runs. @throws what a write threw. */
  async written(): Promise<void> {
    while (this.running) await this.writing;
    if (this.failure) throw this.failure.error;
  }

  /** Waits while a write runs and more than `limit` bytes are held (of every table). @throws what a write threw. */
  async below(limit: number): Promise<void> {
    while (this.running && this.bytes + this.heldBytes > limit) await this.writing;
    if (this.failure) throw this.failure.error;
  }

  /** Writes everything held (the HELD_TABLES too) and waits until every write ended. @throws what a write threw. */
  async write(client: pg.PoolClient): Promise<void> {
    await this.written();
    this.kick(client, true);
    await this.written();
  }

  /** Resolves when no write runs, whatever the outcome (before a rollback). */
  async settled(): Promise<void> {
    await this.written().catch(() => undefined);
  }
}

/** One `COPY … FROM STDIN (format binary)` per table of `tables`, in BATCH_TABLES order. */
async function copyTables(client: pg.PoolClient, tables: ReadonlyMap<string, { columns: string[]; chunks: Buffer[] }>): Promise<void> {
  for (const table of BATCH_TABLES) {
    const held = tables.get(table);
    if (!held) continue;
    const list = held.columns.map((c) => `"${c}"`).join(', ');
    await pipeline(
      Readable.from(copyBinaryStream(held.chunks)),
      client.query(copyFrom(`copy ${table} (${list}) from stdin with (format binary)`)),
    );
  }
}

/**
 * Adds `rows` of `table` to `pending` in COPY binary format when every column's type is one the
 * binary encoder writes; otherwise writes what is pending, then these rows at once with a COPY in
 * text format. Columns are the keys of the first row.
 * @throws RpcBadResponseError when hex data a node sent is not hex (bad input, retried like any
 *   response that fails validation); TypeError for a value that does not fit its column (a bug).
 */
async function encodeRows(client: pg.PoolClient, pool: pg.Pool, pending: PendingCopies, table: string, rows: readonly object[]): Promise<void> {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!);
  // A catalog lookup waits behind a running COPY; if that COPY failed, its error is the one to report.
  const types = await columnTypes(client, pool, table, columns, () => pending.written());
  try {
    if (types.every((t) => BINARY_TYPES.has(t))) {
      if (!pending.fits(table, columns)) await pending.write(client);
      pending.add(table, columns, copyBinaryTuples(rows, columns, types));
    } else {
      await pending.write(client);
      const list = columns.map((c) => `"${c}"`).join(', ');
      await pipeline(Readable.from(copyText(rows, columns, types)), client.query(copyFrom(`copy ${table} (${list}) from stdin`)));
    }
  } catch (err) {
    if (err instanceof CopyValueError && err.nodeData) throw new RpcBadResponseError(`${table}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** What `writeBatch` gives `produce` besides `write`. */
export type BatchWriter = {
  /** Column types of the batch tables, by table and column (`udt_name`), as the pool's cached catalog read gave them. */
  types: ColumnTypes;
  /** Writes rows encoded for `types` (`encodeRows`), and their leftover rows, like `write`. */
  writeEncoded(rows: EncodedRows): Promise<void>;
  /**
   * The stored blocks of the chain among `numbers` (block numbers), each with its hash and parent
   * hash (lowercase 0x-hex), by block number; numbers not stored are absent. Read on the batch's
   * own connection after the writes before it (a second connection could wait for a pool that the
   * batches waiting on it have filled). What a backfill's edges must link to.
   */
  storedLinks(numbers: readonly number[]): Promise<Map<number, { hash: string; parentHash: string }>>;
};

/** Column types (udt names) per table, read once per pool from information_schema. */
const typesByPool = new WeakMap<pg.Pool, Map<string, Map<string, string>>>();

/** Column types of every batch table (as {@link columnTypes} reads and caches them), as a plain object. */
async function catalogTypes(client: pg.PoolClient, pool: pg.Pool): Promise<ColumnTypes> {
  if (!typesByPool.has(pool)) await columnTypes(client, pool, 'blocks', ['number'], async () => {});
  const types: Record<string, Record<string, string>> = {};
  for (const [table, columns] of typesByPool.get(pool) ?? []) types[table] = Object.fromEntries(columns);
  return types;
}

/**
 * Types (udt names) of `columns` of `table`; '' for a column the catalog does not know (COPY then
 * uses the text format and Postgres names the column). Reads the catalog again once when a column
 * is missing (a migration ran). `beforeQuery` runs before a catalog read (it waits for the
 * connection's running COPY and throws its error).
 */
async function columnTypes(client: pg.PoolClient, pool: pg.Pool, table: string, columns: readonly string[], beforeQuery: () => Promise<void>): Promise<string[]> {
  let tables = typesByPool.get(pool);
  for (let attempt = 0; attempt < 2; attempt++) {
    if (!tables || (attempt === 1)) {
      await beforeQuery();
      const result = await client.query<{ table_name: string; column_name: string; udt_name: string }>(
        `select table_name, column_name, udt_name from information_schema.columns where table_schema = current_schema() and table_name = any($1)`,
        [[...BATCH_TABLES]],
      );
      tables = new Map();
      for (const r of result.rows) {
        if (!tables.has(r.table_name)) tables.set(r.table_name, new Map());
        tables.get(r.table_name)!.set(r.column_name, r.udt_name);
      }
      typesByPool.set(pool, tables);
    }
    const known = tables.get(table);
    const types = columns.map((c) => known?.get(c));
    if (types.every((t) => t !== undefined)) return types as string[];
  }
  return columns.map((c) => tables?.get(table)?.get(c) ?? '');
}

/**
 * The four DELETEs that clear `range` (inclusive block numbers) of chain `chainId` before a batch
 * is written, in the order they lock the tables (logs, transactions, withdrawals, blocks; the
 * partition creator follows it too). Block numbers and the chain id are validated safe integers,
 * so they are inlined: `storeBatch` sends the four as one round trip. Pure.
 */
export function rangeDeleteStatements(chainId: number, range: BlockRange): string[] {
  const where = `chain_id = ${chainId} and block_number between ${range.from} and ${range.to}`;
  return [
    `delete from logs where ${where}`,
    `delete from transactions where ${where}`,
    `delete from withdrawals where ${where}`,
    `delete from blocks where chain_id = ${chainId} and number between ${range.from} and ${range.to}`,
  ];
}
