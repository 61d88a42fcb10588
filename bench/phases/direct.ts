/**
 * Phase (d), the product's range activity without Temporal: `runIndexRange` (fetch, validate,
 * write in one transaction) called in this process over batches of the default size, with the
 * default number of batches in flight, so (d − c) / d is what Temporal costs.
 */
import type { Kysely } from 'kysely';
import pLimit from 'p-limit';
import { runIndexRange } from '../../src/activities/index-range.js';
import { workerFetchSlots } from '../../src/activities/index.js';
import type { Database } from '../../src/db/index.js';
import { createLogger } from '../../src/log.js';
import { createRpcPool } from '../../src/rpc/index.js';
import { ranges } from './common.js';

/** Indexes blocks `0..blocks−1` from `url`; returns the wall time in seconds. */
export async function runDirect(options: { url: string; db: Kysely<Database>; chainId: number; blocks: number; batchSize: number; concurrency: number; rpcTimeoutMs: number; fetchBufferBytes: number }): Promise<number> {
  const log = createLogger({ level: 'warn', pretty: false });
  const pool = createRpcPool({ urls: [options.url], timeoutMs: options.rpcTimeoutMs, log });
  const limit = pLimit(options.concurrency);
  const fetchSlots = workerFetchSlots(options.fetchBufferBytes); // as createActivities shares it over a worker's ranges
  const startedAt = performance.now();
  try {
    await Promise.all(
      ranges(options.blocks, options.batchSize).map((range) =>
        limit(() => runIndexRange({ db: options.db, pool, chainId: options.chainId, log, fetchSlots }, { chainId: options.chainId, ...range })),
      ),
    );
  } finally {
    pool.close();
  }
  return (performance.now() - startedAt) / 1000;
}
