/**
 * The pool's in-flight budget per endpoint: 8 requests at first, one more per answer in its slow
 * start (until 16 or its first failure), then one more per 20 answers in a row, halved on a rate
 * limit. A local node:http server that answers, fails or rate-limits as told; no other service.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/log.js';
import { createRpcPool, type RpcPool } from '../../../src/rpc/pool.js';

type Answer = 'ok' | 'http-500' | 'rate-limit' | 'some-rate-limited';

/** A JSON-RPC server that answers each HTTP request as `next()` says: `0x1` to every call, HTTP 500, HTTP 429, or the first call refused with -32005 and the others answered. */
async function startEndpoint(next: () => Answer): Promise<{ url: string; server: Server; peakInFlight: () => number }> {
  let inFlight = 0;
  let peak = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      const parsed = JSON.parse(body) as { id: number } | { id: number }[];
      const calls = Array.isArray(parsed) ? parsed : [parsed];
      const answer = next();
      setTimeout(() => {
        inFlight -= 1;
        if (answer === 'http-500') {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('internal error');
          return;
        }
        if (answer === 'rate-limit') {
          res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': '0' });
          res.end('too many requests');
          return;
        }
        const results = calls.map((c, i) => (answer === 'some-rate-limited' && i === 0
          ? { jsonrpc: '2.0', id: c.id, error: { code: -32005, message: 'limit exceeded' } }
          : { jsonrpc: '2.0', id: c.id, result: '0x1' }));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(Array.isArray(parsed) ? results : results[0]));
      }, 5);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server, peakInFlight: () => peak };
}

describe('src/rpc/pool.ts: in-flight budget', () => {
  let server: Server | undefined;
  let pool: RpcPool | undefined;
  afterEach(async () => {
    pool?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  const open = async (next: () => Answer) => {
    const endpoint = await startEndpoint(next);
    server = endpoint.server;
    pool = createRpcPool({ urls: [endpoint.url], timeoutMs: 5_000, log: createLogger({ level: 'silent' as never, pretty: false }) });
    return endpoint;
  };
  const budget = () => pool!.health()[0]!.inFlightBudget;
  const call = () => pool!.call('eth_blockNumber', []);

  it('slow start: 8 at first, one more per answer, 16 at most', async () => {
    await open(() => 'ok');
    expect(budget()).toBe(8);
    await call();
    expect(budget()).toBe(9);
    for (let i = 0; i < 6; i++) await call();
    expect(budget()).toBe(15);
    for (let i = 0; i < 5; i++) await call();
    expect(budget()).toBe(16);
  });

  it('slow start: 16 requests in flight after the first 8 answers', async () => {
    const endpoint = await open(() => 'ok');
    await Promise.all(Array.from({ length: 8 }, () => call()));
    await Promise.all(Array.from({ length: 40 }, () => call()));
    expect(endpoint.peakInFlight()).toBe(16);
  });

  it('a failure ends the slow start: then one more per 20 answers in a row', async () => {
    let first = true;
    await open(() => (first ? ((first = false), 'http-500') : 'ok'));
    await expect(call()).rejects.toThrow();
    expect(budget()).toBe(8);
    for (let i = 0; i < 19; i++) await call();
    expect(budget()).toBe(8);
    await call();
    expect(budget()).toBe(9);
  });

  it('a rate limit halves the budget and ends the slow start', async () => {
    const answers: Answer[] = ['ok', 'ok', 'rate-limit'];
    await open(() => answers.shift() ?? 'ok');
    await call();
    await call();
    expect(budget()).toBe(10);
    await expect(call()).rejects.toThrow();
    expect(budget()).toBe(5);
    for (let i = 0; i < 19; i++) await call();
    expect(budget()).toBe(5);
  });

  it('some calls of an answered batch rate-limited (a per-batch quota): the slow start ends, the budget stays', async () => {
    const answers: Answer[] = ['ok', 'some-rate-limited'];
    await open(() => answers.shift() ?? 'ok');
    await call();
    expect(budget()).toBe(9);
    await pool!.batch([{ method: 'eth_blockNumber', params: [] }, { method: 'eth_blockNumber', params: [] }], (outcomes) => outcomes);
    expect(budget()).toBe(9);
    for (let i = 0; i < 5; i++) await call();
    expect(budget()).toBe(9);
  });
});
