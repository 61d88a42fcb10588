/**
 * The pool's guard against an endpoint on another fork (src/rpc/chain-head.ts fetchForkAnchor,
 * src/rpc/pool.ts benchOtherFork): local node:http JSON-RPC servers, each with its own head and
 * its own hash of block 20; no other service.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { fetchForkAnchor } from '../../../src/rpc/chain-head.js';
import { createRpcPool, OTHER_FORK_BENCH_MS, type RpcPool } from '../../../src/rpc/pool.js';

const hashOf = (tag: string) => `0x${tag.repeat(64).slice(0, 64)}`;

/** A node with head `head` whose block 20 has hash `hashOf(tag)` (none when `tag` is null); it counts the calls it got. */
async function startNode(head: number, tag: string | null): Promise<{ url: string; calls: () => number; server: Server }> {
  let calls = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const parsed = JSON.parse(body) as { id: number; method: string; params: unknown[] } | { id: number; method: string; params: unknown[] }[];
      const batch = Array.isArray(parsed) ? parsed : [parsed];
      calls += batch.length;
      const results = batch.map((c) => ({
        jsonrpc: '2.0', id: c.id,
        result: c.method === 'eth_blockNumber' ? `0x${head.toString(16)}`
          : c.method === 'eth_getBlockByNumber' && tag !== null && c.params[0] === '0x14' ? { number: '0x14', hash: hashOf(tag) }
            : c.method === 'eth_getBlockByNumber' ? null : '0x1',
      }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(Array.isArray(parsed) ? results : results[0]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, calls: () => calls, server };
}

const servers: Server[] = [];
const pools: RpcPool[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) pool.close();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function poolOf(nodes: readonly [number, string | null][]) {
  const started = await Promise.all(nodes.map(([head, tag]) => startNode(head, tag)));
  servers.push(...started.map((s) => s.server));
  const lines: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
  const pool = createRpcPool({ urls: started.map((s) => s.url), timeoutMs: 2_000, log, random: () => 1 });
  pools.push(pool);
  return { pool, nodes: started, lines };
}

describe('fetchForkAnchor()', () => {
  it('takes the hash of the endpoint with the highest head and benches each endpoint behind it that has another one', async () => {
    const { pool, lines } = await poolOf([[29, 'b'], [30, 'a'], [30, 'a'], [25, null]]);
    const anchor = await fetchForkAnchor(pool, 20);
    expect(lines.map((l) => JSON.parse(l) as { msg: string; endpoint: string; benchMs: number; why: string }).map(({ msg, endpoint, benchMs, why }) => ({ msg, endpoint, benchMs, why }))).toEqual([{
      msg: 'endpoint-on-other-fork', endpoint: pool.labels[0], benchMs: OTHER_FORK_BENCH_MS,
      why: `${pool.labels[0]}: block 20 has hash ${hashOf('b')}, but ${pool.labels[1]} (head 30, the highest) has ${hashOf('a')}: ${pool.labels[0]} serves another fork`,
    }]);
    const { answered: _answered, ...fields } = anchor!;
    expect(fields).toEqual({
      number: 20, hash: hashOf('a'), label: pool.labels[1], head: 30,
      heads: new Map([[pool.labels[0], 29], [pool.labels[1], 30], [pool.labels[2], 30], [pool.labels[3], 25]]),
      hashes: new Map([[pool.labels[0], hashOf('b')], [pool.labels[1], hashOf('a')], [pool.labels[2], hashOf('a')]]),
    });
    const benched = pool.health().map((h) => [h.endpoint, h.benchedForMs > 0 && h.benchedForMs <= OTHER_FORK_BENCH_MS]);
    // #1 is on another fork; #4 lacks the block (lagging, not benched: its null answers are refused where they come).
    expect(benched).toEqual([[pool.labels[0], true], [pool.labels[1], false], [pool.labels[2], false], [pool.labels[3], false]]);
    const whyNot: string[] = [];
    await pool.broadcast([{ method: 'eth_blockNumber', params: [] }], () => 1, undefined, whyNot);
    expect(whyNot).toEqual([`${pool.labels[0]}: benched for 30 s on another fork`]);
  });

  it('benches no endpoint at the same head with another hash (a competing block at the tip, not a stale node)', async () => {
    const { pool, lines } = await poolOf([[30, 'a'], [30, 'b']]);
    expect((await fetchForkAnchor(pool, 20))?.hash).toBe(hashOf('a'));
    expect([pool.health().map((h) => h.benchedForMs), lines]).toEqual([[0, 0], []]);
  });

  it('is null when the endpoint with the highest head lacks the block; benches nothing', async () => {
    const { pool } = await poolOf([[19, null], [21, null]]);
    expect(await fetchForkAnchor(pool, 20)).toBeNull();
    expect(pool.health().map((h) => h.benchedForMs)).toEqual([0, 0]);
  });
});

describe('benchOtherFork()', () => {
  it('benches the endpoint once: the next requests go to the others, and with none left the error says why', async () => {
    const { pool, nodes, lines } = await poolOf([[30, 'a'], [30, 'a']]);
    pool.benchOtherFork(pool.labels[0]!, 'first');
    pool.benchOtherFork(pool.labels[0]!, 'again'); // benched already: not again, not logged again
    expect(await pool.call('eth_chainId', [])).toBe('0x1');
    expect(nodes.map((n) => n.calls())).toEqual([0, 1]);
    pool.benchOtherFork(pool.labels[1]!, 'second');
    await expect(pool.call('eth_chainId', [])).rejects.toThrow(`no RPC endpoint is usable now (${pool.labels[0]}: benched on another fork, ${pool.labels[1]}: benched on another fork)`);
    expect(nodes.map((n) => n.calls())).toEqual([0, 1]);
    expect(lines.map((l) => (JSON.parse(l) as { why: string }).why)).toEqual(['first', 'second']);
  });

  it('benchOtherFork() leaves a pool of one endpoint alone (there is no other to ask)', async () => {
    const { pool } = await poolOf([[30, 'a']]);
    pool.benchOtherFork(pool.labels[0]!, 'why');
    expect(pool.health()[0]!.benchedForMs).toBe(0);
    expect(await pool.call('eth_chainId', [])).toBe('0x1');
  });
});
