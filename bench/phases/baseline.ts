/**
 * Phase (b), the seed baseline: the seed report's approach. Per block, one
 * `eth_getBlockByNumber(n, true)` and one `eth_getBlockReceipts(n)` HTTP request (both at once),
 * at most 10 blocks in flight (`p-limit(10)`), and each block's rows inserted on their own with
 * multi-row INSERTs in one transaction per block. No validation, no retries: it is a yardstick.
 */
import type { Kysely } from 'kysely';
import pLimit from 'p-limit';
import { ensurePartitions, toBatchRows, type Database } from '../../src/db/index.js';
import { rowsWithBuffers, type CopyRow } from '../../src/db/rows.js';
import type { BlockBundle, RpcBlock, RpcReceipt } from '../../src/rpc/index.js';

/** Blocks in flight, as in the seed report. */
const SEED_CONCURRENCY = 10;
/** Bind parameters per INSERT statement; Postgres allows 65,535. */
const MAX_PARAMETERS_PER_INSERT = 60_000;

/** Indexes blocks `0..blocks−1` from `url` the seed's way; returns the wall time in seconds. */
export async function runBaseline(options: { url: string; db: Kysely<Database>; chainId: number; blocks: number }): Promise<number> {
  const limit = pLimit(SEED_CONCURRENCY);
  // The schema's tables are range-partitioned by block number: create the partitions, untimed.
  await ensurePartitions(options.db, options.chainId, { from: 0, to: Math.max(0, options.blocks - 1) });
  const startedAt = performance.now();
  const jobs: Promise<void>[] = [];
  for (let n = 0; n < options.blocks; n++) {
    jobs.push(limit(async () => {
      const hex = `0x${n.toString(16)}`;
      const [block, receipts] = await Promise.all([
        call<RpcBlock>(options.url, 'eth_getBlockByNumber', [hex, true]),
        call<RpcReceipt[]>(options.url, 'eth_getBlockReceipts', [hex]),
      ]);
      const bundle: BlockBundle = { block, receipts };
      const rows = toBatchRows(options.chainId, [bundle]);
      await options.db.transaction().execute(async (trx) => {
        for (const table of ['blocks', 'transactions', 'logs', 'withdrawals'] as const) {
          const list = rowsWithBuffers(rows[table] as CopyRow<object>[]);
          if (list.length === 0) continue;
          const perStatement = Math.max(1, Math.floor(MAX_PARAMETERS_PER_INSERT / Object.keys(list[0]!).length));
          for (let i = 0; i < list.length; i += perStatement) await trx.insertInto(table).values(list.slice(i, i + perStatement) as never).execute();
        }
      });
    }));
  }
  await Promise.all(jobs);
  return (performance.now() - startedAt) / 1000;
}

async function call<T>(url: string, method: string, params: unknown[]): Promise<T> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  const body = (await response.json()) as { result?: T; error?: { message: string } };
  if (body.result === undefined || body.result === null) throw new Error(`${method}(${JSON.stringify(params)}): ${body.error?.message ?? 'no result'}`);
  return body.result;
}
