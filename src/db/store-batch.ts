import { createHash } from 'node:crypto';
import net from 'node:net';
import { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import { from as copyFrom, type CopyStreamQuery } from 'pg-copy-streams';
import type { BlockRange } from '../domain/block-range.js';
import { DbTransientError, RpcBadResponseError } from '../errors.js';
import { pgPoolOf } from './connect.js';
import type { Database } from './database.js';
import { HeldRows } from './held-rows.js';
import { ensurePartitions } from './partitions.js';
import { BATCH_TABLES, type BatchRows } from './rows.js';
import type { ColumnTypes, EncodedRows } from './encoded-rows.js';
import { BINARY_HEADER, BINARY_TRAILER, BINARY_TYPES, copyBinaryStream, copyBinaryTuples, copyText, CopyValueError } from './copy-format.js';
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
 * Writes run one at a time in call order, each encoding its rows in COPY binary format at once:
 * transaction rows go into one COPY kept open while the range's rows arrive (Postgres stores them
 * as they come), and the block, log and withdrawal rows are held (copied into reused slabs,
 * ./held-rows.ts) and written with one COPY each at the end, or whenever HELD_LIMIT_BYTES (16 MiB)
 * of them gathered, the open COPY ended first (one statement at a time on a connection). `write`
 * resolves when its rows are encoded and handed over, or, when more than PENDING_LIMIT_BYTES (4 MiB)
 * of transaction rows wait for the socket, once they no longer do (backpressure: a write waits for
 * Postgres, not for each COPY). The transaction commits after `produce` resolved and every write landed; if `produce` or a write fails it rolls
 * back (writes still queued are refused at once; a statement that waits, e.g. on another
 * transaction's lock, is cancelled after ABORT_GRACE_MS, and the connection dropped if it then
 * still does not answer), so a retry, a concurrent duplicate attempt or a rewrite after a reorg leaves exactly one
 * copy, and a crash never leaves half a batch. The connection is taken before `produce` starts and
 * held until the end (take it before any shared limiter, never while holding one).
 * Columns are the keys of each table's first row (every row of a table has the same keys).
 * `produce` also gets `types`, the column types of the batch tables (read from the catalog once
 * per pool, again when a write meets a column it does not know), and `writeEncoded`, which writes rows already encoded for those columns
 * (`encodeRows`, the decode thread) the same way, its leftover `rows` through `write`, and calls
 * their `release` once the socket no longer reads their transaction tuples (the others are copied
 * at once), or when the transaction ended.
 * Invariant: after commit, every block in `range` that was written is stored with exactly its
 * transactions, logs and withdrawals.
 * With `options.attempt` the transaction carries the attempt's application_name
 * ({@link batchApplicationName}), and a later attempt first ends the sessions of the earlier ones
 * ({@link stopEarlierAttempts}; `onStopped` hears of those it ended, `onStopFailed` of a refusal):
 * an attempt Temporal gave up on (its worker frozen, or cut off from Temporal) may still hold its transaction open, and with it the locks of the rows it wrote, on
 * which every later attempt's COPY would wait for as long as that session lives (hours for a
 * silent network partition, forever for a stopped process).
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
  options: { attempt?: BatchAttempt; onStopped?: (stopped: StoppedAttempt[]) => void; onStopFailed?: (err: unknown) => void } = {},
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
    // No statement timeout in the batch: its transaction rows' COPY stays open while the range's blocks arrive.
    const { attempt } = options;
    if (attempt && attempt.number > 1) {
      // Refused (privileges), the attempt goes on, and waits for their locks as before: said, not thrown.
      const stopped = await stopEarlierAttempts(open, attempt).catch((err: unknown) => {
        options.onStopFailed?.(err);
        return [];
      });
      if (stopped.length > 0) options.onStopped?.(stopped);
    }
    await open.query(batchQuery(`begin; set local statement_timeout = 0${attempt ? `; set local application_name = '${batchApplicationName(attempt)}'` : ''}`));
    await open.query(batchQuery(rangeDeleteStatements(chainId, range).join('; '))); // one round trip
    const types = await catalogTypes(open, pool);
    /** Runs `add` after the writes before it (one at a time, in call order). */
    const enqueue = (add: () => Promise<void>): Promise<void> => {
      if (settled) return Promise.reject(new Error(`chain ${chainId} blocks ${range.from}–${range.to}: write after the batch ended`));
      const next = queue.then(async () => {
        if (writeFailure !== undefined) throw writeFailure;
        await add();
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
    const writeEncoded = (encoded: EncodedRows): Promise<void> => {
      const release = encoded.release;
      if (release) {
        if (settled) release(); // refused below: nothing will read it
        else pending.own(release); // run at the latest when the batch ends, whatever happens to this write
      }
      return enqueue(async () => {
        // The held tables' tuples are copied first: once the streamed ones went out, `release` may
        // run and the memory be reused (the socket's callback can run while `stream` waits).
        let streamed: EncodedRows['tables'][number] | undefined;
        for (const encodedTable of encoded.tables) {
          const { table, columns, start, end } = encodedTable;
          if (table === STREAMED_TABLE) streamed = encodedTable;
          else {
            if (!pending.fits(table, columns)) await pending.write(open);
            pending.hold(table, columns, [Buffer.from(encoded.tuples!, start, end - start)]);
          }
        }
        if (streamed) await pending.stream(open, STREAMED_TABLE, streamed.columns, Buffer.from(encoded.tuples!, streamed.start, streamed.end - streamed.start), release);
        else if (release) pending.runRelease(release);
        if (pending.heldBytes >= HELD_LIMIT_BYTES) await pending.write(open);
        for (const table of BATCH_TABLES) await encodeRows(open, pool, pending, table, encoded.rows[table] ?? []);
      });
    };
    /** The stored blocks among `numbers`, read on this transaction's connection after the writes before it (in their queue: read committed, other writers' commits count). */
    const storedLinks = async (numbers: readonly number[]): Promise<Map<number, { hash: string; parentHash: string }>> => {
      let links = new Map<number, { hash: string; parentHash: string }>();
      await enqueue(async () => {
        await pending.endStream(); // a query cannot run beside an open COPY
        const { rows } = await open.query<{ number: string; hash: string; parent_hash: string }>(
          batchQuery(`select number, '0x' || encode(hash, 'hex') as hash, '0x' || encode(parent_hash, 'hex') as parent_hash from blocks where chain_id = $1 and number = any($2::bigint[])`, [chainId, [...numbers]]),
        );
        links = new Map(rows.map((r) => [Number(r.number), { hash: r.hash, parentHash: r.parent_hash }]));
      });
      return links;
    };
    const result = await produce(write, { types, writeEncoded, storedLinks }).finally(() => {
      settled = true;
    });
    await queue;
    if (writeFailure !== undefined) throw writeFailure;
    await pending.write(open);
    await open.query(batchQuery('commit'));
    return result;
  } catch (err) {
    settled = true;
    pending.abort(err); // queued writes stop at once instead of waiting for Postgres
    // Never roll back under a COPY in progress. A statement waiting on another transaction's lock
    // (no statement timeout in a batch) is cancelled after a grace period; a connection that still
    // does not answer is dropped.
    const quiet = (async () => {
      await queue;
      await pending.settled();
    })();
    let cancelled = false;
    if (client && !(await settlesWithin(quiet, ABORT_GRACE_MS))) {
      cancelBackend(client);
      cancelled = true;
      if (!(await settlesWithin(quiet, ABORT_GRACE_MS))) {
        broken = new Error(`chain ${chainId} blocks ${range.from}–${range.to}: the connection did not answer a cancel request`);
        destroySocket(client);
      }
    }
    await quiet;
    if (client && !broken) {
      await client.query(batchQuery('rollback')).catch((rollbackErr: unknown) => {
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr)); // the connection is gone: drop it
      });
    }
    // A cancel request may still be on its way: the connection is not reused (it would cancel the next statement).
    if (cancelled && !broken) broken = new Error(`chain ${chainId} blocks ${range.from}–${range.to}: a cancel request was sent on this connection`);
    if (broken && client) destroySocket(client); // nothing may read the chunks after releaseAll
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

/**
 * The table whose tuples stream into one `COPY … FROM STDIN` kept open while a range's answers
 * arrive (the most bytes per block: 2.4 of 3.5 MB per 11 mainnet blocks), so a range costs
 * Postgres one such statement instead of one per JSON-RPC answer or two (each statement costs
 * Postgres its set-up, and a PostgreSQL 15 COPY creates its tuple slots anew).
 */
const STREAMED_TABLE = 'transactions';
/**
 * One attempt of one batch: `key` names the batch, the same for every attempt of one activity (16
 * lower-case hex digits, {@link batchAttemptKey}), `number` is Temporal's attempt (1, 2, …).
 */
export type BatchAttempt = { key: string; number: number };

/** A session {@link stopEarlierAttempts} ended: its backend pid and its application_name. */
export type StoppedAttempt = { pid: number; applicationName: string };

/** What every batch transaction's application_name starts with (then the key, `:` and the attempt). */
const BATCH_APPLICATION_PREFIX = 'evm-indexer:batch:';

/**
 * The key of a batch's attempts: the first 16 hex digits of the SHA-256 of `<workflow id>/<run
 * id>/<activity id>` (Temporal's ids of the activity, the same for all its attempts), so its
 * application_name stays within Postgres's 63 bytes. Pure.
 * @example batchAttemptKey('chain-sync:1', 'run', '5').length // 16
 */
export function batchAttemptKey(workflowId: string, runId: string, activityId: string): string {
  return createHash('sha256').update(`${workflowId}/${runId}/${activityId}`).digest('hex').slice(0, 16);
}

/**
 * The application_name of a batch transaction of `attempt`: `evm-indexer:batch:<key>:<number>`
 * (what `pg_stat_activity` shows while it runs). Pure.
 * @throws RangeError when the key is not 16 hex digits or the number not a positive integer (it goes into a SET).
 */
export function batchApplicationName(attempt: BatchAttempt): string {
  if (!/^[0-9a-f]{16}$/.test(attempt.key) || !Number.isSafeInteger(attempt.number) || attempt.number < 1) {
    throw new RangeError(`a batch attempt needs a key of 16 hex digits and a number ≥ 1, got ${JSON.stringify(attempt)}`);
  }
  return `${BATCH_APPLICATION_PREFIX}${attempt.key}:${attempt.number}`;
}

/**
 * Ends (`pg_terminate_backend`) the sessions of this database whose transaction belongs to an
 * earlier attempt (a lower number) of `attempt`'s batch: their transactions roll back and their locks go. Temporal
 * runs a new attempt only once it gave up on the one before, so such a session is one nobody
 * waits for. Needs the privileges of the sessions' role (the same role: any Postgres user may
 * signal its own sessions).
 * @returns the sessions ended.
 * @throws pg's error when Postgres refuses (without those privileges: `permission denied to terminate process`).
 */
export async function stopEarlierAttempts(client: pg.ClientBase, attempt: BatchAttempt): Promise<StoppedAttempt[]> {
  batchApplicationName(attempt); // checks the key and number
  // Only lower attempt numbers: an earlier attempt that starts late (its worker froze between
  // taking the task and running it) must not end the later one that does the work.
  const { rows } = await client.query<{ pid: number; application_name: string; stopped: boolean }>(batchQuery(
    `select pid, application_name, pg_terminate_backend(pid) as stopped from pg_stat_activity
      where datname = current_database() and pid <> pg_backend_pid()
        and case when application_name ~ $1 then split_part(application_name, ':', 4)::int < $2 else false end`,
    [`^${BATCH_APPLICATION_PREFIX}${attempt.key}:[0-9]{1,9}$`, attempt.number],
  ));
  return rows.filter((r) => r.stopped).map((r) => ({ pid: r.pid, applicationName: r.application_name }));
}

/**
 * Bytes of encoded rows of the other tables (blocks, logs, withdrawals) a range holds, copied,
 * before it writes them (ending its streamed COPY for as long): one COPY each per range of up to
 * about 140 mainnet blocks (logs ≈ 0.11 MB per block).
 */
export const HELD_LIMIT_BYTES = 16 * 2 ** 20;
/**
 * Bytes of streamed tuples a range may have written to its COPY and not yet handed to the socket
 * (Postgres is slower than fetching) before its next write waits: backpressure on fetching (the
 * waiting batch keeps its fetch slot).
 */
export const PENDING_LIMIT_BYTES = 4 * 2 ** 20;

/** pg-copy-streams' CopyStreamQuery (7.0.0, pinned) as it is inside: the connection while the COPY runs, and the method writing one chunk. */
type CopyStreamInternals = CopyStreamQuery & {
  connection: { stream: { write(chunk: Uint8Array, done?: (err?: Error | null) => void): boolean } } | null;
  flushChunk(chunk: Buffer): boolean;
};
const CopyStreamQueryClass = Object.getPrototypeOf(copyFrom('copy x from stdin')).constructor as new (text: string) => CopyStreamInternals;

/**
 * A `COPY … FROM STDIN` whose chunks say when the socket handed them to the kernel: `send` takes a
 * callback per chunk, run from the socket's write callback (Node calls it once libuv no longer
 * reads the chunk's memory, also when the socket failed). A chunk that is dropped (the COPY
 * destroyed before it went out) never runs its callback: the batch's end runs what is left.
 */
class StreamedCopy extends CopyStreamQueryClass {
  private readonly flushed = new Map<Buffer, () => void>();
  /**
   * pg's read timeout for this query: none ({@link NO_READ_TIMEOUT_MS}).
   */
  readonly query_timeout = NO_READ_TIMEOUT_MS;

  /** Writes `chunk` as CopyData; `done` runs once the socket no longer reads it. @returns like Writable.write. */
  send(chunk: Buffer, done: () => void): boolean {
    this.flushed.set(chunk, done);
    return this.write(chunk);
  }

  override flushChunk(chunk: Buffer): boolean {
    const done = this.flushed.get(chunk);
    this.flushed.delete(chunk);
    const connection = this.connection;
    if (!connection) {
      done?.(); // the COPY failed: nothing goes out any more
      return true;
    }
    const header = Buffer.allocUnsafe(5);
    header[0] = 0x64; // CopyData
    header.writeUInt32BE(chunk.length + 4, 1);
    connection.stream.write(header);
    return connection.stream.write(chunk, done && (() => done()));
  }
}

/** A streamed COPY in progress: its columns, the query, what settles when it ended, and whether it failed. */
type OpenCopy = { columns: string[]; copy: StreamedCopy; ended: Promise<void>; failed: boolean };

/**
 * pg's read timeout for a batch's statements (`query_timeout`, which a database URL may set for
 * every query): none, as good as (setTimeout's longest, in ms). A batch's COPYs last as long as
 * its range's fetching, or its held rows' writing; the activity's timeouts bound them.
 */
const NO_READ_TIMEOUT_MS = 2 ** 31 - 1;

/** `COPY <table> (<columns>) FROM STDIN` in COPY's binary or text format. */
function copyStatement(table: string, columns: readonly string[], format: 'binary' | 'text'): string {
  const list = columns.map((c) => `"${c}"`).join(', ');
  return `copy ${table} (${list}) from stdin${format === 'binary' ? ' with (format binary)' : ''}`;
}

/** A pg-copy-streams COPY FROM STDIN of `statement`, as a query of a batch (without pg's read timeout). */
function copyInto(statement: string): CopyStreamQuery {
  return Object.assign(copyFrom(statement), { query_timeout: NO_READ_TIMEOUT_MS });
}

/** Closes `client`'s socket at once (no Terminate after what is queued): nothing it queued is read any more. */
function destroySocket(client: pg.PoolClient): void {
  (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
}

/** `text` (and `values`) as a query of a batch: without pg's read timeout ({@link NO_READ_TIMEOUT_MS}). */
function batchQuery(text: string, values?: unknown[]): pg.QueryConfig {
  return { text, ...(values ? { values } : {}), query_timeout: NO_READ_TIMEOUT_MS } as pg.QueryConfig;
}

/**
 * Asks Postgres to cancel what `client`'s backend runs now: the protocol's CancelRequest (16
 * bytes: length, code 80877102, the backend's process id and secret key; PostgreSQL frontend/backend
 * protocol 3.0, "Canceling Requests in Progress") on a connection of its own, as
 * `pg_cancel_backend` would. A COPY waiting on another transaction's lock while the batch failed
 * stops with 57014, and the bytes still queued in the socket are read and dropped. Sent in
 * plaintext (Postgres takes cancel requests without TLS); failures are ignored, and the socket is
 * destroyed after ABORT_GRACE_MS whatever happens (it never keeps the process alive). The caller
 * must not reuse `client`: a request that arrives late would cancel its next statement.
 */
function cancelBackend(client: pg.PoolClient): void {
  const { host, port, processID, secretKey } = client as unknown as { host: string; port: number; processID: number | null; secretKey: number | null };
  if (processID === null || secretKey === null) return;
  const request = Buffer.alloc(16);
  request.writeInt32BE(16, 0);
  request.writeInt32BE(80877102, 4);
  request.writeInt32BE(processID, 8);
  request.writeInt32BE(secretKey, 12);
  const socket = host.startsWith('/') ? net.connect(`${host}/.s.PGSQL.${port}`) : net.connect(port, host);
  const timer = setTimeout(() => socket.destroy(), ABORT_GRACE_MS);
  timer.unref();
  socket.unref();
  socket.on('error', () => undefined);
  socket.on('close', () => clearTimeout(timer));
  socket.on('connect', () => socket.end(request));
}

/** Resolves to whether `promise` settled within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** How long a failed batch waits for its statement in progress before it cancels it, and again before it drops the connection, in ms. */
export const ABORT_GRACE_MS = 2_000;

/** Whether two column lists are the same columns in the same order. */
function sameColumns(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((c, i) => c === b[i]);
}

/**
 * A range's COPYs on its connection. Tuples of the STREAMED_TABLE go into one `COPY … FROM STDIN
 * (format binary)` kept open while the range's answers arrive (Postgres stores them as they come);
 * the other tables' tuples are copied and held, and written with one COPY each at the range's end,
 * or once HELD_LIMIT_BYTES of them gathered (the streamed COPY ends first: one statement at a
 * time on a connection; the next streamed tuples open another). A write waits while more than
 * PENDING_LIMIT_BYTES of streamed tuples are not handed to the socket yet (Postgres is slower
 * than fetching). Each answer's `release` (its memory in the tuple arena) runs once the socket
 * no longer reads its streamed tuples, or when the batch ends.
 */
class PendingCopies {
  private held = new Map<string, HeldRows>();
  /** Encoded bytes held (copies) of the tables other than the STREAMED_TABLE. */
  heldBytes = 0;
  /** The streamed COPY running, if any, with its columns and what settles when it ended. */
  private open: OpenCopy | undefined;
  /** Streamed bytes written and not handed to the socket yet. */
  private unsent = 0;
  private wakeups: (() => void)[] = [];
  /** Releases not run yet (run at the latest by {@link releaseAll}). */
  private outstanding = new Set<() => void>();
  /** What a COPY threw: every later call throws it. */
  private failure: { error: unknown } | undefined;
  /** The held rows a write of them is copying now (or failed copying: freed when the batch ends). */
  private writing: Map<string, HeldRows> | undefined;

  /** Throws what a COPY threw, if one did. */
  check(): void {
    if (this.failure) throw this.failure.error;
  }

  /** Whether `columns` of held `table` can join what is held (the same columns, in the same order). */
  fits(table: string, columns: readonly string[]): boolean {
    const held = this.held.get(table);
    return held === undefined || sameColumns(held.columns, columns);
  }

  /** Holds a copy of `chunks` (encoded tuples of `table`, not the STREAMED_TABLE), in slabs (./held-rows.ts). */
  hold(table: string, columns: string[], chunks: readonly Uint8Array[]): void {
    let held = this.held.get(table);
    if (!held) this.held.set(table, (held = new HeldRows(columns)));
    for (const chunk of chunks) {
      held.append(chunk);
      this.heldBytes += chunk.length;
    }
  }

  /**
   * Writes `chunk` (encoded tuples of `table`, the STREAMED_TABLE) to the range's streamed COPY,
   * opening one for `columns` (ending the running one first if its columns differ); `release`
   * runs once the socket no longer reads it. Waits while more than PENDING_LIMIT_BYTES are not
   * handed to the socket. @throws what a COPY threw.
   */
  async stream(client: pg.PoolClient, table: string, columns: string[], chunk: Buffer, release?: () => void): Promise<void> {
    this.check();
    if (this.open && !sameColumns(this.open.columns, columns)) await this.endStream();
    const open = this.open ?? this.startStream(client, table, columns);
    if (release) this.own(release);
    this.unsent += chunk.length;
    open.copy.send(chunk, () => {
      this.unsent -= chunk.length;
      if (release) this.runRelease(release);
      this.wake();
    });
    while (!this.failure && this.unsent > PENDING_LIMIT_BYTES) await new Promise<void>((resolve) => this.wakeups.push(resolve));
    this.check();
  }

  /** Takes `release` into the batch's keeping: it runs once (by {@link runRelease}, or at the latest by {@link releaseAll}). */
  own(release: () => void): void {
    this.outstanding.add(release);
  }

  /** Runs `release` unless it ran already. */
  runRelease(release: () => void): void {
    if (this.outstanding.delete(release)) release();
  }

  private wake(): void {
    const wakeups = this.wakeups;
    this.wakeups = [];
    for (const wake of wakeups) wake();
  }

  private startStream(client: pg.PoolClient, table: string, columns: string[]): OpenCopy {
    const copy = new StreamedCopy(copyStatement(table, columns, 'binary'));
    const open: OpenCopy = { columns, copy, ended: finished(copy), failed: false };
    open.ended.catch((error: unknown) => {
      open.failed = true;
      this.failure ??= { error };
      this.wake();
    });
    client.query(copy);
    copy.write(BINARY_HEADER);
    this.open = open;
    return open;
  }

  /**
   * Ends the streamed COPY, if one runs, and waits until Postgres stored its rows. After a failure
   * (or {@link abort}) it leaves the COPY to {@link settled}. @throws what a COPY threw, or the abort's error.
   */
  async endStream(): Promise<void> {
    const open = this.open;
    if (open && !this.failure) {
      this.open = undefined;
      open.copy.end(BINARY_TRAILER);
      await open.ended.catch(() => undefined);
    }
    this.check();
  }

  /** Makes every write from now on, and every write waiting for the socket, throw `error` (the batch failed: what is queued must not wait for Postgres). */
  abort(error: unknown): void {
    this.failure ??= { error };
    this.wake();
  }

  /** Ends the streamed COPY and writes what is held (one COPY per table, in BATCH_TABLES order). @throws what a COPY threw. */
  async write(client: pg.PoolClient): Promise<void> {
    await this.endStream();
    const held = this.held;
    this.held = new Map();
    this.heldBytes = 0;
    this.writing = held;
    try {
      await copyTables(client, held);
    } catch (error) {
      this.failure ??= { error };
      throw error;
    }
    this.writing = undefined;
    for (const rows of held.values()) rows.free(); // Postgres has every byte: the COPY ended
  }

  /** Ends the streamed COPY without storing it (CopyFail) and waits until it ended, whatever the outcome (before a rollback). */
  async settled(): Promise<void> {
    const open = this.open;
    this.open = undefined;
    if (open && !open.failed) {
      open.copy.destroy(new Error('the batch failed'));
      await open.ended.catch(() => undefined);
    }
  }

  /** Runs every release not run yet and frees the slabs held. Call it when the batch's transaction ended (nothing reads the chunks any more). */
  releaseAll(): void {
    for (const rows of [...this.held.values(), ...(this.writing?.values() ?? [])]) rows.free();
    this.held = new Map();
    this.writing = undefined;
    const all = [...this.outstanding];
    this.outstanding.clear();
    for (const release of all) release();
  }
}

/** One `COPY … FROM STDIN (format binary)` per table of `tables`, in BATCH_TABLES order. */
async function copyTables(client: pg.PoolClient, tables: ReadonlyMap<string, HeldRows>): Promise<void> {
  for (const table of BATCH_TABLES) {
    const held = tables.get(table);
    if (!held) continue;
    await pipeline(Readable.from(copyBinaryStream(held.chunks())), client.query(copyInto(copyStatement(table, held.columns, 'binary'))));
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
  // A catalog lookup cannot run beside an open COPY; if that COPY failed, its error is the one to report.
  const types = await columnTypes(client, pool, table, columns, () => pending.endStream());
  try {
    if (types.every((t) => BINARY_TYPES.has(t))) {
      const chunks = copyBinaryTuples(rows, columns, types);
      if (table === STREAMED_TABLE) {
        for (const chunk of chunks) await pending.stream(client, table, columns, chunk);
      } else {
        if (!pending.fits(table, columns)) await pending.write(client);
        pending.hold(table, columns, chunks);
        if (pending.heldBytes >= HELD_LIMIT_BYTES) await pending.write(client);
      }
    } else {
      await pending.write(client);
      await pipeline(Readable.from(copyText(rows, columns, types)), client.query(copyInto(copyStatement(table, columns, 'text'))));
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
   * own connection, in the queue of its writes (a second connection could wait for a pool that the
   * batches waiting on it have filled): blocks outside the batch's range, as committed by others
   * (the batch's own block rows are held until its end, and its range was cleared). What a
   * backfill's edges must link to.
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
        batchQuery(`select table_name, column_name, udt_name from information_schema.columns where table_schema = current_schema() and table_name = any($1)`, [[...BATCH_TABLES]]),
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
