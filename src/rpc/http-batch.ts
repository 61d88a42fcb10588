import { isAscii } from 'node:buffer';
import { RpcBadResponseError, RpcBatchTooLargeError, RpcTransientError } from '../errors.js';
import { classifyHttpStatus, classifyRpcError, httpStatusHint, parseRetryAfter, toRpcError } from './classify.js';
import { http1Post } from './http1.js';
import { redactUrls } from './redact.js';
import type { BodyDecoder } from './decoded.js';
import type { RpcErrorObject, RpcOutcome, RpcRequest } from './types.js';

/** One endpoint as the transport sees it: the secret URL and its printable label. */
export type EndpointTarget = { readonly url: string; readonly label: string };

/** What {@link postBatch} takes besides the endpoint and the requests. */
export type PostOptions = { timeoutMs: number; signal?: AbortSignal; onBody?: (bytes: number) => void; decode?: BodyDecoder };

/**
 * Sends `requests` as one JSON-RPC 2.0 batch POST (EIP-1474) to `endpoint` and returns one
 * outcome per request, in request order, matched by `id` (never by position). A missing item
 * becomes an error outcome with code -32603 so the caller can retry it alone; a single error
 * object instead of an array applies to every request. `onBody` gets the size of the body read,
 * in bytes (characters of the text; a JSON-RPC answer is ASCII but for strings it returns). The
 * body is UTF-8 (RFC 8259); an ASCII one, nearly every answer, is read without UTF-8 decoding.
 * With `decode`, a 2xx answer's body chunks go to it as they came and it parses them instead (the
 * worker's decode thread), with the same errors; from the HTTP/1.1 client (`http:` endpoints,
 * ./http1.ts) that is one chunk in reused memory, given back once `decode` settled.
 * @throws RpcTransientError on timeout, connection failure, HTTP 408/429/5xx (with the
 *   Retry-After hint in ms) or a body that is not JSON; RpcBatchTooLargeError on HTTP 413 or an
 *   HTTP error whose body is a batch-limit error ({@link batchLimitError}: Erigon's 400,
 *   Nethermind's 503, dRPC's 500); RpcBadResponseError on a body of the wrong shape. Messages name
 *   the endpoint by label only.
 */
export async function postBatch(
  endpoint: EndpointTarget,
  requests: readonly RpcRequest[],
  options: PostOptions,
): Promise<RpcOutcome[]> {
  const body = JSON.stringify(requests.map((r, id) => ({ jsonrpc: '2.0', id, method: r.method, params: r.params })));
  const { url, authorization } = splitCredentials(endpoint.url);
  const headers = { 'content-type': 'application/json', accept: 'application/json', ...(authorization ? { authorization } : {}) };
  let response: Received;
  try {
    response = httpClient === 'auto' && url.startsWith('http:')
      ? await receiveHttp1(url, headers, body, options)
      : await receiveFetch(url, headers, body, options);
  } catch (err) {
    const reason = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')
      ? options.signal?.aborted ? 'request cancelled' : `no answer within ${options.timeoutMs} ms`
      : `connection failed (${redactUrls(describeCause(err), [endpoint.url], [endpoint.label])})`;
    throw new RpcTransientError(`${endpoint.label}: ${reason}`);
  }
  try {
    return await answerOf(endpoint, requests, response, options.decode);
  } finally {
    response.release();
  }
}

/** Which client `postBatch` sends with: `auto` its own HTTP/1.1 client (./http1.ts) for `http:` endpoints and fetch for `https:`, or `fetch` for all. */
export type HttpClientMode = 'auto' | 'fetch';
let httpClient: HttpClientMode = 'auto';

/** Sets which client `postBatch` sends with, in this thread (`RPC_HTTP_CLIENT`; the worker sets it in each thread at start). */
export function setHttpClient(mode: HttpClientMode): void {
  httpClient = mode;
}

/**
 * An answer as `postBatch` reads it: the status, the Retry-After header, and the body, as bytes
 * (a 2xx answer to be decoded: valid until `release()`) or as text.
 */
type Received = { status: number; retryAfter: string | null; bytes: { chunks: Uint8Array[]; length: number } | null; text: string; release(): void };

/** The answer through fetch (undici): its chunks joined in this thread's scratch when decoded. */
async function receiveFetch(url: string, headers: Record<string, string>, body: string, options: PostOptions): Promise<Received> {
  const signals = [AbortSignal.timeout(options.timeoutMs)];
  if (options.signal) signals.push(options.signal);
  const response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.any(signals) });
  let bytes: Received['bytes'] = null;
  let text = '';
  if (options.decode && response.ok) {
    bytes = await readChunks(response);
    options.onBody?.(bytes.length);
  } else {
    text = await readText(response);
    options.onBody?.(text.length);
  }
  return { status: response.status, retryAfter: response.headers.get('retry-after'), bytes, text, release: () => {} };
}

