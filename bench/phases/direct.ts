/**
 * Phase (d), the product's range activity without Temporal: `runIndexRange` (fetch, validate,
 * write in one transaction) called in this process through the sync's own sliding window
 * (`runWindow`: the same batch sizes, adaptive or not, the same number of batches in flight), so
 * (d − c) / d is what Temporal costs.
 */
import type { Kysely } from 'kysely';
import { runIndexRange } from '../../src/activities/index-range.js';
import { workerFetchSlots } from '../../src/activities/index.js';
import type { Database } from '../../src/db/index.js';
import { createLogger } from '../../src/log.js';
import { createRpcPool } from '../../src/rpc/index.js';
import { runWindow } from '../../src/workflows/window.js';

/**
 * Indexes blocks `0..blocks−1` from `url`; returns the wall time in seconds.
 * @throws Error when the window does not end `done` (a seam that does not link) or a batch fails.
 */
export async function runDirect(options: { url: string; db: Kysely<Database>; chainId: number; blocks: number; batchSize: number; batchRows: number; concurrency: number; rpcTimeoutMs: number; fetchBufferBytes: number }): Promise<number> {
  const log = createLogger({ level: 'warn', pretty: false });
  const pool = createRpcPool({ urls: [options.url], timeoutMs: options.rpcTimeoutMs, log });
  const fetchSlots = workerFetchSlots(options.fetchBufferBytes); // as createActivities shares it over a worker's ranges
  const startedAt = performance.now();
  try {
    const outcome = await runWindow({
      cursor: { blockNumber: -1, blockHash: null },
      to: options.blocks - 1,
      batchSize: options.batchSize,
      batchRows: options.batchRows,
      concurrency: options.concurrency,
      index: (range) => runIndexRange({ db: options.db, pool, chainId: options.chainId, log, fetchSlots }, { chainId: options.chainId, ...range }),
      shouldStop: () => false,
      onAdvance: async () => undefined,
    });
    if (outcome.kind !== 'done') throw new Error(`phase d ended ${outcome.kind} at cursor ${outcome.cursor.blockNumber}`);
  } finally {
    pool.close();
  }
  return (performance.now() - startedAt) / 1000;
}
