import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerFetchSlots } from '../../../src/activities/index.js';
import { createLogger } from '../../../src/log.js';
import { adaptiveFetchSlots, createRpcPool, fixedFetchSlots, type FetchSlots } from '../../../src/rpc/index.js';

const MiB = 2 ** 20;

describe('src/rpc/fetch-slots.ts', () => {
  const sizes = (slots: { capacityBlocks: number; blocksPerBatch: number }) => ({ capacityBlocks: slots.capacityBlocks, blocksPerBatch: slots.blocksPerBatch });
  const tick = () => new Promise((r) => setTimeout(r, 0));

  it('adaptiveFetchSlots() starts from the assumed block size, then sizes batches to batchBytes and the blocks in flight to the budget by the mean bytes per block', () => {
    const slots = adaptiveFetchSlots({ budgetBytes: 32 * MiB, batchBytes: 4 * MiB, maxBlocksPerBatch: 10, min: 2, max: 8, assumedBytesPerBlock: MiB });
    expect(sizes(slots)).toEqual({ capacityBlocks: 32, blocksPerBatch: 4 }); // assumed 1 MiB per block: batches of 4, 32 blocks
    slots.observe(8 * MiB, 10); // 0.8 MiB per block: batches of 5 (4 MiB), 40 blocks in 32 MiB
    expect(sizes(slots)).toEqual({ capacityBlocks: 40, blocksPerBatch: 5 });
    slots.observe(0.6 * 5 * MiB, 5); // the mean: 0.8 + 0.2 × (0.6 − 0.8) = 0.76 MiB per block: 5 blocks (3.8 MiB), 32 / 0.76 → 42 blocks
    expect(sizes(slots)).toEqual({ capacityBlocks: 42, blocksPerBatch: 5 });
    for (let i = 0; i < 40; i++) slots.observe(10 * MiB, 1); // 10 MiB per block: 1 block per batch, 3 blocks fit
    expect(sizes(slots)).toEqual({ capacityBlocks: 3, blocksPerBatch: 1 });
    for (let i = 0; i < 40; i++) slots.observe(100 * MiB, 1); // 100 MiB per block: none fits, never below min batches
    expect(sizes(slots)).toEqual({ capacityBlocks: 2, blocksPerBatch: 1 });
    for (let i = 0; i < 80; i++) slots.observe(300_000, 10); // light blocks (30 kB): the most blocks per batch
    expect(slots.blocksPerBatch).toBe(10);
    expect(slots.capacityBlocks).toBeGreaterThan(80); // more than `max` batches hold: `max` bounds them
  });

  it('adaptiveFetchSlots() ignores answers of no blocks and refuses bad bounds naming them', () => {
    const slots = adaptiveFetchSlots({ budgetBytes: 32 * MiB, batchBytes: 4 * MiB, maxBlocksPerBatch: 10, min: 3, max: 8, assumedBytesPerBlock: 16 * MiB });
    slots.observe(1000, 0);
    expect(sizes(slots)).toEqual({ capacityBlocks: 3, blocksPerBatch: 1 }); // 16 MiB blocks: 1 per batch, 2 fit, min 3 batches
    const ok = { budgetBytes: 32 * MiB, batchBytes: 4 * MiB, maxBlocksPerBatch: 10, min: 1, max: 8, assumedBytesPerBlock: MiB };
    expect(() => adaptiveFetchSlots({ ...ok, min: 0 })).toThrow('fetch slots need integers 1 ≤ min ≤ max, got min=0 max=8');
    expect(() => adaptiveFetchSlots({ ...ok, min: 4, max: 2 })).toThrow('fetch slots need integers 1 ≤ min ≤ max, got min=4 max=2');
    expect(() => adaptiveFetchSlots({ ...ok, maxBlocksPerBatch: 0 })).toThrow('fetch slots need an integer maxBlocksPerBatch ≥ 1, got 0');
    expect(() => adaptiveFetchSlots({ ...ok, budgetBytes: 0 })).toThrow('fetch slots need positive sizes in bytes, got budget 0, batch 4194304, assumed block 1048576');
  });

  /** Queues `count` tasks on `slots` (with `priorities`, when given); each runs until released and resolves with its index. */
  function tasks(slots: FetchSlots, count: number, priorities: number[] = []) {
    const running = new Map<number, number>(); // index → blocks it was given
    const releases = new Map<number, () => void>();
    const done = Array.from({ length: count }, (_, i) => slots.run((blocks) => new Promise<number>((resolve) => {
      running.set(i, blocks);
      releases.set(i, () => { running.delete(i); resolve(i); });
    }), priorities[i]));
    return { running: () => Object.fromEntries(running), release: (i: number) => releases.get(i)!(), done };
  }

  it('admits batches of the current size while they fit in the capacity, at most `max` at once, and always one alone', async () => {
    const slots = adaptiveFetchSlots({ budgetBytes: 100, batchBytes: 40, maxBlocksPerBatch: 10, min: 1, max: 3, assumedBytesPerBlock: 10 });
    slots.observe(100, 10); // 10 bytes per block: batches of 4 blocks, 10 blocks fit
    expect(sizes(slots)).toEqual({ capacityBlocks: 10, blocksPerBatch: 4 });
    const t = tasks(slots, 5);
    await tick();
    expect(t.running()).toEqual({ 0: 4, 1: 4 }); // a third batch of 4 would make 12
    for (let i = 0; i < 40; i++) slots.observe(200, 10); // 20 bytes per block: batches of 2 blocks, 5 blocks fit
    expect(sizes(slots)).toEqual({ capacityBlocks: 5, blocksPerBatch: 2 });
    t.release(0);
    await tick();
    expect(t.running()).toEqual({ 1: 4 }); // 4 + 2 > 5: the next waits
    t.release(1);
    await tick();
    expect(t.running()).toEqual({ 2: 2, 3: 2 }); // 2 + 2; a third would make 6
    for (let i = 0; i < 40; i++) slots.observe(1000, 1); // 1,000 bytes per block: none fits the budget; min 1 batch
    expect(sizes(slots)).toEqual({ capacityBlocks: 1, blocksPerBatch: 1 });
    t.release(2);
    t.release(3);
    await tick();
    expect(t.running()).toEqual({ 4: 1 }); // alone, as nothing else runs
    t.release(4);
    expect(await Promise.all(t.done)).toEqual([0, 1, 2, 3, 4]);
  });

  it('admits at most `max` batches however small, lower priority first, then in order', async () => {
    const slots = adaptiveFetchSlots({ budgetBytes: 1000, batchBytes: 10, maxBlocksPerBatch: 10, min: 1, max: 2, assumedBytesPerBlock: 1 });
    slots.observe(10, 10); // 1 byte per block: batches of 10, 1,000 blocks fit; `max` 2 holds
    const t = tasks(slots, 5, [300, 100, 200, 100, 0]);
    await tick();
    expect(t.running()).toEqual({ 0: 10, 1: 10 }); // the first two were admitted as they came, nothing ran
    t.release(0);
    await tick();
    expect(t.running()).toEqual({ 1: 10, 4: 10 }); // priority 0 before 100, 100 and 200
    t.release(4);
    await tick();
    expect(t.running()).toEqual({ 1: 10, 3: 10 });
    t.release(1);
    t.release(3);
    await tick();
    expect(t.running()).toEqual({ 2: 10 });
    t.release(2);
    expect(await Promise.all(t.done)).toEqual([0, 1, 2, 3, 4]);
  });

  it('a failing task gives its share back and rejects with its error', async () => {
    const slots = fixedFetchSlots(1, 10);
    await expect(slots.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await slots.run((blocks) => Promise.resolve(`next with ${blocks} blocks`))).toBe('next with 10 blocks');
  });

  it('fixedFetchSlots() keeps its sizes whatever the answers weigh; workerFetchSlots() gives mainnet batches of 5 blocks, 40 in flight with 32 MiB', () => {
    expect(() => fixedFetchSlots(4, 0)).toThrow('fetch slots need integers ≥ 1, got 4 slots of 0 blocks');
    const fixed = fixedFetchSlots(4, 10);
    fixed.observe(1e9, 1);
    expect(sizes(fixed)).toEqual({ capacityBlocks: 40, blocksPerBatch: 10 });
    const worker = workerFetchSlots(32 * MiB);
    expect(sizes(worker)).toEqual({ capacityBlocks: 32, blocksPerBatch: 4 }); // 1 MiB per block assumed
    worker.observe(7_800_000, 10); // the bench's mainnet blocks: 0.78 MB of JSON each
    expect(sizes(worker)).toEqual({ capacityBlocks: 43, blocksPerBatch: 5 });
    const small = workerFetchSlots(16 * MiB);
    small.observe(7_800_000, 10);
    expect(sizes(small)).toEqual({ capacityBlocks: 21, blocksPerBatch: 5 });
  });
});

describe('the pool tells accept() how many bytes of JSON an answer had', () => {
  const body = JSON.stringify([{ jsonrpc: '2.0', id: 0, result: '0x1' }, { jsonrpc: '2.0', id: 1, result: '0x2a' }]);
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('batch() passes the body length with the outcomes and the endpoint label', async () => {
    const pool = createRpcPool({ urls: [url], timeoutMs: 5000, log: createLogger({ level: 'error', pretty: false }) });
    try {
      const seen = await pool.batch(
        [{ method: 'eth_chainId', params: [] }, { method: 'eth_blockNumber', params: [] }],
        (outcomes, label, bodyBytes) => ({ outcomes, label, bodyBytes }),
      );
      expect(seen).toEqual({ outcomes: [{ ok: true, result: '0x1' }, { ok: true, result: '0x2a' }], label: `127.0.0.1:${new URL(url).port}#1`, bodyBytes: 82 }); // the body above is 82 bytes
    } finally {
      pool.close();
    }
  });
});
