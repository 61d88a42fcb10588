/**
 * Phase (a), the ceiling: the rows of the synthetic blocks, prepared beforehand as COPY text,
 * streamed straight into the schema (with the product's primary keys and indexes) with
 * `COPY … FROM STDIN` in the binary format the product's writer uses (copy-format.ts), one
 * transaction per batch, on as many connections as the machine has cores.
 * Only the writing is timed: this is what Postgres on this machine can take.
 */
import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pLimit from 'p-limit';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { connectDatabase, ensurePartitions, toBatchRows } from '../../src/db/index.js';
import { copyBinary } from '../../src/db/copy-format.js';
import type { BlockBundle } from '../../src/rpc/index.js';
import type { SyntheticChain } from '../chain/generate.js';
import { ranges, type RowCounts } from './common.js';
import { cpuOfProcessesNamed, spentMs, watchAutovacuum } from './cpu.js';

/** Batches prepared (untimed) before each timed wave of writes: bounds memory to a few hundred MB. */
const BATCHES_PER_WAVE = 10;
const TABLES = ['blocks', 'transactions', 'logs', 'withdrawals'] as const;

type PreparedBatch = { table: (typeof TABLES)[number]; columns: string[]; data: Buffer[] }[];

/**
 * Writes blocks `0..blocks−1` of `chain`; returns the timed seconds, the generated row counts and
 * `postgresMs`, the CPU time of every `postgres` process during the timed writes, in ms (what
 * writing the rows costs Postgres itself, to set beside the product's), and `autovacuumMs`, that
 * of its autovacuum workers meanwhile (`watchAutovacuum`; mostly not in `postgresMs`).
 */
export async function runCeiling(options: { chain: SyntheticChain; databaseUrl: string; blocks: number; batchSize: number }): Promise<{ seconds: number; expected: RowCounts; postgresMs: number; autovacuumMs: number }> {
  const connections = Math.max(1, availableParallelism());
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: connections });
  const expected: RowCounts = { blocks: 0, transactions: 0, logs: 0, withdrawals: 0 };
  let seconds = 0;
  let postgresMs = 0;
  let autovacuumMs = 0;
  // The tables are range-partitioned by block number: create the partitions up front, untimed, as
  // the product's writer does before each batch.
  const db = connectDatabase(options.databaseUrl);
  await ensurePartitions(db, options.chain.chainId, { from: 0, to: Math.max(0, options.blocks - 1) }).finally(() => db.destroy());
  try {
    const { rows: catalog } = await pool.query<{ table_name: string; column_name: string; udt_name: string }>(
      `select table_name, column_name, udt_name from information_schema.columns where table_schema = current_schema()`,
    );
    const typeOf = (table: string, column: string) => catalog.find((c) => c.table_name === table && c.column_name === column)!.udt_name;
    const all = ranges(options.blocks, options.batchSize);
    for (let w = 0; w < all.length; w += BATCHES_PER_WAVE) {
      const wave: PreparedBatch[] = all.slice(w, w + BATCHES_PER_WAVE).map((range) => {
        const bundles: BlockBundle[] = [];
        for (let n = range.from; n <= range.to; n++) bundles.push(options.chain.bundle(n) as unknown as BlockBundle);
        const rows = toBatchRows(options.chain.chainId, bundles);
        return TABLES.filter((t) => rows[t].length > 0).map((table) => {
          expected[table] += rows[table].length;
          const columns = Object.keys(rows[table][0]!);
          return { table, columns, data: copyBinary(rows[table], columns, columns.map((c) => typeOf(table, c))) };
        });
      });
      const cpuBefore = cpuOfProcessesNamed('postgres');
      const autovacuum = watchAutovacuum();
      const startedAt = performance.now();
      const limit = pLimit(connections);
      await Promise.all(wave.map((batch) => limit(() => writeBatch(pool, batch)))).finally(() => {
        autovacuumMs += autovacuum.stop();
      });
      seconds += (performance.now() - startedAt) / 1000;
      postgresMs += spentMs(cpuBefore, cpuOfProcessesNamed('postgres'));
    }
  } finally {
    await pool.end();
  }
  return { seconds, expected, postgresMs, autovacuumMs };
}

async function writeBatch(pool: pg.Pool, batch: PreparedBatch): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    for (const { table, columns, data } of batch) {
      await pipeline(Readable.from(data), client.query(copyFrom(`copy ${table} (${columns.map((c) => `"${c}"`).join(', ')}) from stdin with (format binary)`)));
    }
    await client.query('commit');
  } finally {
    client.release();
  }
}

/** Rows the product stores for blocks `0..blocks−1` of `chain` (one per block, transaction, log, withdrawal). */
export async function countGenerated(chain: SyntheticChain, blocks: number): Promise<RowCounts> {
  const counts: RowCounts = { blocks, transactions: 0, logs: 0, withdrawals: 0 };
  for (let n = 0; n < blocks; n++) {
    const { block, receipts } = chain.bundle(n);
    counts.transactions += block.transactions.length;
    counts.withdrawals += (block.withdrawals as unknown[] | undefined)?.length ?? 0;
    for (const r of receipts) counts.logs += r.logs.length;
    if (n % 1_000 === 999) await new Promise((resolve) => setImmediate(resolve));
  }
  return counts;
}
