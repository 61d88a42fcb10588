/**
 * src/rpc/fetch-blocks.ts: the pauses between rounds of a failing JSON-RPC batch listen on the
 * range's signal (the activity's, shared by all its batches) only while they wait.
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { fetchBlocks } from '../../../src/rpc/fetch-blocks.js';
import type { RpcPool } from '../../../src/rpc/pool.js';
import type { RpcOutcome, RpcRequest } from '../../../src/rpc/types.js';
import { loadRecorded, RECORDED_BLOCKS } from '../../fixtures/recorded-blocks.js';

describe('fetchBlocks pauses', () => {
  it('leave no abort listener on the signal once they ended (three failed rounds, then the block)', async () => {
    const { block, receipts } = loadRecorded(RECORDED_BLOCKS.find((r) => r.name === 'ethereum/18000000')!);
    let requests = 0;
    const pool = {
      labels: ['stub#0'],
      batch: async (calls: RpcRequest[], accept: (outcomes: RpcOutcome[], label: string, bodyBytes: number) => Promise<unknown>) => {
        requests++;
        // The receipts call fails alone (-32603, retryable) in the first three answers.
        const outcomes: RpcOutcome[] = calls.map((call) =>
          call.method === 'eth_getBlockByNumber' ? { ok: true, result: block }
            : requests <= 3 ? { ok: false, error: { code: -32603, message: 'internal error' } } : { ok: true, result: receipts });
        return accept(outcomes, 'stub#0', 1000);
      },
    } as unknown as RpcPool;
    const controller = new AbortController();
    const bundles = await fetchBlocks(pool, { from: 18_000_000, to: 18_000_000 }, { signal: controller.signal });
    expect(requests).toBe(4);
    expect(bundles.map((b) => b.block.hash)).toEqual([block.hash]);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
