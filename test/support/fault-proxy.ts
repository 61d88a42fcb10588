/**
 * A JSON-RPC fault proxy for integration tests: an HTTP server (node:http) on 127.0.0.1 that takes
 * JSON-RPC POSTs on any path (so endpoint URLs may carry `/v2/<key>` or `?apikey=`), forwards them
 * to an upstream node (anvil) and injects the faults a test sets with `set()`: latency, stalls,
 * HTTP 429 with Retry-After, 5xx, connection resets, non-JSON bodies, an HTML 413 or a client's
 * batch-limit error above a batch size, reordered or missing batch items, a single error object, per-item -32005, a lagging or
 * backwards head, another chain id, -32601 for chosen methods and blocks of a chain reorganized away. `setDown(true)` closes the port.
 *
 * Deterministic: every selection (`When`) counts HTTP requests since the last `set()`/`reset()`
 * (1-based), so `{ every: 2 }` is exactly the 2nd, 4th, … request. Test support only.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Which requests a fault hits: all, the n-th, 2n-th, … (`every`), or the first n (`first`). */
export type When = 'always' | { every: number } | { first: number };

/** The faults of one test. Absent = off. Checked in this order; the first HTTP-level hit answers. */
export type Faults = {
  /** Delay before anything else, in ms. */
  latencyMs?: number;
  /** Never answer (the client times out); the socket is freed by reset/close. */
  stall?: When;
  /** HTTP 429 with `Retry-After: <seconds>` or, with `form: 'http-date'`, the RFC 9110 date that far ahead. */
  http429?: { when: When; retryAfterSeconds: number; form?: 'seconds' | 'http-date' };
  /** HTTP 5xx (default 503) with a text body. */
  http5xx?: { when: When; status?: number };
  /** Destroy the socket without an answer (ECONNRESET / "other side closed"). */
  reset?: When;
  /** Batches with more than this many items get nginx's HTML 413 page. */
  maxBatchItems?: number;
  /**
   * Batches with more than `maxItems` items are refused as a client or provider does (see
   * {@link batchLimitAnswer}): go-ethereum, Erigon, Nethermind or dRPC's free tier.
   */
  batchLimit?: { maxItems: number; style: BatchLimitStyle };
  /** HTTP 200 with an HTML page instead of JSON. */
  garbage?: When;
  /** One JSON-RPC error object (`id: null`) instead of the batch array. */
  /** `onlyWith`: only requests that call this method count for `when` and are hit (e.g. `eth_getBlockReceipts`: the blocks' batches, not the head's reads). */
  singleError?: { when: When; code: number; message: string; onlyWith?: string };
  /** Items at position ≥ `fromItem` (0-based) of a selected batch answer -32005 "request rate exceeded". */
  rateLimitItems?: { when?: When; fromItem: number };
  /** Drop the n-th, 2n-th, … item (1-based) of every batch answer. */
  dropItems?: { every: number };
  /** Reverse the items of every batch answer. */
  reorder?: boolean;
  /**
   * A node `blocks` behind: `latest` and `eth_blockNumber` report head − blocks, blocks above it
   * are `null`, and `eth_getBlockReceipts` above head − `receiptsBlocks` (default `blocks`) is `[]`.
   */
  lag?: { blocks: number; receiptsBlocks?: number };
  /** Selected `latest` reads (counted per read, not per request) report head − blocks; blocks stay served. */
  headBehind?: { blocks: number; when: When };
  /** `eth_chainId` answers this chain id. */
  chainId?: number;
  /** These methods answer -32601 "method not found". */
  unsupportedMethods?: readonly string[];
  /**
   * A node behind a reorg: `eth_getBlockByNumber` and `eth_getBlockReceipts` of these block
   * numbers answer what the chain had before it (recorded by the test), not what it has now.
   */
  stale?: ReadonlyMap<number, { block: unknown; receipts: unknown }>;
};

/** Name of a fault as counted in {@link ProxyStats} and {@link ProxyRecord}. */
export type FaultName =
  | 'latency' | 'stall' | 'http429' | 'http5xx' | 'reset' | 'http413' | 'batchLimit' | 'garbage' | 'singleError' | 'rateLimitItems'
  | 'dropItems' | 'reorder' | 'lag' | 'headBehind' | 'chainId' | 'unsupported' | 'stale';

/** One HTTP request the proxy saw. Times are `Date.now()` ms. */
export type ProxyRecord = {
  /** 1-based index since the last set()/reset(). */
  index: number;
  /** When its headers arrived. */
  atMs: number;
  path: string;
  methods: string[];
  faults: FaultName[];
  /** HTTP status sent; null when stalled, reset or still open. */
  status: number | null;
  /** For a 429: the time its Retry-After asks the client to wait until. */
  retryAfterUntilMs?: number;
};