/** The answer through ./http1.ts: a decoded body stays in its reused buffer until `release()`. */
async function receiveHttp1(url: string, headers: Record<string, string>, body: string, options: PostOptions): Promise<Received> {
  const answer = await http1Post(new URL(url), headers, body, options);
  const ok = answer.status >= 200 && answer.status < 300;
  if (options.decode && ok) {
    options.onBody?.(answer.body.length);
    return { status: answer.status, retryAfter: answer.header('retry-after'), bytes: { chunks: [answer.body], length: answer.body.length }, text: '', release: answer.release };
  }
  const text = bodyText(answer.body);
  answer.release();
  options.onBody?.(text.length);
  return { status: answer.status, retryAfter: answer.header('retry-after'), bytes: null, text, release: () => {} };
}

/** What `postBatch` makes of an answer: its errors, or its outcomes (decoded by `decode` when it has bytes). */
async function answerOf(endpoint: EndpointTarget, requests: readonly RpcRequest[], response: Received, decode?: BodyDecoder): Promise<RpcOutcome[]> {
  const { text } = response;
  if (response.status === 413) {
    throw new RpcBatchTooLargeError(`${endpoint.label}: HTTP 413, a batch of ${requests.length} calls is too large`);
  }
  if (response.status < 200 || response.status > 299) {
    const refused = response.status === 429 ? null : batchLimitError(text);
    if (refused) {
      throw new RpcBatchTooLargeError(`${endpoint.label}: HTTP ${response.status}, a batch of ${requests.length} calls refused: ${refused.message} (code ${refused.code})`);
    }
    const kind = classifyHttpStatus(response.status);
    const retryAfterMs = parseRetryAfter(response.retryAfter, Date.now());
    throw toRpcError(kind, `HTTP ${response.status} for a batch of ${requests.length}${httpStatusHint(response.status)}`, endpoint.label, retryAfterMs);
  }
  if (response.bytes) return decode!.decode(response.bytes.chunks, response.bytes.length, requests, endpoint.label);
  return parseBatchBody(text, requests.length, endpoint.label);
}

/**
 * The outcomes of `count` requests (ids 0..count−1) in the text of a JSON-RPC batch answer from
 * endpoint `label`: `JSON.parse`, then {@link matchById}. Pure.
 * @throws RpcTransientError when the text is not JSON; RpcBadResponseError as matchById.
 */
export function parseBatchBody(text: string, count: number, label: string): RpcOutcome[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new RpcTransientError(`${label}: answered with a body that is not JSON (${bodySnippet(text).replace(/\s+/g, ' ')}…)`);
  }
  return matchById(parsed, count, label);
}

/** Characters of a refused body quoted in an error message, at most. */
const BODY_SNIPPET_CHARS = 60;

/**
 * The start of `text` for an error message: its first BODY_SNIPPET_CHARS characters, without the
 * piece of a word (everything but spaces, quotes and angle brackets) the cut went through, so a key the body repeats is quoted
 * whole or not at all, and the pool's redaction (`redactUrls`, which knows keys only whole) finds it.
 */
function bodySnippet(text: string): string {
  if (text.length <= BODY_SNIPPET_CHARS) return text;
  const head = text.slice(0, BODY_SNIPPET_CHARS);
  // Any character but a space, a quote or an angle bracket may be part of a key (base64's `=` and `+`, `:`, `!`, `$`…).
  return /[^\s"'<>]/.test(text[BODY_SNIPPET_CHARS]!) ? head.replace(/[^\s"'<>]+$/, '') : head;
}

const UTF8 = new TextDecoder();

/** Largest body joined in {@link scratch}, in bytes; a larger one gets a buffer of its own. */
const SCRATCH_MAX_BYTES = 16 * 2 ** 20;
/**
 * Memory a body's chunks are joined in, one per thread (module state is per thread): the main
 * thread's for answers read as text, the decode thread's for the answers it decodes. A join and
 * its use are synchronous and nothing made from the body points into it, so one buffer serves
 * each thread; it grows (powers of 2) to the largest body up to SCRATCH_MAX_BYTES and stays. Why:
 * a fresh ~4 MiB buffer per answer is a fresh mapping under the image's 128 KiB mmap threshold,
 * whose pages fault in at the first write (`Buffer.concat` was 3.8 % of the worker's profile in
 * the mainnet bench; in the decode thread, 0.2–0.3 ms per mainnet block).
 */
let scratch = Buffer.alloc(0);

/**
 * The body whose chunks are `chunks` (`length` bytes in all): the only chunk itself, or the chunks
 * joined in this thread's {@link scratch} (a buffer of its own above SCRATCH_MAX_BYTES). Valid
 * until the next call on the same thread: use it synchronously.
 */
export function joinChunks(chunks: readonly Uint8Array[], length: number): Buffer {
  const [first] = chunks;
  if (chunks.length === 0) return Buffer.alloc(0);
  if (chunks.length === 1) return Buffer.from(first!.buffer, first!.byteOffset, first!.byteLength);
  if (length > SCRATCH_MAX_BYTES) return Buffer.concat(chunks, length);
  if (scratch.length < length) scratch = Buffer.allocUnsafeSlow(2 ** Math.ceil(Math.log2(length)));
  let at = 0;
  for (const chunk of chunks) {
    scratch.set(chunk, at);
    at += chunk.length;
  }
  return scratch.subarray(0, length);
}

/** The whole body of `response` as text ({@link bodyText}), its chunks joined once ({@link joinChunks}). */
async function readText(response: Response): Promise<string> {
  const { chunks, length } = await readChunks(response);
  return bodyText(joinChunks(chunks, length));
}

/** The whole body of `response`: its chunks as they came, and their length in bytes. */
async function readChunks(response: Response): Promise<{ chunks: Uint8Array[]; length: number }> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  if (!response.body) return { chunks, length };
  for await (const chunk of response.body) {
    chunks.push(chunk);
    length += chunk.length;
  }
  return { chunks, length };
}

