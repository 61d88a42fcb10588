/**
 * JSON-RPC 2.0 over HTTP (EIP-1474, node:http) serving a synthetic chain (generate.ts): single
 * calls and batches answered by `id`, an injected round trip per HTTP request, and optional request
 * budgets per URL path (give each worker its own path, e.g. `/w1`, and the budget is per worker):
 * a rate (HTTP 429 with Retry-After beyond it) and a number of requests served at once (more wait
 * in line, as at a provider with a concurrency cap). Its own CPU time is at `GET /stats`.
 * Block answers are serialized once per block into Buffers (outside V8's heap, so the cache is not
 * bounded by the heap limit) and kept in a bounded cache; an answer is written as its parts, the
 * cached bytes never copied or re-encoded. Bench support only: `src/` never imports it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freemem } from 'node:os';
import type { SyntheticChain } from './generate.js';

/**
 * Serialized blocks kept by default, in MiB: half the memory free at start (about 10,000 MiB on a
 * machine with 20 GiB free: 13,000 mainnet blocks, 190,000 light ones), so a bench's blocks are all
 * serialized before it runs and serving costs the server little CPU, however long the run.
 */
export function defaultCacheMb(freeBytes = freemem()): number {
  return Math.max(64, Math.floor(freeBytes / 2 / 2 ** 20));
}
/** Distance of the `safe` and `finalized` tags below the head, in blocks (as on Ethereum, roughly). */
const SAFE_DEPTH_BLOCKS = 32;
const FINALIZED_DEPTH_BLOCKS = 64;

/** Counters since start; CPU in ms of this process (user + system). */
export type ServerStats = { httpRequests: number; calls: number; rateLimited: number; cpuMs: number; byMethod: Record<string, number> };

/** A running synthetic chain server. */
export type SyntheticServer = { url: string; stats(): ServerStats; close(): Promise<void> };

/**
 * Options: `blocks` served (numbers 0..blocks−1, head = blocks−1); latency per HTTP request in ms;
 * `rateLimit` requests/s per URL path (0 = none); `cacheMb` of serialized blocks kept (default
 * {@link defaultCacheMb}); `prewarm` serializes blocks from 0 up until the cache is full before
 * listening (so serving costs little CPU);
 * `maxInFlight` HTTP requests per URL path are served at once, the others wait in line.
 */
export type ServerOptions = {
  chain: SyntheticChain; blocks: number; latencyMs: number; rateLimit: number; port?: number; cacheMb?: number; prewarm?: boolean;
  /** HTTP requests served at once per URL path; more wait in line (0 = no cap). */
  maxInFlight?: number;
};

