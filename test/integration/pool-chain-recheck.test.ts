/**
 * The RPC pool checks `eth_chainId` again when an endpoint comes back from a long outage: one
 * that now serves another chain is excluded for good, one that serves the right chain is used
 * again. Real HTTP servers on loopback; the pool's breaker timings are the real ones (5 s).
 */
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { createRpcPool, type RpcPool } from '../../src/rpc/index.js';
import { waitFor } from '../support/stack.js';

type Mode = { down: boolean; chainId: number };

/** A JSON-RPC server answering eth_chainId and eth_blockNumber, or 503 while `down`; records methods. */
async function startNode(mode: Mode): Promise<{ url: string; methods: string[]; close(): Promise<void> }> {
  const methods: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (mode.down) {
        res.writeHead(503).end('down');
        return;
      }
      const calls = JSON.parse(body) as { id: number; method: string }[];
      const answers = calls.map((c) => {
        methods.push(c.method);
        return { jsonrpc: '2.0', id: c.id, result: c.method === 'eth_chainId' ? `0x${mode.chainId.toString(16)}` : '0x10' };
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answers));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/`, methods, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('RPC pool after a long outage', () => {
  const closers: (() => Promise<void>)[] = [];
  let pool: RpcPool | undefined;
  afterEach(async () => {
    pool?.close();
    for (const close of closers.splice(0)) await close();
  });

  it.each([
    ['serves another chain: excluded for good, never asked for data again', 2, true],
    ['serves the same chain: used again', 1, false],
  ] as const)('an endpoint back from a long outage that %s', async (_name, servedAfter, excluded) => {
    const flaky: Mode = { down: false, chainId: 1 };
    const [a, b] = await Promise.all([startNode(flaky), startNode({ down: false, chainId: 1 })]);
    closers.push(a.close, b.close);
    pool = createRpcPool({ urls: [a.url, b.url], timeoutMs: 1_000, log: createLogger({ level: 'silent', pretty: false }), chainId: 1, longOutageMs: 1_000, random: () => 0 }); // always explore: the first usable endpoint (a) is tried first
    flaky.down = true;
    for (let i = 0; i < 8; i++) expect(await pool.call('eth_blockNumber', [])).toBe('0x10'); // fails over to b; a's breaker opens
    expect(pool.health()[0]).toMatchObject({ breaker: 'open' });
    flaky.down = false;
    flaky.chainId = servedAfter;
    a.methods.length = 0;
    await waitFor('the half-open time and the chain check', async () => {
      await pool!.call('eth_blockNumber', []);
      return excluded ? pool!.health()[0]!.excluded : a.methods.includes('eth_blockNumber');
    }, { timeoutMs: 15_000, intervalMs: 100 });
    expect(a.methods[0]).toBe('eth_chainId');
    expect(a.methods.includes('eth_blockNumber')).toBe(!excluded);
    expect(pool.health()[0]!.excluded).toBe(excluded);
  });
});
