/**
 * src/rpc/fetch-blocks.ts: the pauses between rounds of a failing JSON-RPC batch listen on the
 * range's signal (the activity's, shared by all its batches) only while they wait; and
 * streamBlocks' `beforeBatch` holds a batch back before it takes a fetch slot.
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { fetchBlocks, streamBlocks } from '../../../src/rpc/fetch-blocks.js';
import { fixedFetchSlots } from '../../../src/rpc/fetch-slots.js';
import type { RpcPool } from '../../../src/rpc/pool.js';
import type { RpcOutcome, RpcRequest } from '../../../src/rpc/types.js';
import { loadRecorded, RECORDED_BLOCKS } from '../../fixtures/recorded-blocks.js';

describe('fetchBlocks pauses', () => {
  it('leave no abort listener on the signal once they ended (three failed rounds, then the block)', async () => {
    const { block, receipts } = loadRecorded(RECORDED_BLOCKS.find((r) => r.name === 'ethereum/18000000')!);
    let requests = 0;
    const pool = {
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

  it('streamBlocks sends no request while beforeBatch waits, and holds no fetch slot then', async () => {
    const { block, receipts } = loadRecorded(RECORDED_BLOCKS.find((r) => r.name === 'ethereum/18000000')!);
    let requests = 0;
    const pool = {
      batch: async (calls: RpcRequest[], accept: (outcomes: RpcOutcome[], label: string, bodyBytes: number) => Promise<unknown>) => {
        requests++;
        return accept(calls.map((call) => ({ ok: true, result: call.method === 'eth_getBlockByNumber' ? block : receipts }) as RpcOutcome), 'stub#0', 1000);
      },
    } as unknown as RpcPool;
    const slots = fixedFetchSlots(1, 1);
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => (open = resolve));
    let asked = 0;
    const stored: string[] = [];
    const streamed = streamBlocks(pool, { from: 18_000_000, to: 18_000_000 }, {
      slots,
      beforeBatch: () => {
        asked++;
        return gate;
      },
      onBundles: (bundles) => {
        for (const b of bundles) stored.push((b as { block: { hash: string } }).block.hash);
      },
    });
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    expect([asked, requests]).toEqual([1, 0]);
    // The one slot is free meanwhile: another task runs at once.
    expect(await slots.run(async () => 'ran')).toBe('ran');
    open();
    const links = await streamed;
    expect([asked, requests]).toEqual([1, 1]);
    expect(links.map((l) => l.hash)).toEqual([block.hash]);
    expect(stored).toEqual([block.hash]);
  });
});

