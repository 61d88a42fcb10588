/**
 * The pool against an endpoint that refuses batches over a limit, as Erigon does (HTTP 400, one
 * error object, "batch limit N exceeded"), with many batches in flight at once, as a worker sends
 * them. A local node:http server; no other service.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/log.js';
import { createRpcPool, type RpcPool } from '../../../src/rpc/pool.js';

type Endpoint = { url: string; server: Server; stats: { requests: number; largestAnswered: number; inFlight: number; peakInFlight: number } };

/** A JSON-RPC server answering `0x1` to every call of a batch of at most `limit` calls, 20 ms late, and Erigon's refusal to larger ones. */
async function startLimitedEndpoint(limit: number): Promise<Endpoint> {
  const stats = { requests: 0, largestAnswered: 0, inFlight: 0, peakInFlight: 0 };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      stats.requests += 1;
      stats.inFlight += 1;
      stats.peakInFlight = Math.max(stats.peakInFlight, stats.inFlight);
      const calls = JSON.parse(body) as { id: number }[];
      setTimeout(() => {
        stats.inFlight -= 1;
        if (calls.length > limit) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: `batch limit ${limit} exceeded (can increase by --rpc.batch.limit). Requested batch of size: ${calls.length}` } }));
          return;
        }
        stats.largestAnswered = Math.max(stats.largestAnswered, calls.length);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(calls.map((c) => ({ jsonrpc: '2.0', id: c.id, result: '0x1' }))));
      }, 20);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server, stats };
}

describe('src/rpc/pool.ts: refused batches', () => {
  let endpoint: Endpoint | undefined;
  let pool: RpcPool | undefined;
  afterEach(async () => {
    pool?.close();
    await new Promise<void>((resolve) => (endpoint ? endpoint.server.close(() => resolve()) : resolve()));
  });

  // Regression (review of session 13): every attempt refused at the same time halved the shared
  // batch size again (100 → 50 → … → 1), and attempts that met 1 failed although they had sent
  // 50 or 100 calls: 2–6 of 16 batches failed, with hundreds of requests.
  for (const [limit, settled] of [[50, 50], [20, 12], [3, 3]] as const) {
    it(`16 batches of 100 calls at once against a limit of ${limit} calls: all answered, the batch size settles at ${settled}`, async () => {
      endpoint = await startLimitedEndpoint(limit);
      pool = createRpcPool({ urls: [endpoint.url], timeoutMs: 5_000, log: createLogger({ level: 'silent' as never, pretty: false }) });
      const requests = Array.from({ length: 100 }, () => ({ method: 'eth_blockNumber', params: [] }));
      const answers = await Promise.all(Array.from({ length: 16 }, () => pool!.batch(requests, (outcomes) => outcomes.filter((o) => o.ok && o.result === '0x1').length)));
      expect(answers).toEqual(Array.from({ length: 16 }, () => 100));
      expect(pool.health()[0]!.maxBatchCalls).toBe(settled);
      expect(endpoint.stats.largestAnswered).toBeLessThanOrEqual(limit);
      // Unsplit attempts stay within the endpoint's budget (8 at first); split ones share 4 requests at a time.
      expect(endpoint.stats.peakInFlight).toBeLessThanOrEqual(8 + 4);
    });
  }
});
