/**
 * `storeBatch` on a real Postgres with a recorded block (ethereum 18,000,000: 94 transactions,
 * 291 logs, 16 withdrawals): bytea values travel as the node's `0x` hex and are decoded by COPY;
 * hex data that is not hex is refused as a bad response naming the table, column and block, and
 * the batch leaves nothing behind. `writeBatch` with many writes in one range: transaction rows
 * stream into one open COPY (writes go on until more than 4 MiB wait for the socket), block, log
 * and withdrawal rows are held in slabs and go in at the end or once 16 MiB gathered, and a bad
 * write late in the range, or a COPY that Postgres refuses, rolls back every row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import pg from 'pg';
import { batchApplicationName, batchAttemptKey, connectDatabase, encodeRows, rollbackTo, rowsWithBuffers, storeBatch, toBatchRows, writeBatch, type BatchRows, type ColumnTypes, type EncodedRows } from '../../src/db/index.js';
import { copyBinaryTuples } from '../../src/db/copy-format.js';
import { HELD_LIMIT_BYTES, PENDING_LIMIT_BYTES } from '../../src/db/store-batch.js';
import { ensurePartitions } from '../../src/db/partitions.js';
import { DbTransientError, RpcBadResponseError } from '../../src/errors.js';
import { RECORDED_BLOCKS, loadRecorded } from '../fixtures/recorded-blocks.js';
import { createTestDatabase, waitFor, type TestDatabase } from '../support/stack.js';

const BLOCK = 18_000_000;
const RANGE = { from: BLOCK, to: BLOCK };

describe('storeBatch() with hex bytea values', () => {
  let database: TestDatabase;
  let rows: BatchRows;

  beforeAll(async () => {
    database = await createTestDatabase('store_batch');
    const { block, receipts } = loadRecorded(RECORDED_BLOCKS.find((r) => r.name === 'ethereum/18000000')!);
    rows = toBatchRows(1, [{ block, receipts: receipts! }]);
  });

  afterAll(async () => {
    await database?.drop();
  });

  const counts = async () => {
    const result = await sql<{ t: string; n: string }>`
      select 'blocks' as t, count(*) as n from blocks union all select 'transactions', count(*) from transactions
      union all select 'logs', count(*) from logs union all select 'withdrawals', count(*) from withdrawals`.execute(database.db);
    return Object.fromEntries(result.rows.map((r) => [r.t, Number(r.n)]));
  };

  it('refuses a log whose data has a digit that is not hex, naming table, column and block, and stores nothing', async () => {
    const logs = rows.logs.map((l, i) => (i === 7 ? { ...l, data: '0x00zz' as const } : l));
    const failure = storeBatch(database.db, 1, RANGE, { ...rows, logs });
    await expect(failure).rejects.toBeInstanceOf(RpcBadResponseError);
    await expect(failure).rejects.toThrow('logs: COPY: column data (bytea) has a digit that is not hex in "0x00zz" (the row of block 18000000)');
    expect(await counts()).toEqual({ blocks: 0, transactions: 0, logs: 0, withdrawals: 0 });
  });

  it('stores the block whole, every bytea byte-equal to the node hex', async () => {
    await storeBatch(database.db, 1, RANGE, rows);
    expect(await counts()).toEqual({ blocks: 1, transactions: 94, logs: 291, withdrawals: 16 });
    const stored = await sql<{ hash: string; input: string; data: string }>`
      select '0x' || encode(b.hash, 'hex') as hash,
             (select '0x' || encode(input, 'hex') from transactions where transaction_index = 5) as input,
             (select '0x' || encode(data, 'hex') from logs where log_index = 7) as data
      from blocks b`.execute(database.db);
    expect(stored.rows).toEqual([{
      hash: rows.blocks[0]!.hash.toLowerCase(),
      input: rows.transactions[5]!.input!.toLowerCase(),
      data: rows.logs[7]!.data.toLowerCase(),
    }]);
  });

  /** `rows` moved to block `number` (every row of the block, so the primary keys differ per copy). */
  const atBlock = (number: number): BatchRows => ({
    blocks: rows.blocks.map((b) => ({ ...b, number })),
    transactions: rows.transactions.map((t) => ({ ...t, block_number: number })),
    logs: rows.logs.map((l) => ({ ...l, block_number: number })),
    withdrawals: rows.withdrawals.map((w) => ({ ...w, block_number: number })),
  });
  /**
   * Another transaction inserts `values` into `table` and keeps them uncommitted until `release()`
   * (a COPY of the same keys waits on it), then rolls back: `done` rejects with 'rolled back on purpose'.
   */
  const holdKeys = (table: 'blocks' | 'transactions' | 'logs', values: ReturnType<typeof rowsWithBuffers>) => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    let inserted!: () => void;
    const ready = new Promise<void>((resolve) => { inserted = resolve; });
    const done = database.db.transaction().execute(async (trx) => {
      await trx.insertInto(table).values(values as never).execute();
      inserted();
      await released;
      throw new Error('rolled back on purpose');
    });
    done.catch(() => undefined);
    return { ready, release, done };
  };
  /** COPY binary bytes of `rows`' `tables` (what a range holds for them), with the column types the catalog gives. */
  const encodedBytes = async (rows: BatchRows, tables: readonly (keyof BatchRows)[]): Promise<number> => {
    const catalog = await sql<{ table_name: string; column_name: string; udt_name: string }>`
      select table_name, column_name, udt_name from information_schema.columns where table_schema = current_schema()`.execute(database.db);
    const typeOf = (table: string, column: string) => catalog.rows.find((r) => r.table_name === table && r.column_name === column)!.udt_name;
    return tables.reduce((sum, table) => {
      const columns = Object.keys(rows[table][0]!);
      return sum + copyBinaryTuples(rows[table], columns, columns.map((c) => typeOf(table, c))).reduce((n, b) => n + b.length, 0);
    }, 0);
  };
  const MANY = { from: 100, to: 111 }; // 12 writes of one block: ~0.3 MB of transaction tuples each into one open COPY

  it('writeBatch: 12 writes of one block each land whole in one transaction, every row once', async () => {
    await writeBatch(database.db, 1, MANY, async (write) => {
      for (let n = MANY.from; n <= MANY.to; n++) await write(atBlock(n));
    });
    const perBlock = await sql<{ n: string; txs: string; logs: string; withdrawals: string }>`
      select b.number as n,
             (select count(*) from transactions t where t.chain_id = 1 and t.block_number = b.number) as txs,
             (select count(*) from logs l where l.chain_id = 1 and l.block_number = b.number) as logs,
             (select count(*) from withdrawals w where w.chain_id = 1 and w.block_number = b.number) as withdrawals
      from blocks b where b.chain_id = 1 and b.number between ${MANY.from} and ${MANY.to} order by b.number`.execute(database.db);
    expect(perBlock.rows.map((r) => [Number(r.n), Number(r.txs), Number(r.logs), Number(r.withdrawals)]))
      .toEqual(Array.from({ length: 12 }, (_, i) => [MANY.from + i, 94, 291, 16]));
  });

  it('writeBatch: writeEncoded releases each answer\'s tuples once the socket took its transaction tuples, before the range ends (scribbled over at once, the rows still land exact; block, log and withdrawal rows were copied out), and on a rolled-back batch when it ends', async () => {
    const range = { from: 400, to: 409 }; // ~0.4 MB of tuples per block
    const released: number[] = [];
    /** Encoded rows of block `n` whose release scribbles over their tuples, as memory reused for the next answer would. */
    const encodedAt = (n: number, types: ColumnTypes): EncodedRows => {
      const encoded = encodeRows(atBlock(n), types);
      encoded.release = () => {
        released.push(n);
        new Uint8Array(encoded.tuples!).fill(0xee);
      };
      return encoded;
    };
    let releasedBeforeEnd: number[] = [];
    await writeBatch(database.db, 1, range, async (_write, { types, writeEncoded }) => {
      for (let n = range.from; n <= range.to; n++) await writeEncoded(encodedAt(n, types));
      // Postgres reads the open COPY as it comes: every answer is released without the COPY ending.
      await waitFor('every answer released', async () => released.length === 10, { timeoutMs: 10_000, intervalMs: 10 });
      releasedBeforeEnd = [...released];
    });
    expect(releasedBeforeEnd.sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => range.from + i));
    expect(released.sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => range.from + i)); // each once
    const stored = await sql<{ n: string; txs: string; logs: string; input: string; data: string }>`
      select b.number as n,
             (select count(*) from transactions t where t.chain_id = 1 and t.block_number = b.number) as txs,
             (select count(*) from logs l where l.chain_id = 1 and l.block_number = b.number) as logs,
             (select '0x' || encode(input, 'hex') from transactions t where t.chain_id = 1 and t.block_number = b.number and transaction_index = 5) as input,
             (select '0x' || encode(data, 'hex') from logs l where l.chain_id = 1 and l.block_number = b.number and log_index = 7) as data
      from blocks b where b.chain_id = 1 and b.number between ${range.from} and ${range.to} order by b.number`.execute(database.db);
    expect(stored.rows.map((r) => [Number(r.n), Number(r.txs), Number(r.logs), r.input, r.data])).toEqual(
      Array.from({ length: 10 }, (_, i) => [range.from + i, 94, 291, rows.transactions[5]!.input!.toLowerCase(), rows.logs[7]!.data.toLowerCase()]),
    );

    released.length = 0;
    const before = await counts();
    const failure = writeBatch(database.db, 1, { from: 500, to: 505 }, async (_write, { types, writeEncoded }) => {
      for (let n = 500; n <= 505; n++) await writeEncoded(encodedAt(n, types));
      throw new Error('the range failed after its last write');
    });
    await expect(failure).rejects.toThrow('the range failed after its last write');
    expect(released.sort((a, b) => a - b)).toEqual([500, 501, 502, 503, 504, 505]);
    expect(await counts()).toEqual(before);
  });

  it('writeBatch: a bad write after rows were flushed rolls back the whole range (the earlier 12 blocks stay as they were)', async () => {
    const before = await counts();
    const failure = writeBatch(database.db, 1, { from: MANY.from, to: MANY.to + 1 }, async (write) => {
      for (let n = MANY.from; n <= MANY.to; n++) await write(atBlock(n)); // flushed at least twice
      const bad = atBlock(MANY.to + 1);
      await write({ ...bad, logs: bad.logs.map((l, i) => (i === 3 ? { ...l, topic0: '0xnothex' as const } : l)) });
    });
    await expect(failure).rejects.toBeInstanceOf(RpcBadResponseError);
    await expect(failure).rejects.toThrow(`(the row of block ${MANY.to + 1})`);
    expect(await counts()).toEqual(before);
  });

  it('writeBatch: a COPY that Postgres refuses while it runs (a block written twice) fails a later write and rolls back the whole range', async () => {
    const before = await counts();
    const range = { from: 100, to: 119 }; // 20 writes of ~0.37 MB of transaction tuples into the open COPY, 50 ms apart
    let rejectedAtWrite: number | undefined;
    const failure = writeBatch(database.db, 1, range, async (write) => {
      const numbers = [100, 100, ...Array.from({ length: 18 }, (_, i) => 101 + i)]; // the 2nd write repeats block 100's keys
      for (const [i, n] of numbers.entries()) {
        try {
          if (i > 0) await new Promise((r) => setTimeout(r, 50)); // time for Postgres to read what came before
          await write(atBlock(n));
        } catch (err) {
          rejectedAtWrite = i + 1;
          throw err;
        }
      }
    });
    await expect(failure).rejects.toBeInstanceOf(DbTransientError);
    await expect(failure).rejects.toThrow(`chain 1 blocks ${range.from}–${range.to}: another writer stored these blocks at the same time`);
    // Postgres refuses the open COPY once it reads write 2's tuples; a later write reports it.
    expect(rejectedAtWrite).toBeGreaterThan(2);
    expect(rejectedAtWrite).toBeLessThan(20);
    expect(await counts()).toEqual(before);
  });

  it('writeBatch: writes go on while the open COPY waits for Postgres until more than 4 MiB wait for the socket; then they wait, and all land', async () => {
    const range = { from: 200, to: 299 };
    const one = atBlock(range.from);
    const perBlock = await encodedBytes(one, ['transactions']); // what each write streams
    const neverWaiting = Math.floor(PENDING_LIMIT_BYTES / perBlock); // writes that cannot have more than 4 MiB unsent
    expect(neverWaiting).toBe(11); // ~0.37 MB of transaction tuples per block

    await ensurePartitions(database.db, 1, range); // before the holder: creating one would wait for its transaction
    // Another transaction holds the primary key of block 200's first transaction uncommitted: the open COPY waits on it.
    const holder = holdKeys('transactions', rowsWithBuffers(one.transactions.slice(0, 1)));

    const resolved: number[] = [];
    const done = writeBatch(database.db, 1, range, async (write) => {
      await holder.ready; // the range's deletes ran before produce: block 200 is the holder's now
      const writes: Promise<void>[] = [];
      for (let n = range.from; n <= range.to; n++) {
        const written = write(atBlock(n)).then(() => { resolved.push(n - range.from + 1); });
        written.catch(() => undefined); // awaited below; a failure is reported there, once
        writes.push(written);
      }
      let settledAt = -1;
      const deadline = Date.now() + 20_000;
      while (settledAt !== resolved.length && Date.now() < deadline) { // until no write resolved for 1 s
        settledAt = resolved.length;
        await new Promise((r) => setTimeout(r, 1_000));
      }
      const whileWaiting = [...resolved];
      holder.release();
      await Promise.all(writes);
      return whileWaiting;
    });
    const whileWaiting = await done;
    // The first writes in order, at least those that never had 4 MiB unsent, plus what the kernel's socket buffers took; not all 100.
    expect(whileWaiting).toEqual(Array.from({ length: whileWaiting.length }, (_, i) => i + 1));
    expect(whileWaiting.length).toBeGreaterThanOrEqual(neverWaiting);
    expect(whileWaiting.length).toBeLessThan(100);
    await expect(holder.done).rejects.toThrow('rolled back on purpose');
    const stored = await sql<{ blocks: number; transactions: number; logs: number }>`
      select (select count(*) from blocks where chain_id = 1 and number between ${range.from} and ${range.to}) as blocks,
             (select count(*) from transactions where chain_id = 1 and block_number between ${range.from} and ${range.to}) as transactions,
             (select count(*) from logs where chain_id = 1 and block_number between ${range.from} and ${range.to}) as logs`.execute(database.db);
    expect(stored.rows).toEqual([{ blocks: 100, transactions: 100 * 94, logs: 100 * 291 }]);
  });

  it('writeBatch: block rows wait for the range\'s end: a block key another transaction holds stops none of 40 blocks\' writes (their transactions stream into the open COPY past the 4 MiB backpressure), only the commit', async () => {
    const range = { from: 300, to: 339 }; // ~0.37 MB of transaction tuples per block, ~0.1 MB of log tuples held
    await ensurePartitions(database.db, 1, range); // before the holder: creating one would wait for its transaction
    const holder = holdKeys('blocks', rowsWithBuffers(atBlock(range.from).blocks));
    let resolved = 0;
    let committed = false;
    const done = writeBatch(database.db, 1, range, async (write) => {
      await holder.ready;
      for (let n = range.from; n <= range.to; n++) {
        await write(atBlock(n));
        resolved++;
      }
    }).then(() => { committed = true; });
    const deadline = Date.now() + 20_000;
    while (resolved < 40 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 500)); // time for the commit, were the block rows not waiting on the holder
    expect([resolved, committed]).toEqual([40, false]); // were block rows written with each write, the first would wait on the holder and the writes after it
    holder.release();
    await done;
    await expect(holder.done).rejects.toThrow('rolled back on purpose');
    const stored = await sql<{ blocks: number; transactions: number; logs: number; withdrawals: number }>`
      select (select count(*) from blocks where chain_id = 1 and number between ${range.from} and ${range.to}) as blocks,
             (select count(*) from transactions where chain_id = 1 and block_number between ${range.from} and ${range.to}) as transactions,
             (select count(*) from logs where chain_id = 1 and block_number between ${range.from} and ${range.to}) as logs,
             (select count(*) from withdrawals where chain_id = 1 and block_number between ${range.from} and ${range.to}) as withdrawals`.execute(database.db);
    expect(stored.rows).toEqual([{ blocks: 40, transactions: 40 * 94, logs: 40 * 291, withdrawals: 40 * 16 }]);
  });

  it('writeBatch: held rows go out once 16 MiB of them gathered, before the range ends: the write that makes 16 MiB waits for their COPY, and all land', async () => {
    const range = { from: 3_000, to: 8_999 }; // 6,000 blocks without transactions
    const one = atBlock(range.from);
    const perBlock = await encodedBytes(one, ['blocks', 'withdrawals']);
    const waiting = Math.ceil(HELD_LIMIT_BYTES / perBlock); // the write whose rows make 16 MiB held writes them and waits
    expect(waiting).toBe(5_390); // ~3.1 KB per block

    await ensurePartitions(database.db, 1, range); // before the holder: creating one would wait for its transaction
    const holder = holdKeys('blocks', rowsWithBuffers(one.blocks)); // the held rows' COPY waits on it
    const resolved: number[] = [];
    const done = writeBatch(database.db, 1, range, async (write) => {
      await holder.ready;
      const writes: Promise<void>[] = [];
      for (let n = range.from; n <= range.to; n++) {
        const written = write({ ...atBlock(n), transactions: [], logs: [] }).then(() => { resolved.push(n - range.from + 1); });
        written.catch(() => undefined); // awaited below; a failure is reported there, once
        writes.push(written);
      }
      const deadline = Date.now() + 20_000;
      while (resolved.length < waiting - 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 1_000)); // time for one more write to resolve, were it not waiting
      const whileWaiting = resolved.length;
      holder.release();
      await Promise.all(writes);
      return whileWaiting;
    });
    expect(await done).toBe(waiting - 1);
    await expect(holder.done).rejects.toThrow('rolled back on purpose');
    const stored = await sql<{ blocks: number; withdrawals: number }>`
      select (select count(*) from blocks where chain_id = 1 and number between ${range.from} and ${range.to}) as blocks,
             (select count(*) from withdrawals where chain_id = 1 and block_number between ${range.from} and ${range.to}) as withdrawals`.execute(database.db);
    expect(stored.rows).toEqual([{ blocks: 6_000, withdrawals: 6_000 * 16 }]);
  });

  it('writeBatch: answers without transaction rows are released at once (their rows copied into slabs, the memory scribbled over), and the rows land exact', async () => {
    const range = { from: 1_000, to: 1_899 }; // 900 blocks without transactions: ~3.1 KB of block and withdrawal rows each, across slabs of 256 KiB
    const released: number[] = [];
    let releasedWhileWriting = 0;
    await writeBatch(database.db, 1, range, async (_write, { types, writeEncoded }) => {
      for (let n = range.from; n <= range.to; n++) {
        const encoded = encodeRows({ ...atBlock(n), transactions: [], logs: [] }, types);
        encoded.release = () => {
          released.push(n);
          new Uint8Array(encoded.tuples!).fill(0xee);
        };
        await writeEncoded(encoded);
      }
      releasedWhileWriting = released.length;
    });
    expect(releasedWhileWriting).toBe(900);
    expect(released).toEqual(Array.from({ length: 900 }, (_, i) => range.from + i)); // each once, in order
    const stored = await sql<{ blocks: number; withdrawals: number; hashes: number; addresses: number }>`
      select (select count(*) from blocks where chain_id = 1 and number between ${range.from} and ${range.to}) as blocks,
             (select count(*) from withdrawals where chain_id = 1 and block_number between ${range.from} and ${range.to}) as withdrawals,
             (select count(*) from blocks where chain_id = 1 and number between ${range.from} and ${range.to} and hash = ${Buffer.from(rows.blocks[0]!.hash.slice(2), 'hex')}) as hashes,
             (select count(*) from withdrawals where chain_id = 1 and block_number between ${range.from} and ${range.to} and position = 3 and address = ${Buffer.from(rows.withdrawals[3]!.address.slice(2), 'hex')}) as addresses`.execute(database.db);
    expect(stored.rows).toEqual([{ blocks: 900, withdrawals: 900 * 16, hashes: 900, addresses: 900 }]);
  });

  it('writeBatch: writeEncoded under backpressure copies an answer\'s block, log and withdrawal tuples before its release can run (release scribbles the whole answer), and all land exact', async () => {
    const range = { from: 13_000, to: 13_079 }; // 80 answers of one block handed over at once: the open COPY waits on the holder
    await ensurePartitions(database.db, 1, range);
    const holder = holdKeys('transactions', rowsWithBuffers(atBlock(range.from).transactions.slice(0, 1)));
    const released: number[] = [];
    await writeBatch(database.db, 1, range, async (_write, { types, writeEncoded }) => {
      await holder.ready;
      const writes: Promise<void>[] = [];
      for (let n = range.from; n <= range.to; n++) {
        const encoded = encodeRows(atBlock(n), types);
        encoded.release = () => {
          released.push(n);
          new Uint8Array(encoded.tuples!).fill(0xee);
        };
        const written = writeEncoded(encoded);
        written.catch(() => undefined); // awaited below
        writes.push(written);
      }
      await new Promise((r) => setTimeout(r, 1_000)); // the writes wait on the socket (before the fix, releases ran before the logs were copied)
      holder.release();
      await Promise.all(writes);
    });
    await expect(holder.done).rejects.toThrow('rolled back on purpose');
    expect(released.sort((a, b) => a - b)).toEqual(Array.from({ length: 80 }, (_, i) => range.from + i));
    const stored = await sql<{ transactions: number; logs: number; withdrawals: number; data: number }>`
      select (select count(*) from transactions where chain_id = 1 and block_number between ${range.from} and ${range.to}) as transactions,
             (select count(*) from logs where chain_id = 1 and block_number between ${range.from} and ${range.to}) as logs,
             (select count(*) from withdrawals where chain_id = 1 and block_number between ${range.from} and ${range.to}) as withdrawals,
             (select count(*) from logs where chain_id = 1 and block_number between ${range.from} and ${range.to} and log_index = 7 and data = ${Buffer.from(rows.logs[7]!.data.slice(2), 'hex')}) as data`.execute(database.db);
    expect(stored.rows).toEqual([{ transactions: 80 * 94, logs: 80 * 291, withdrawals: 80 * 16, data: 80 }]);
  });

  it('writeBatch: a held table whose columns change is written before the new rows are held, and the answer\'s log tuples are copied before its transactions go out', async () => {
    const range = { from: 14_000, to: 14_001 };
    /** Block n without transactions, its log rows with another column order (`data` first). */
    const reordered = (n: number): BatchRows => {
      const b = atBlock(n);
      return { ...b, transactions: [], logs: b.logs.map((l) => { const { data, ...rest } = l; return { data, ...rest }; }) };
    };
    let releases = 0;
    await writeBatch(database.db, 1, range, async (write, { types, writeEncoded }) => {
      await write(reordered(range.from));
      const encoded = encodeRows(atBlock(range.to), types);
      encoded.release = () => {
        releases++;
        new Uint8Array(encoded.tuples!).fill(0xee);
      };
      await writeEncoded(encoded); // its logs do not fit the held ones: those are written first
    });
    expect(releases).toBe(1);
    const stored = await sql<{ n: string; logs: string; txs: string }>`
      select b.number as n,
             (select count(*) from logs l where l.chain_id = 1 and l.block_number = b.number and l.data = ${Buffer.from(rows.logs[7]!.data.slice(2), 'hex')} and l.log_index = 7) as logs,
             (select count(*) from transactions t where t.chain_id = 1 and t.block_number = b.number) as txs
      from blocks b where b.chain_id = 1 and b.number between ${range.from} and ${range.to} order by b.number`.execute(database.db);
    expect(stored.rows.map((r) => [Number(r.n), Number(r.logs), Number(r.txs)])).toEqual([[range.from, 1, 0], [range.to, 1, 94]]);
  });

  it('writeBatch: storedLinks waits for the writes before it and a write issued while it runs waits for it (no query behind an open COPY)', async () => {
    const range = { from: 20_000, to: 20_001 };
    await storeBatch(database.db, 1, { from: 19_999, to: 19_999 }, atBlock(19_999));
    const links = await writeBatch(database.db, 1, range, async (write, { storedLinks }) => {
      await write(atBlock(20_000));
      const reading = storedLinks([19_999, 20_002]);
      const writing = write(atBlock(20_001));
      const [found] = await Promise.all([reading, writing]);
      return [...found.keys()];
    });
    expect(links).toEqual([19_999]);
    const stored = await sql<{ n: number }>`select count(*)::int as n from transactions where chain_id = 1 and block_number between 19999 and 20001`.execute(database.db);
    expect(stored.rows).toEqual([{ n: 3 * 94 }]);
  });

  it('writeBatch: a statement_timeout shorter than the range\'s fetching does not cut its open COPY (the batch sets none)', async () => {
    const url = new URL(database.url);
    url.searchParams.set('options', '-c statement_timeout=500');
    const db = connectDatabase(url.toString());
    try {
      await writeBatch(db, 1, { from: 21_000, to: 21_001 }, async (write) => {
        await write(atBlock(21_000));
        await new Promise((r) => setTimeout(r, 1_000)); // the next block takes 1 s to arrive
        await write(atBlock(21_001));
      });
      const stored = await sql<{ n: number; timeout: string }>`select count(*)::int as n, current_setting('statement_timeout') as timeout from transactions where chain_id = 1 and block_number between 21000 and 21001`.execute(db);
      expect(stored.rows).toEqual([{ n: 2 * 94, timeout: '500ms' }]); // the setting outside batches stays
    } finally {
      await db.destroy();
    }
  });

  it('writeBatch: a batch that fails while its COPY waits on another transaction\'s lock cancels that COPY and rolls back, without waiting for the lock (each release once; its connection not reused, the pool usable)', async () => {
    const range = { from: 22_000, to: 22_079 };
    await ensurePartitions(database.db, 1, range);
    const before = await counts();
    const holder = holdKeys('transactions', rowsWithBuffers(atBlock(range.from).transactions.slice(0, 1)));
    const released: number[] = [];
    let holding = true;
    const single = connectDatabase(database.url, { maxConnections: 1 }); // the next query gets the batch's connection, were it reused
    try {
      let copyPid: number | undefined;
      const failure = writeBatch(single, 1, range, async (_write, { types, writeEncoded }) => {
        await holder.ready;
        for (let n = range.from; n <= range.to; n++) {
          const encoded = encodeRows(atBlock(n), types);
          encoded.release = () => { released.push(n); };
          writeEncoded(encoded).catch(() => undefined); // the writes wait on the socket behind the held lock
        }
        await waitFor('the COPY to wait on the lock', async () => {
          const { rows: waiting } = await sql<{ pid: number }>`select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like 'copy transactions%'`.execute(database.db);
          copyPid = waiting[0]?.pid;
          return copyPid !== undefined;
        }, { timeoutMs: 10_000, intervalMs: 20 });
        throw new Error('the activity was cancelled');
      });
      const outcome = await failure.then(() => 'committed', (err: Error) => `${err.message} (holder still holding: ${holding})`);
      holding = false;
      holder.release();
      await expect(holder.done).rejects.toThrow('rolled back on purpose');
      expect(outcome).toBe('the activity was cancelled (holder still holding: true)'); // before the fix it waited for the holder, for ever
      expect(released.sort((a, b) => a - b)).toEqual(Array.from({ length: 80 }, (_, i) => range.from + i));
      expect(await counts()).toEqual(before);
      // A cancel request was sent for that backend: its connection is not reused (a late request would cancel the next statement).
      const { rows: next } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(single);
      expect(typeof copyPid).toBe('number');
      expect(next[0]!.pid).not.toBe(copyPid);
      await storeBatch(single, 1, { from: range.from, to: range.from }, atBlock(range.from)); // the pool still works
    } finally {
      await single.destroy();
    }
    const stored = await sql<{ n: number }>`select count(*)::int as n from transactions where chain_id = 1 and block_number = ${range.from}`.execute(database.db);
    expect(stored.rows).toEqual([{ n: 94 }]);
  });

  it('writeBatch: a later attempt of a batch ends the sessions of its earlier attempts whose transactions still hold its keys (a frozen worker), and lands; other batches\' sessions and a later attempt\'s are left alone', async () => {
    const range = { from: 24_000, to: 24_003 };
    await ensurePartitions(database.db, 1, range);
    const key = batchAttemptKey('chain-sync:1', 'run-a', '7');
    const session = async (applicationName: string, hold?: BatchRows) => {
      const client = new pg.Client({ connectionString: database.url });
      client.on('error', () => undefined); // its end is what is tested
      await client.connect();
      await client.query(`begin; set local application_name = '${applicationName}'`);
      if (hold) {
        const row = rowsWithBuffers(hold.transactions.slice(0, 1))[0] as Record<string, unknown>;
        const columns = Object.keys(row);
        await client.query(`insert into transactions (${columns.map((c) => `"${c}"`).join(', ')}) values (${columns.map((_, n) => `$${n + 1}`).join(', ')})`, columns.map((c) => row[c]));
      }
      return client;
    };
    // Attempt 1 of this batch froze with the first transaction of block 24,000 inserted, uncommitted.
    const frozen = await session(batchApplicationName({ key, number: 1 }), atBlock(range.from));
    const otherBatch = await session(batchApplicationName({ key: batchAttemptKey('chain-sync:1', 'run-a', '8'), number: 1 }));
    const laterAttempt = await session(batchApplicationName({ key, number: 3 }));
    const stopped: { pid: number; applicationName: string }[][] = [];
    try {
      const frozenPid = (await frozen.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      const landed = writeBatch(database.db, 1, range, async (write) => {
        for (let n = range.from; n <= range.to; n++) await write(atBlock(n));
      }, { attempt: { key, number: 2 }, onStopped: (s) => stopped.push(s) });
      // Without ending attempt 1's session, the COPY waits on its uncommitted row for as long as it lives.
      const outcome = await Promise.race([landed.then(() => 'landed'), new Promise((resolve) => setTimeout(() => resolve('still waiting after 15 s'), 15_000))]);
      expect(outcome).toBe('landed');
      expect(stopped).toEqual([[{ pid: frozenPid, applicationName: `evm-indexer:batch:${key}:1` }]]);
      await expect(frozen.query('select 1')).rejects.toThrow(/terminat|connection error/); // its session was ended
      expect((await otherBatch.query<{ n: number }>('select 1 as n')).rows).toEqual([{ n: 1 }]);
      expect((await laterAttempt.query<{ n: number }>('select 1 as n')).rows).toEqual([{ n: 1 }]);
      const stored = await sql<{ n: number }>`select count(*)::int as n from transactions where chain_id = 1 and block_number between ${range.from} and ${range.to}`.execute(database.db);
      expect(stored.rows).toEqual([{ n: 4 * 94 }]);
    } finally {
      for (const client of [frozen, otherBatch, laterAttempt]) await client.end().catch(() => undefined);
    }
  });

  it('writeBatch: pg\'s query_timeout does not cut a batch\'s statements (its held rows\' COPY waits 3 s on a lock under a 1.5 s query_timeout and lands)', async () => {
    const url = new URL(database.url);
    url.searchParams.set('query_timeout', '1500');
    const db = connectDatabase(url.toString());
    const range = { from: 23_000, to: 23_009 };
    try {
      await ensurePartitions(database.db, 1, range);
      const holder = holdKeys('logs', rowsWithBuffers(atBlock(range.from).logs.slice(0, 1))); // the logs COPY at the range's end waits on it
      await holder.ready;
      setTimeout(() => holder.release(), 3_000);
      await writeBatch(db, 1, range, async (write) => {
        for (let n = range.from; n <= range.to; n++) await write(atBlock(n));
      });
      await expect(holder.done).rejects.toThrow('rolled back on purpose');
      const stored = await sql<{ logs: number; transactions: number }>`
        select (select count(*)::int from logs where chain_id = 1 and block_number between ${range.from} and ${range.to}) as logs,
               (select count(*)::int from transactions where chain_id = 1 and block_number between ${range.from} and ${range.to}) as transactions`.execute(database.db);
      expect(stored.rows).toEqual([{ logs: 10 * 291, transactions: 10 * 94 }]);
    } finally {
      await db.destroy();
    }
  });

  it('rollbackTo racing a batch that rewrites its blocks leaves no log or transaction without its block (one DELETE statement, one snapshot)', async () => {
    await sql`truncate blocks, transactions, logs, withdrawals`.execute(database.db);
    await storeBatch(database.db, 1, RANGE, rows); // the block as stored before
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // The batch deletes the stored rows (holding their row locks), writes them again, and waits.
    let writing!: () => void;
    const written = new Promise<void>((resolve) => (writing = resolve));
    const batch = writeBatch(database.db, 1, RANGE, async (write) => {
      await write(rows);
      writing();
      await gate;
    });
    await written;
    let rolledBack = false;
    const rollback = rollbackTo(database.db, 1, { blockNumber: BLOCK - 1, blockHash: null }).then((deleted) => {
      rolledBack = true;
      return deleted;
    });
    // The rollback waits for the batch's row locks on the old rows.
    await waitFor('the rollback to wait for the batch', async () => Number((await sql<{ n: string }>`
      select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query ilike '%delete from%'`.execute(database.db)).rows[0]!.n) === 1,
    { timeoutMs: 5_000, intervalMs: 20 });
    expect(rolledBack).toBe(false);
    release();
    await batch;
    await rollback;
    const orphans = await sql<{ logs: number; transactions: number; withdrawals: number }>`
      select (select count(*) from logs l where not exists (select 1 from blocks b where b.chain_id = l.chain_id and b.number = l.block_number)) as logs,
             (select count(*) from transactions t where not exists (select 1 from blocks b where b.chain_id = t.chain_id and b.number = t.block_number)) as transactions,
             (select count(*) from withdrawals w where not exists (select 1 from blocks b where b.chain_id = w.chain_id and b.number = w.block_number)) as withdrawals`.execute(database.db);
    expect(orphans.rows).toEqual([{ logs: 0, transactions: 0, withdrawals: 0 }]);
    // The batch committed after the rollback's snapshot: it is left whole (the sync rewrites it).
    expect(await counts()).toEqual({ blocks: 1, transactions: 94, logs: 291, withdrawals: 16 });
  });
});