/** Counters since the last set()/reset(): HTTP requests, JSON-RPC calls by method, fault hits. */
export type ProxyStats = { requests: number; calls: number; byMethod: Record<string, number>; faults: Partial<Record<FaultName, number>> };

/** A running proxy. `url` has no path; append any (`/v2/KEY`). */
export type FaultProxy = {
  readonly url: string;
  readonly port: number;
  /** Replaces the faults and zeroes counters, records and selections. */
  set(faults: Faults): void;
  /** `set({})`. */
  reset(): void;
  stats(): ProxyStats;
  records(): readonly ProxyRecord[];
  /** `true` closes the port and drops every connection (ECONNREFUSED); `false` listens again on the same port. */
  setDown(down: boolean): Promise<void>;
  close(): Promise<void>;
};

type RpcItem = { jsonrpc?: string; id?: unknown; method?: unknown; params?: unknown };
type RpcAnswer = { jsonrpc: '2.0'; id: unknown; result?: unknown; error?: { code: number; message: string; data?: unknown } };

const HTML_413 = '<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';
const HTML_GARBAGE = '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head><body>Checking your browser before accessing the site.</body></html>';

/** Who refuses a batch in {@link Faults.batchLimit}. */
export type BatchLimitStyle = 'geth' | 'erigon' | 'nethermind' | 'drpc';

/**
 * The answer of `style` to a batch of `items` over its limit of `maxItems` calls, as the client's
 * source writes it (HTTP status, body): go-ethereum HTTP 200 with one error item carrying the first
 * call's id (rpc/handler.go `respondWithBatchTooLarge`); Erigon HTTP 400 with one error object
 * (rpc/http.go, rpc/server.go); Nethermind HTTP 503 with one -32005 object (JsonRpcProcessor.cs);
 * dRPC's free tier HTTP 500 with error items without envelope. Pure.
 */
export function batchLimitAnswer(style: BatchLimitStyle, items: readonly { id?: unknown }[], maxItems: number): { status: number; body: string } {
  switch (style) {
    case 'geth':
      return { status: 200, body: JSON.stringify([{ jsonrpc: '2.0', id: items[0]?.id ?? null, error: { code: -32600, message: 'batch too large' } }]) };
    case 'erigon':
      return { status: 400, body: JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: `batch limit ${maxItems} exceeded (can increase by --rpc.batch.limit). Requested batch of size: ${items.length}` } }) };
    case 'nethermind':
      return { status: 503, body: JSON.stringify({ jsonrpc: '2.0', error: { code: -32005, message: 'Batch size limit exceeded' }, id: null }) };
    case 'drpc':
      return { status: 500, body: JSON.stringify([{ message: `Batch of more than ${maxItems} requests are not allowed on free tier`, code: 31 }]) };
  }
}

/** `when` hits request (or read) number `n` (1-based). Pure. */
export function isSelected(when: When | undefined, n: number): boolean {
  if (when === undefined) return false;
  if (when === 'always') return true;
  return 'every' in when ? n % when.every === 0 : n <= when.first;
}

/**
 * Starts a proxy on 127.0.0.1 (`port` or a free one) in front of `upstream` (a JSON-RPC HTTP URL).
 * @throws Error when the port cannot be bound.
 */
