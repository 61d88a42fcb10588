/**
 * A JSON-RPC 2.0 HTTP server (EIP-1474) that replays recorded blocks as a chain the indexer can
 * sync: `eth_chainId`, `eth_blockNumber`, `eth_getBlockByNumber(n | tag, full)`,
 * `eth_getBlockByHash(hash, full)` and `eth_getBlockReceipts(n | tag | hash)`, single or batched,
 * answered by `id`. Recorded blocks are single, non-contiguous blocks, so each one is served as its
 * own one-block chain: `latest`/`safe`/`finalized`/`pending` name the current head block
 * (`setHead`), and a backfill `{ chainId, from: n, to: n }` indexes exactly block n. Real recorded
 * provider errors (`test/fixtures/errors/provider-error-responses.json`) can be injected per method.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

type Json = Record<string, unknown>;

/** One recorded block: the `eth_getBlockByNumber(n, true)` result and the `eth_getBlockReceipts(n)` result (null: not recorded). */
export type ReplayBlock = { block: Json; receipts: readonly unknown[] | null };

/** A JSON-RPC error object as a provider sent it. */
export type RecordedError = { code: number; message: string; data?: unknown };

/**
 * A failure to serve instead of the recorded answer, for the next `times` calls of `method`
 * (default 1). With `httpStatus` the whole HTTP response carrying such a call gets that status
 * (the body still holds the JSON-RPC error, as providers send it); otherwise only that member of
 * the batch is an error.
 */
export type InjectedFailure = { method: string; error: RecordedError; httpStatus?: number; times?: number };

/** A running replay server. */
export type ReplayServer = {
  /** `http://127.0.0.1:<port>/`: use as `RPC_URL`. */
  url: string;
  chainId: number;
  /** Every call received, in arrival order (method, params, and whether an injected failure answered it). */
  readonly calls: { method: string; params: unknown[]; failed: boolean }[];
  /** Makes block `blockNumber` the head that the tags name. @throws Error when it is not loaded. */
  setHead(blockNumber: number): void;
  /** Queues a failure for the next calls of `failure.method`. */
  inject(failure: InjectedFailure): void;
  close(): Promise<void>;
};

const PROVIDER_ERRORS_URL = new URL('../fixtures/errors/provider-error-responses.json', import.meta.url);
const METHOD_NOT_FOUND = -32601;
const INVALID_PARAMS = -32602;
const INVALID_REQUEST = -32600;
const PARSE_ERROR = -32700;

/**
 * Returns a recorded provider error from `test/fixtures/errors/provider-error-responses.json`:
 * the first record whose `source` URL or error message contains `match`, with its HTTP status
 * when the record has one.
 * @throws Error when no record matches.
 * @example recordedProviderError('header not found') // { error: { code: -32000, message: 'header not found' } }
 */
export function recordedProviderError(match: string): { error: RecordedError; httpStatus?: number } {
  const records = JSON.parse(readFileSync(PROVIDER_ERRORS_URL, 'utf8')) as { source: string; http_status?: number; response: Json }[];
  for (const record of records) {
    const error = (record.response.error ?? record.response) as RecordedError;
    if (record.source.includes(match) || error.message.includes(match)) {
      return { error, ...(record.http_status === undefined ? {} : { httpStatus: record.http_status }) };
    }
  }
  throw new Error(`no recorded provider error matches ${JSON.stringify(match)}`);
}

/**
 * Starts a replay server on 127.0.0.1 (a free port) serving `blocks` of chain `chainId` (EIP-155).
 * The head is `options.head`, else the highest loaded block number. A block number not loaded
 * answers null (as nodes do for a future block); an unknown method answers -32601.
 * @throws Error when two blocks have the same number.
 */
