/**
 * `streamBlocks` holding a range to the fork anchor (src/rpc/fetch-blocks.ts holdToAnchor,
 * src/rpc/chain-head.ts fetchForkAnchor), on synthetic chains of empty blocks served by local
 * node:http JSON-RPC servers (cases from a review helper, session 36). Each node has a head and a
 * fork point from which its blocks carry its own fork's hashes (below it, the common chain `c`).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { fetchChainHead } from '../../../src/rpc/chain-head.js';
import { fixedFetchSlots } from '../../../src/rpc/fetch-slots.js';
import { streamBlocks } from '../../../src/rpc/fetch-blocks.js';
import { createRpcPool, type RpcPool } from '../../../src/rpc/pool.js';

/** Block `n`'s hash on fork `fork` (`c`: the common chain). */
const h = (fork: string, n: number) => `0x${(fork.charCodeAt(0).toString(16).padStart(2, '0') + n.toString(16).padStart(8, '0')).padStart(64, '0')}`;
const ZERO_BLOOM = `0x${'0'.repeat(512)}`;

type NodeOptions = {
  head: number;
  /** Blocks ≥ forkAt carry `fork`'s hashes; below, the common chain 'c'. */
  fork?: string;
  forkAt?: number;
  /** The `finalized` tag's block (default: none, the tag unknown). */
  finalized?: number;
  /** HTTP 503 to the first `failAnchor` requests holding eth_blockNumber (the anchor's batch). */
  failAnchor?: number;
  /** Requests holding eth_blockNumber wait for this first. */
  holdAnchor?: Promise<void>;
  /** Refuses eth_getBlockReceipts (-32601). */
  noBlockReceipts?: boolean;
};
type Node = { url: string; server: Server; requests: string[][] };

const hashAt = (o: NodeOptions, n: number) => (o.fork && n >= (o.forkAt ?? Infinity) ? h(o.fork, n) : h('c', n));

async function startNode(o: NodeOptions): Promise<Node> {
  const requests: string[][] = [];
  let anchorFailures = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', async () => {
      const parsed = JSON.parse(body) as { id: number; method: string; params: unknown[] } | { id: number; method: string; params: unknown[] }[];
      const batch = Array.isArray(parsed) ? parsed : [parsed];
      requests.push(batch.map((c) => c.method));
      const isAnchor = batch.some((c) => c.method === 'eth_blockNumber');
      if (isAnchor && anchorFailures < (o.failAnchor ?? 0)) {
        anchorFailures++;
        res.writeHead(503).end('unavailable');
        return;
      }
      if (isAnchor) await o.holdAnchor;
      const results = batch.map((c) => {
        const tag = c.params[0];
        const n = tag === 'latest' || tag === 'safe' ? o.head : tag === 'finalized' ? o.finalized : Number(BigInt(String(tag ?? '0x0')));
        let result: unknown = null;
        if (c.method === 'eth_blockNumber') result = `0x${o.head.toString(16)}`;
        else if (c.method === 'eth_getBlockByNumber' && n !== undefined && n <= o.head) {
          result = { number: `0x${n.toString(16)}`, hash: hashAt(o, n), parentHash: n === 0 ? h('z', 0) : hashAt(o, n - 1), timestamp: `0x${(1000 + n).toString(16)}`, logsBloom: ZERO_BLOOM, gasUsed: '0x0', transactions: [] };
        } else if (c.method === 'eth_getBlockReceipts' && o.noBlockReceipts) return { jsonrpc: '2.0', id: c.id, error: { code: -32601, message: 'the method eth_getBlockReceipts does not exist/is not available' } };
        else if (c.method === 'eth_getBlockReceipts') result = Number(BigInt(String(tag))) > o.head ? null : [];
        return { jsonrpc: '2.0', id: c.id, result };
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(Array.isArray(parsed) ? results : results[0]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server, requests };
}

const servers: Server[] = [];
const pools: RpcPool[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) pool.close();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A pool over nodes started with `options`, in that order; it asks the first endpoint first (never explores). */
async function poolOf(options: NodeOptions[]) {
  const nodes = await Promise.all(options.map(startNode));
  servers.push(...nodes.map((n) => n.server));
  const lines: { msg: string; endpoint?: string }[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string }) });
  const pool = createRpcPool({ urls: nodes.map((n) => n.url), timeoutMs: 2_000, log, random: () => 1 });
  pools.push(pool);
  return { pool, nodes, lines };
}