export async function startFaultProxy(options: { upstream: string; port?: number }): Promise<FaultProxy> {
  let faults: Faults = {};
  let requestCount = 0;
  /** Requests counted for `singleError.onlyWith` since the faults were set. */
  let singleErrorRequests = 0;
  let latestReads = 0;
  let records: ProxyRecord[] = [];
  let stats: ProxyStats = emptyStats();
  const sockets = new Set<Socket>();
  const hit = (record: ProxyRecord, name: FaultName) => {
    record.faults.push(name);
    stats.faults[name] = (stats.faults[name] ?? 0) + 1;
  };

  const upstream = async (body: unknown): Promise<unknown> => {
    const response = await fetch(options.upstream, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return response.json();
  };

  /** Answers the items: synthesized ones (chain id, -32601, lag, head) here, the rest forwarded as one batch. */
  const answerItems = async (f: Faults, items: RpcItem[], record: ProxyRecord): Promise<RpcAnswer[]> => {
    const needsHead = (f.lag !== undefined || f.headBehind !== undefined)
      && items.some((i) => ['eth_blockNumber', 'eth_getBlockByNumber', 'eth_getBlockReceipts'].includes(String(i.method)));
    const head = needsHead ? Number(BigInt(String(((await upstream(call(0, 'eth_blockNumber', []))) as RpcAnswer).result))) : 0;
    const lagHead = head - (f.lag?.blocks ?? 0);
    const receiptsHead = head - (f.lag?.receiptsBlocks ?? f.lag?.blocks ?? 0);
    const readHead = (): number => {
      latestReads += 1;
      if (f.headBehind && isSelected(f.headBehind.when, latestReads)) {
        hit(record, 'headBehind');
        return lagHead - f.headBehind.blocks;
      }
      if (f.lag) hit(record, 'lag');
      return lagHead;
    };
    const blockNumberOf = (param: unknown): number | null => (typeof param === 'string' && param.startsWith('0x') ? Number(BigInt(param)) : null);
    const answers: RpcAnswer[] = [];
    const forward: RpcItem[] = [];
    const forwardedFrom: number[] = []; // position in `items` of each forwarded item (its upstream id)
    const clampTags: number[] = [];
    items.forEach((item, i) => {
      const method = String(item.method);
      const params = Array.isArray(item.params) ? [...(item.params as unknown[])] : [];
      const reply = (result: unknown) => { answers[i] = { jsonrpc: '2.0', id: item.id, result }; };
      if (f.chainId !== undefined && method === 'eth_chainId') {
        hit(record, 'chainId');
        return reply(`0x${f.chainId.toString(16)}`);
      }
      if (f.unsupportedMethods?.includes(method)) {
        hit(record, 'unsupported');
        answers[i] = { jsonrpc: '2.0', id: item.id, error: { code: -32601, message: `the method ${method} does not exist/is not available` } };
        return;
      }
      const old = f.stale && (method === 'eth_getBlockByNumber' || method === 'eth_getBlockReceipts') ? f.stale.get(blockNumberOf(params[0]) ?? -1) : undefined;
      if (old) {
        hit(record, 'stale');
        return reply(method === 'eth_getBlockByNumber' ? old.block : old.receipts);
      }
      if (needsHead && method === 'eth_blockNumber') return reply(`0x${readHead().toString(16)}`);
      if (needsHead && method === 'eth_getBlockByNumber') {
        const n = blockNumberOf(params[0]);
        if (params[0] === 'latest' || params[0] === 'pending') params[0] = `0x${readHead().toString(16)}`;
        else if (f.lag && n !== null && n > lagHead) {
          hit(record, 'lag');
          return reply(null);
        } else if (f.lag && n === null) clampTags.push(i);
      }
      if (needsHead && f.lag && method === 'eth_getBlockReceipts') {
        const n = blockNumberOf(params[0]);
        if (n !== null && n > receiptsHead) {
          hit(record, 'lag');
          return reply([]);
        }
      }
      forwardedFrom.push(i);
      forward.push(call(forward.length, method, params));
    });
    if (forward.length > 0) {
      for (const answer of (await upstream(forward)) as RpcAnswer[]) {
        const i = forwardedFrom[answer.id as number]!;
        answers[i] = { ...answer, id: items[i]!.id };
      }
    }
    for (const i of clampTags) { // safe/finalized/earliest never above the lagging head
      const block = answers[i]?.result as { number?: string } | null | undefined;
      if (block?.number && Number(BigInt(block.number)) > lagHead) {
        const full = (items[i]!.params as unknown[])[1] ?? false;
        const [answer] = (await upstream([call(0, 'eth_getBlockByNumber', [`0x${lagHead.toString(16)}`, full])])) as RpcAnswer[];
        answers[i] = { ...answer!, id: items[i]!.id };
        hit(record, 'lag');
      }
    }
    return answers;
  };

  /** Batch-level faults on the answer array: per-item -32005, dropped items, reversed order. */
  const shapeBatch = (f: Faults, answers: RpcAnswer[], record: ProxyRecord): RpcAnswer[] => {
    let out = answers;
    const limit = f.rateLimitItems;
    if (limit && isSelected(limit.when ?? 'always', record.index) && out.length > limit.fromItem) {
      out = out.map((a, i) => i < limit.fromItem ? a : { jsonrpc: '2.0', id: a.id, error: { code: -32005, message: 'request rate exceeded', data: { backoff_seconds: 1 } } });
      hit(record, 'rateLimitItems');
    }
    const drop = f.dropItems;
    if (drop && out.some((_, i) => (i + 1) % drop.every === 0)) {
      out = out.filter((_, i) => (i + 1) % drop.every !== 0);
      hit(record, 'dropItems');
    }
    if (f.reorder && out.length > 1) {
      out = [...out].reverse();
      hit(record, 'reorder');
    }
    return out;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, text: string, arrivedAtMs: number): Promise<void> => {
    requestCount += 1;
    const record: ProxyRecord = { index: requestCount, atMs: arrivedAtMs, path: req.url ?? '/', methods: [], faults: [], status: null };
    records.push(record);
    stats.requests += 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return send(res, record, 400, 'application/json', JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }));
    }
    const isBatch = Array.isArray(parsed);
    const items = (isBatch ? parsed : [parsed]) as RpcItem[];
    record.methods = items.map((i) => String(i.method));
    stats.calls += items.length;
    for (const m of record.methods) stats.byMethod[m] = (stats.byMethod[m] ?? 0) + 1;
    const f = faults;
    const n = record.index;
    if (f.latencyMs) {
      hit(record, 'latency');
      await new Promise((resolve) => setTimeout(resolve, f.latencyMs));
    }
    if (isSelected(f.stall, n)) return hit(record, 'stall');
    if (isSelected(f.reset, n)) {
      hit(record, 'reset');
      req.socket.destroy();
      return;
    }
    if (f.http429 && isSelected(f.http429.when, n)) {
      hit(record, 'http429');
      const untilMs = Date.now() + f.http429.retryAfterSeconds * 1000;
      const header = f.http429.form === 'http-date' ? new Date(untilMs).toUTCString() : String(f.http429.retryAfterSeconds);
      record.retryAfterUntilMs = f.http429.form === 'http-date' ? Date.parse(header) : untilMs;
      res.setHeader('retry-after', header);
      return send(res, record, 429, 'application/json', JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: 429, message: 'Too Many Requests' } }));
    }
    if (f.http5xx && isSelected(f.http5xx.when, n)) {
      hit(record, 'http5xx');
      return send(res, record, f.http5xx.status ?? 503, 'text/plain', 'upstream connect error or disconnect/reset before headers. reset reason: connection termination');
    }
    if (f.maxBatchItems !== undefined && items.length > f.maxBatchItems) {
      hit(record, 'http413');
      return send(res, record, 413, 'text/html', HTML_413);
    }
    if (f.batchLimit && isBatch && items.length > f.batchLimit.maxItems) {
      hit(record, 'batchLimit');
      const { status, body } = batchLimitAnswer(f.batchLimit.style, items, f.batchLimit.maxItems);
      return send(res, record, status, 'application/json', body);
    }
    if (isSelected(f.garbage, n)) {
      hit(record, 'garbage');
      return send(res, record, 200, 'text/html; charset=UTF-8', HTML_GARBAGE);
    }
    const onlyWith = f.singleError?.onlyWith;
    if (f.singleError && (onlyWith === undefined || record.methods.includes(onlyWith)) && isSelected(f.singleError.when, onlyWith === undefined ? n : ++singleErrorRequests)) {
      hit(record, 'singleError');
      return send(res, record, 200, 'application/json', JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: f.singleError.code, message: f.singleError.message } }));
    }
    const answers = await answerItems(f, items, record);
    const body = isBatch ? shapeBatch(f, answers, record) : answers[0];
    return send(res, record, 200, 'application/json', JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    const arrivedAtMs = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks).toString('utf8'), arrivedAtMs).catch((err: unknown) => {
        if (!res.headersSent && !res.destroyed) res.writeHead(502, { 'content-type': 'text/plain' }).end(`fault proxy: ${err instanceof Error ? err.message : String(err)}`);
      });
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const listen = (port: number) => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const shut = () => new Promise<void>((resolve) => {
    server.close(() => resolve());
    for (const socket of sockets) socket.destroy();
  });
  await listen(options.port ?? 0);
  const port = (server.address() as { port: number }).port;
  let down = false;
  function setFaults(next: Faults): void {
    faults = next;
    requestCount = 0;
    singleErrorRequests = 0;
    latestReads = 0;
    records = [];
    stats = emptyStats();
  }

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    set: setFaults,
    reset: () => setFaults({}),
    stats: () => structuredClone(stats),
    records: () => records.map((r) => ({ ...r, methods: [...r.methods], faults: [...r.faults] })),
    async setDown(next) {
      if (next === down) return;
      down = next;
      if (next) await shut();
      else await listen(port);
    },
    async close() {
      if (!down) await shut();
      down = true;
    },
  };
}

function send(res: ServerResponse, record: ProxyRecord, status: number, contentType: string, body: string): void {
  record.status = status;
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) }).end(body);
}

function call(id: number, method: string, params: unknown[]): RpcItem {
  return { jsonrpc: '2.0', id, method, params };
}

function emptyStats(): ProxyStats {
  return { requests: 0, calls: 0, byMethod: {}, faults: {} };
}