/** Starts the server on 127.0.0.1 (`port`, default a free one). */
export async function startSyntheticServer(options: ServerOptions): Promise<SyntheticServer> {
  const { chain } = options;
  const cacheBytes = (options.cacheMb ?? defaultCacheMb()) * 1024 * 1024;
  const head = options.blocks - 1;
  const cache = new Map<number, { block: Buffer; receipts: Buffer }>();
  let cachedBytes = 0;
  const stats = { httpRequests: 0, calls: 0, rateLimited: 0, byMethod: {} as Record<string, number> };
  const buckets = new Map<string, { tokens: number; atMs: number }>();
  const cpuAtStart = process.cpuUsage();

  const serialize = (n: number) => {
    const { block, receipts } = chain.bundle(n);
    return { block: Buffer.from(JSON.stringify(block)), receipts: Buffer.from(JSON.stringify(receipts)) };
  };
  const serialized = (n: number) => {
    let entry = cache.get(n);
    if (entry) return entry;
    entry = serialize(n);
    cachedBytes += entry.block.length + entry.receipts.length;
    cache.set(n, entry);
    for (const [oldest, old] of cache) {
      if (cachedBytes <= cacheBytes) break;
      cache.delete(oldest);
      cachedBytes -= old.block.length + old.receipts.length;
    }
    return entry;
  };
  const blockNumberOf = (param: unknown): number | null => {
    if (param === 'latest' || param === 'pending') return head;
    if (param === 'safe') return Math.max(0, head - SAFE_DEPTH_BLOCKS);
    if (param === 'finalized') return Math.max(0, head - FINALIZED_DEPTH_BLOCKS);
    if (param === 'earliest') return 0;
    if (typeof param !== 'string' || !/^0x[0-9a-f]+$/i.test(param)) return null;
    const n = parseInt(param, 16);
    return n <= head ? n : null;
  };
  /** The JSON text of one call's result (a block's cached bytes, or a string). */
  const answer = (method: string, params: unknown[]): string | Buffer | { code: number; message: string } => {
    switch (method) {
      case 'eth_chainId': return JSON.stringify(`0x${chain.chainId.toString(16)}`);
      case 'eth_blockNumber': return JSON.stringify(`0x${head.toString(16)}`);
      case 'eth_getBlockByNumber': {
        const n = blockNumberOf(params[0]);
        if (n === null) return 'null';
        if (params[1] === true) return serialized(n).block;
        const { transactions, ...header } = chain.bundle(n).block;
        return JSON.stringify({ ...header, transactions: transactions.map((t) => t.hash) });
      }
      case 'eth_getBlockReceipts': {
        const n = blockNumberOf(params[0]);
        return n === null ? 'null' : serialized(n).receipts;
      }
      case 'eth_getTransactionReceipt': {
        const at = typeof params[0] === 'string' ? chain.locateTransaction(params[0]) : null;
        if (at === null || at.blockNumber > head) return 'null';
        return JSON.stringify(chain.bundle(at.blockNumber).receipts[at.transactionIndex] ?? null);
      }
      default: return { code: -32601, message: `the method ${method} does not exist/is not available` };
    }
  };
  const isLimited = (path: string): boolean => {
    if (options.rateLimit <= 0) return false;
    const now = Date.now();
    const bucket = buckets.get(path) ?? { tokens: options.rateLimit, atMs: now };
    bucket.tokens = Math.min(options.rateLimit, bucket.tokens + ((now - bucket.atMs) / 1000) * options.rateLimit);
    bucket.atMs = now;
    buckets.set(path, bucket);
    if (bucket.tokens < 1) return true;
    bucket.tokens -= 1;
    return false;
  };

  const lines = new Map<string, { inFlight: number; waiting: (() => void)[] }>();
  /** Runs `serve` when the path has a free slot; `serve` calls the returned `done` when it answered. */
  const admit = (path: string, serve: (done: () => void) => void) => {
    const cap = options.maxInFlight ?? 0;
    if (cap <= 0) return serve(() => undefined);
    const line = lines.get(path) ?? { inFlight: 0, waiting: [] };
    lines.set(path, line);
    const start = () => {
      line.inFlight += 1;
      serve(() => {
        line.inFlight -= 1;
        line.waiting.shift()?.();
      });
    };
    if (line.inFlight < cap) start();
    else line.waiting.push(start);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: string, done: () => void) => {
    if (req.method === 'GET' && req.url === '/stats') {
      done();
      const cpu = process.cpuUsage(cpuAtStart);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...stats, cpuMs: Math.round((cpu.user + cpu.system) / 1000) }));
      return;
    }
    stats.httpRequests += 1;
    if (isLimited(req.url ?? '/')) {
      stats.rateLimited += 1;
      setTimeout(() => {
        res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":null,"error":{"code":-32005,"message":"rate limit exceeded"}}');
        done();
      }, options.latencyMs);
      return;
    }
    // The answer's bytes in order: JSON text around the cached blocks, which are written as they are.
    let parts: Buffer[];
    try {
      const parsed = JSON.parse(body) as unknown;
      const batch = Array.isArray(parsed);
      const calls = (batch ? parsed : [parsed]) as { id?: unknown; method?: string; params?: unknown[] }[];
      parts = [];
      let text = batch ? '[' : '';
      calls.forEach((c, i) => {
        stats.calls += 1;
        const method = String(c.method);
        stats.byMethod[method] = (stats.byMethod[method] ?? 0) + 1;
        const result = answer(method, c.params ?? []);
        const id = JSON.stringify(c.id ?? null);
        text += `${i > 0 ? ',' : ''}{"jsonrpc":"2.0","id":${id},`;
        if (typeof result === 'string') text += `"result":${result}}`;
        else if (Buffer.isBuffer(result)) {
          parts.push(Buffer.from(`${text}"result":`), result);
          text = '}';
        } else text += `"error":${JSON.stringify(result)}}`;
      });
      parts.push(Buffer.from(batch ? `${text}]` : text));
    } catch {
      parts = [Buffer.from('{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}')];
    }
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': parts.reduce((sum, p) => sum + p.length, 0) });
      res.cork();
      for (const p of parts) res.write(p);
      res.end();
      done();
    }, options.latencyMs);
  };

  if (options.prewarm) {
    // The lowest blocks, as many as fit: the run reads from block 0, and a block that did not fit
    // must not evict one it reads before (which would make every later read a miss).
    for (let n = 0; n <= head; n++) {
      const entry = serialize(n);
      const size = entry.block.length + entry.receipts.length;
      if (cachedBytes + size > cacheBytes) break;
      cache.set(n, entry);
      cachedBytes += size;
    }
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => admit(req.method === 'GET' ? '' : req.url ?? '/', (done) => handle(req, res, Buffer.concat(chunks).toString('utf8'), done)));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats: () => {
      const cpu = process.cpuUsage(cpuAtStart);
      return { ...stats, byMethod: { ...stats.byMethod }, cpuMs: Math.round((cpu.user + cpu.system) / 1000) };
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