/** The hashes of blocks `from..to` as `streamBlocks` returns them; `perBatch` blocks per JSON-RPC batch, one batch at a time. */
const hashes = async (pool: RpcPool, from: number, to: number, perBatch = 50) =>
  (await streamBlocks(pool, { from, to }, { onBundles: () => undefined, slots: fixedFetchSlots(1, perBatch) })).map((l) => l.hash);
const benched = (pool: RpcPool) => pool.health().map((x) => x.benchedForMs > 0);
const blockBatches = (node: Node) => node.requests.filter((r) => r.includes('eth_getBlockReceipts')).length;

describe('streamBlocks() and the fork anchor', () => {
  it('a stale endpoint asked first, behind on its own fork: its answer is refused, it is benched, and the range is the canonical chain', async () => {
    const { pool, nodes, lines } = await poolOf([{ head: 25, fork: 'b', forkAt: 18 }, { head: 30 }]);
    expect(await hashes(pool, 15, 20)).toEqual([15, 16, 17, 18, 19, 20].map((n) => h('c', n)));
    expect([blockBatches(nodes[0]!), blockBatches(nodes[1]!)]).toEqual([1, 1]);
    expect([benched(pool), lines.map((l) => [l.msg, l.endpoint])]).toEqual([[true, false], [['endpoint-on-other-fork', pool.labels[0]]]]);
  });

  it('blocks of the stale fork below a canonical top: the links break, the range fails, and the endpoint that served them is benched', async () => {
    const { pool } = await poolOf([{ head: 25, fork: 'b', forkAt: 16 }, { head: 30 }]);
    // 15–17 from the stale node (16, 17 of its fork), then 18–20: refused there, taken from the canonical one.
    await expect(hashes(pool, 15, 20, 3)).rejects.toThrow(`block 18: parentHash ${h('c', 17)} does not match hash ${h('b', 17)} of block 17`);
    expect(benched(pool)).toEqual([true, false]);
  });

  it('a node stopped on a replaced block (its head): not benched, but its refuted answers rank it down, so the retry of the range is canonical', async () => {
    const { pool, lines } = await poolOf([{ head: 17, fork: 'b', forkAt: 16 }, { head: 30 }]);
    await expect(hashes(pool, 15, 20, 3)).rejects.toThrow(`block 18: parentHash ${h('c', 17)} does not match hash ${h('b', 17)} of block 17`);
    expect(await hashes(pool, 15, 20, 3)).toEqual([15, 16, 17, 18, 19, 20].map((n) => h('c', n)));
    expect([benched(pool), lines]).toEqual([[false, false], []]);
    expect(pool.health()[0]!.errors).toEqual({ RpcBadResponseError: 2 }); // block 18 not found there, then its block 17 refuted
  });

  it('the highest endpoint fails the anchor\'s batch once: the anchor is read again, so the stale endpoint asked first is still refused and benched', async () => {
    const { pool } = await poolOf([{ head: 25, fork: 'b', forkAt: 18 }, { head: 30, failAnchor: 1 }]);
    await fetchChainHead(pool); // head 30 read: the stale node (25) cannot settle the anchor early
    expect(await hashes(pool, 15, 20)).toEqual([15, 16, 17, 18, 19, 20].map((n) => h('c', n)));
    expect(benched(pool)).toEqual([true, false]);
  });

  it('the endpoints keep failing the anchor\'s batch: nothing is sure, so nothing is refused or benched', async () => {
    const { pool } = await poolOf([{ head: 30, failAnchor: 2 }, { head: 25, fork: 'b', forkAt: 18 }]);
    expect(await hashes(pool, 15, 20)).toEqual([15, 16, 17, 18, 19, 20].map((n) => h('c', n)));
    expect(benched(pool)).toEqual([false, false]);
  });

  it('a reorg at the tip seen first by the endpoint that serves the blocks, which answers the anchor late: the range is fetched again, nobody blamed', async () => {
    const options: NodeOptions[] = [{ head: 20 }, { head: 20 }];
    const { pool } = await poolOf(options);
    await fetchChainHead(pool); // head 20 read; then block 20 is replaced on the first endpoint, slow to answer the anchor
    pool.refute(pool.labels[1]!, 'ranked down for the test, so the first endpoint serves the blocks');
    let release: () => void = () => undefined;
    Object.assign(options[0]!, { head: 21, fork: 'a', forkAt: 20, holdAnchor: new Promise<void>((resolve) => { release = resolve; }) });
    setTimeout(() => release(), 50);
    await expect(hashes(pool, 11, 20)).rejects.toThrow(`block 20: the endpoints disagree on the range's last block: ${pool.labels[0]} (head 21) has block 20 with hash ${h('a', 20)}, not ${h('c', 20)} as ${pool.labels[1]} (head 20) had it (a reorg at the tip); the range is fetched again`);
    expect(benched(pool)).toEqual([false, false]);
    await fetchChainHead(pool); // the sync's next head read: 21
    expect((await hashes(pool, 11, 20)).at(-1)).toBe(h('a', 20)); // the next attempt: the first endpoint, at the head read, is the anchor now
  });

  it('the only endpoint left after a refusal lacks eth_getBlockReceipts: the range takes the eth_getTransactionReceipt way there', async () => {
    const { pool } = await poolOf([{ head: 30, noBlockReceipts: true }, { head: 30, fork: 'd', forkAt: 20 }]);
    await pool.call('eth_getBlockReceipts', ['0x1']).catch(() => undefined); // its refusal known already (an earlier range)
    expect((await hashes(pool, 11, 20)).at(-1)).toBe(h('c', 20));
  });

  it('a node a moment behind a reorg at the tip (its head is the block the others replaced) has its answer refused, not a bench', async () => {
    // The first saw block 20 replaced (20 and 21 of fork `a`); the second still has the old 20 as its head.
    const { pool, nodes, lines } = await poolOf([{ head: 20 }, { head: 21, fork: 'a', forkAt: 20 }]);
    expect((await hashes(pool, 11, 20)).at(-1)).toBe(h('a', 20));
    expect([blockBatches(nodes[0]!), blockBatches(nodes[1]!), benched(pool), lines]).toEqual([1, 1, [false, false], []]);
  });

  it('a competing block at the same head: the first endpoint in the pool\'s order is the anchor; the other is refused, not benched', async () => {
    const { pool, lines } = await poolOf([{ head: 30 }, { head: 30, fork: 'd', forkAt: 20 }]);
    expect((await hashes(pool, 11, 20)).at(-1)).toBe(h('c', 20));
    expect([benched(pool), lines]).toEqual([[false, false], []]);
  });

  it('once the head is read, the anchor is settled by an endpoint at that head: a range does not wait for a slow endpoint\'s answer', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => { release = resolve; });
    const { pool } = await poolOf([{ head: 30 }, { head: 30, holdAnchor: held }]);
    await fetchChainHead(pool);
    try {
      // Resolves while the second endpoint's answer is still held (without the early anchor it would wait for it).
      expect((await hashes(pool, 11, 20)).at(-1)).toBe(h('c', 20));
    } finally {
      release();
    }
  });

  it('costs one small batch per endpoint per range, and nothing with one usable endpoint', async () => {
    const two = await poolOf([{ head: 30, finalized: 25 }, { head: 30, finalized: 25 }]);
    await fetchChainHead(two.pool);
    const before = two.nodes.map((n) => n.requests.length);
    await hashes(two.pool, 11, 20);
    // The blocks' batch, and the anchor's batch of each (below the finalized block too: a stale node may call its own head final).
    const kinds = (requests: string[][]) => requests.map((r) => (r.includes('eth_blockNumber') ? 'anchor' : r.includes('eth_getBlockReceipts') ? `blocks (${r.length} calls)` : r.join())).sort();
    expect(two.nodes.map((n, i) => kinds(n.requests.slice(before[i]!))).flat().sort()).toEqual(['anchor', 'anchor', 'blocks (20 calls)']); // blocks: whichever ranks first

    const one = await poolOf([{ head: 30 }, { head: 30 }]);
    one.pool.benchOtherFork(one.pool.labels[1]!, 'left out for this test');
    await hashes(one.pool, 11, 20);
    expect(one.nodes.map((n) => n.requests.length)).toEqual([1, 0]);
  });
});
