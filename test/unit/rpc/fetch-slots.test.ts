import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerFetchSlots } from '../../../src/activities/index.js';
import { createLogger } from '../../../src/log.js';
import { adaptiveFetchSlots, createRpcPool, fixedFetchSlots } from '../../../src/rpc/index.js';

const MiB = 2 ** 20;

describe('src/rpc/fetch-slots.ts', () => {
  it('adaptiveFetchSlots() starts at min and fits as many 10-block batches as the budget holds by the mean bytes per block', () => {
    const slots = adaptiveFetchSlots({ budgetBytes: 32 * MiB, blocksPerBatch: 10, min: 2, max: 8 });
    expect(slots.size).toBe(2);
    slots.observe(8 * MiB, 10); // 0.8 MiB per block: 8 MiB per batch, 4 fit in 32 MiB
    expect(slots.size).toBe(4);
    slots.observe(300_000, 10); // light blocks: the mean falls to 0.8 × 0.8 MiB + 0.2 × 30 kB ≈ 0.68 MB per block
    expect(slots.size).toBe(4);
    for (let i = 0; i < 30; i++) slots.observe(300_000, 10);
    expect(slots.size).toBe(8); // capped at max
    for (let i = 0; i < 30; i++) slots.observe(200 * MiB, 10); // 20 MiB per block: not even one batch fits
    expect(slots.size).toBe(2); // never below min
  });

  it('adaptiveFetchSlots() ignores answers of no blocks and refuses bad bounds naming them', () => {
    const slots = adaptiveFetchSlots({ budgetBytes: 32 * MiB, blocksPerBatch: 10, min: 3, max: 8 });
    slots.observe(1000, 0);
    expect(slots.size).toBe(3);
    expect(() => adaptiveFetchSlots({ budgetBytes: 32 * MiB, blocksPerBatch: 10, min: 0, max: 8 })).toThrow('fetch slots need integers 1 ≤ min ≤ max, got min=0 max=8');
    expect(() => adaptiveFetchSlots({ budgetBytes: 32 * MiB, blocksPerBatch: 10, min: 4, max: 2 })).toThrow('fetch slots need integers 1 ≤ min ≤ max, got min=4 max=2');
    expect(() => adaptiveFetchSlots({ budgetBytes: 0, blocksPerBatch: 10, min: 1, max: 2 })).toThrow('fetch slots need a positive budget and batch size, got 0 bytes and 10 blocks');
  });

  it('runs at most `size` tasks at once; tasks running when the slots shrink finish, and no new one starts until fewer run', async () => {
    const slots = adaptiveFetchSlots({ budgetBytes: 80, blocksPerBatch: 1, min: 1, max: 4 });
    slots.observe(20, 1); // 80 / 20 = 4 slots
    expect(slots.size).toBe(4);
    let running = 0;
    let most = 0;
    const releases: (() => void)[] = [];
    const task = () => slots.run(() => new Promise<void>((resolve) => {
      running += 1;
      most = Math.max(most, running);
      releases.push(() => { running -= 1; resolve(); });
    }));
    const all = Array.from({ length: 6 }, task);
    await new Promise((r) => setTimeout(r, 0));
    expect(running).toBe(4);
    slots.observe(80, 1); // the mean becomes 20 + 0.2 × 60 = 32 bytes per block: 2 slots
    expect(slots.size).toBe(2);
    releases.shift()!();
    await new Promise((r) => setTimeout(r, 0));
    expect(running).toBe(3); // 3 still run: none started, as 3 ≥ 2
    while (releases.length > 0) {
      releases.shift()!();
      await new Promise((r) => setTimeout(r, 0));
    }
    await Promise.all(all);
    expect(most).toBe(4);
    expect(running).toBe(0);
  });

  it('fixedFetchSlots() keeps its size whatever the answers weigh; workerFetchSlots() starts at 2 and allows at most 8', () => {
    const fixed = fixedFetchSlots(4);
    fixed.observe(1e9, 1);
    expect(fixed.size).toBe(4);
    const worker = workerFetchSlots(32 * MiB);
    expect(worker.size).toBe(2);
    worker.observe(1000, 10);
    expect(worker.size).toBe(8);
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
