/**
 * `storeBatch` on a real Postgres with a recorded block (ethereum 18,000,000: 94 transactions,
 * 291 logs, 16 withdrawals): bytea values travel as the node's `0x` hex and are decoded by COPY;
 * hex data that is not hex is refused as a bad response naming the table, column and block, and
 * the batch leaves nothing behind. `writeBatch` with many writes in one range: rows gather and go in
 * with one COPY per table every ~1 MiB (in the background), and a bad write late in the range, or a
 * COPY that Postgres refuses, rolls back every row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { storeBatch, toBatchRows, writeBatch, type BatchRows } from '../../src/db/index.js';
import { DbTransientError, RpcBadResponseError } from '../../src/errors.js';
import { RECORDED_BLOCKS, loadRecorded } from '../fixtures/recorded-blocks.js';
import { createTestDatabase, type TestDatabase } from '../support/stack.js';

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
  const MANY = { from: 100, to: 111 }; // 12 writes of one block: ~0.3 MB of COPY data each, so 3 or 4 flushes

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

  it('writeBatch: a COPY that Postgres refuses in the background (a block written twice) fails a later write and rolls back the whole range', async () => {
    const before = await counts();
    const range = { from: 100, to: 119 }; // 20 writes of ~0.3 MB: a COPY every 4 or so
    let rejectedAtWrite: number | undefined;
    const failure = writeBatch(database.db, 1, range, async (write) => {
      const numbers = [100, 100, ...Array.from({ length: 18 }, (_, i) => 101 + i)]; // the 2nd write repeats block 100's keys
      for (const [i, n] of numbers.entries()) {
        try {
          await write(atBlock(n));
        } catch (err) {
          rejectedAtWrite = i + 1;
          throw err;
        }
      }
    });
    await expect(failure).rejects.toBeInstanceOf(DbTransientError);
    await expect(failure).rejects.toThrow(`chain 1 blocks ${range.from}–${range.to}: another writer stored these blocks at the same time`);
    // The first COPY (writes 1–4 or so) fails in the background; the write that starts the next one reports it.
    expect(rejectedAtWrite).toBeGreaterThan(2);
    expect(rejectedAtWrite).toBeLessThan(20);
    expect(await counts()).toEqual(before);
  });
});