/** The UTF-8 byte order mark. */
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * The text of a UTF-8 body, the same string `Response.text()` gives: an ASCII body byte per
 * character, any other decoded as UTF-8 (one byte order mark dropped, as undici does, then one
 * more by the decoder; invalid sequences become U+FFFD). Pure.
 * Why: the ASCII copy is cheaper (490 ms per 1,000 mainnet blocks in the worker's profile, where
 * UTF-8 decoding took 614–821 ms), and Node makes a latin1 string of over about 1 MB an external
 * string, whose bytes live outside V8's heap and go as soon as a collection finds it dead (V8
 * collects on external memory growth). A decoded ~4 MiB answer was instead one large object in
 * V8's old space, kept until the next full collection: the worker's peak RSS in the mainnet bench
 * went from 430–465 MB to 352–393 MB with this change alone.
 */
export function bodyText(body: Buffer): string {
  if (isAscii(body)) return body.toString('latin1');
  return UTF8.decode(body.subarray(0, 3).equals(BOM) ? body.subarray(3) : body);
}

/**
 * The batch-limit error (`classifyRpcError` 'batch-too-large') in the text of an HTTP error's body,
 * if any: a JSON-RPC error object, a batch of them, or dRPC's items without envelope
 * (`[{"message":"Batch of more than 3 requests are not allowed on free tier","code":31}]`). Pure.
 */
export function batchLimitError(text: string): RpcErrorObject | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  for (const item of Array.isArray(parsed) ? parsed : [parsed]) {
    if (!isObject(item)) continue;
    const candidate = isObject(item.error) ? item.error : item;
    if (typeof candidate.message !== 'string') continue;
    const error = { code: Number(candidate.code), message: candidate.message };
    if (classifyRpcError(error) === 'batch-too-large') return error;
  }
  return null;
}

/**
 * Matches a parsed JSON-RPC batch response to `count` requests with ids 0..count−1. Pure.
 * @throws RpcBadResponseError when the body is neither an array nor an error object.
 */
export function matchById(parsed: unknown, count: number, label: string): RpcOutcome[] {
  const missing: RpcOutcome = { ok: false, error: { code: -32603, message: 'missing from the batch response' } };
  const outcomes: RpcOutcome[] = Array.from({ length: count }, () => missing);
  if (!Array.isArray(parsed)) {
    if (isObject(parsed) && isObject(parsed.error)) {
      const error = { code: Number(parsed.error.code), message: String(parsed.error.message ?? '') };
      return outcomes.map(() => ({ ok: false, error }));
    }
    throw new RpcBadResponseError(`${label}: batch response is not an array`);
  }
  for (const item of parsed) {
    if (!isObject(item) || typeof item.id !== 'number' || !Number.isInteger(item.id) || item.id < 0 || item.id >= count) continue;
    if (isObject(item.error)) {
      outcomes[item.id] = {
        ok: false,
        error: { code: Number(item.error.code), message: String(item.error.message ?? ''), data: item.error.data },
      };
    } else if ('result' in item) {
      outcomes[item.id] = { ok: true, result: item.result };
    }
  }
  return outcomes;
}

/**
 * Moves `user:password@` out of an endpoint URL into a Basic `authorization` header (RFC 7617):
 * fetch refuses URLs with credentials. Pure.
 */
export function splitCredentials(raw: string): { url: string; authorization: string | null } {
  try {
    const parsed = new URL(raw);
    if (!parsed.username && !parsed.password) return { url: raw, authorization: null };
    const user = decodeURIComponent(parsed.username);
    const password = decodeURIComponent(parsed.password);
    parsed.username = '';
    parsed.password = '';
    return { url: parsed.toString(), authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
  } catch {
    return { url: raw, authorization: null };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function describeCause(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const code = isObject(cause) && typeof cause.code === 'string' ? cause.code : undefined;
  return code ?? (cause instanceof Error ? cause.message : String(cause));
}