export async function startReplayServer(options: { chainId: number; blocks: readonly ReplayBlock[]; head?: number }): Promise<ReplayServer> {
  const byNumber = new Map<number, ReplayBlock>();
  for (const entry of options.blocks) {
    const blockNumber = Number(BigInt(entry.block.number as string));
    if (byNumber.has(blockNumber)) throw new Error(`replay server: block ${blockNumber} loaded twice`);
    byNumber.set(blockNumber, entry);
  }
  let head = options.head ?? Math.max(...byNumber.keys());
  const failures: InjectedFailure[] = [];
  const calls: ReplayServer['calls'] = [];

  const findBlock = (param: unknown): ReplayBlock | null | 'invalid' => {
    if (typeof param !== 'string') return 'invalid';
    if (['latest', 'safe', 'finalized', 'pending'].includes(param)) return byNumber.get(head) ?? null;
    if (param === 'earliest') return byNumber.get(Math.min(...byNumber.keys())) ?? null;
    if (/^0x[0-9a-fA-F]{64}$/.test(param)) {
      return [...byNumber.values()].find((b) => String(b.block.hash).toLowerCase() === param.toLowerCase()) ?? null;
    }
    if (!/^0x[0-9a-fA-F]+$/.test(param)) return 'invalid';
    return byNumber.get(Number(BigInt(param))) ?? null;
  };

  /** The result of one call, or an error object. */
  const answer = (method: string, params: unknown[]): { result: unknown } | { error: RecordedError } => {
    switch (method) {
      case 'eth_chainId':
        return { result: `0x${options.chainId.toString(16)}` };
      case 'eth_blockNumber':
        return { result: `0x${head.toString(16)}` };
      case 'eth_getBlockByNumber':
      case 'eth_getBlockByHash': {
        const found = findBlock(params[0]);
        if (found === 'invalid' || typeof params[1] !== 'boolean') return { error: { code: INVALID_PARAMS, message: `invalid params for ${method}` } };
        if (found === null) return { result: null };
        const block = structuredClone(found.block);
        if (!params[1]) block.transactions = (block.transactions as unknown[]).map((t) => (typeof t === 'object' && t !== null ? (t as Json).hash : t));
        return { result: block };
      }
      case 'eth_getBlockReceipts': {
        const found = findBlock(params[0]);
        if (found === 'invalid') return { error: { code: INVALID_PARAMS, message: 'invalid block parameter for eth_getBlockReceipts' } };
        return { result: found === null ? null : structuredClone(found.receipts) };
      }
      default:
        return { error: { code: METHOD_NOT_FOUND, message: `the method ${method} does not exist/is not available` } };
    }
  };

  /** Answers one request object; undefined for a notification (no id). Sets `status` for an injected HTTP failure. */
  const handleOne = (request: unknown, http: { status: number }): Json | undefined => {
    if (typeof request !== 'object' || request === null || Array.isArray(request) || typeof (request as Json).method !== 'string') {
      return { jsonrpc: '2.0', id: null, error: { code: INVALID_REQUEST, message: 'invalid request' } };
    }
    const { id, method, params } = request as { id?: unknown; method: string; params?: unknown };
    const args = Array.isArray(params) ? params : [];
    const failure = failures.find((f) => f.method === method && (f.times ?? 1) > 0);
    calls.push({ method, params: args, failed: failure !== undefined });
    let outcome: { result: unknown } | { error: RecordedError };
    if (failure) {
      failure.times = (failure.times ?? 1) - 1;
      if (failure.httpStatus !== undefined) http.status = failure.httpStatus;
      outcome = { error: failure.error };
    } else {
      outcome = answer(method, args);
    }
    return id === undefined ? undefined : { jsonrpc: '2.0', id, ...outcome };
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const http = { status: 200 };
      let body: unknown;
      try {
        const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (Array.isArray(parsed)) {
          body = parsed.length === 0
            ? { jsonrpc: '2.0', id: null, error: { code: INVALID_REQUEST, message: 'empty batch' } }
            : parsed.map((r) => handleOne(r, http)).filter((r) => r !== undefined);
        } else {
          body = handleOne(parsed, http) ?? '';
        }
      } catch {
        body = { jsonrpc: '2.0', id: null, error: { code: PARSE_ERROR, message: 'parse error' } };
      }
      res.writeHead(http.status, { 'content-type': 'application/json' });
      res.end(body === '' ? '' : JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/`,
    chainId: options.chainId,
    calls,
    setHead: (blockNumber) => {
      if (!byNumber.has(blockNumber)) throw new Error(`replay server: block ${blockNumber} is not loaded`);
      head = blockNumber;
    },
    inject: (failure) => {
      failures.push({ ...failure, times: failure.times ?? 1 });
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
