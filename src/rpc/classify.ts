import { RpcBadResponseError, RpcBatchTooLargeError, RpcTransientError, RpcUnsupportedError } from '../errors.js';
import type { RpcErrorObject } from './types.js';

/** What a failed call means for the pool. */
export type RpcFailureKind = 'rate-limit' | 'transient' | 'unsupported' | 'bad-response' | 'invalid-request' | 'batch-too-large';

const RATE_LIMIT_CODES = new Set([-32005, 429, -32007, -32016]);
const UNSUPPORTED_CODES = new Set([-32601, -32004]);
const RATE_LIMIT_TEXT = /rate.?limit|too many requests|throttl|exceeded (the |your )*(request|compute|capacity|quota|rate|limit)|request limit|capacity/i;
/**
 * A refused batch, by its text (codes vary and are shared with other errors: -32600, -32000,
 * -32003, -32005, -32010, -32011, 31):
 * - go-ethereum: "batch too large" (more calls than `--rpc.batch-request-limit`, 1,000), "response
 *   too large" (over `--rpc.batch-response-max-size`, 25 MB; rpc/handler.go, rpc/errors.go);
 * - Erigon: "batch limit 100 exceeded (can increase by --rpc.batch.limit)…" (HTTP 400);
 * - reth (jsonrpsee): "The batch request was too large", "The batch response was too large";
 * - Nethermind: "Batch size limit exceeded" (HTTP 503), "MaxBatchResponseBodySize of 32768KB exceeded";
 * - Besu: "Number of requests exceeds max batch size";
 * - dRPC's free tier: "Batch of more than 3 requests are not allowed on free tier" (HTTP 500);
 * - public endpoints: "Too many ["eth_getLogs"] methods in the batch".
 */
const BATCH_LIMIT_TEXT = /\bbatch\b.{0,40}\btoo (large|big)|\bbatch (size |request |requests )?limit\b|\bbatch\b.{0,40}\bnot allowed|max\s?batch|exceeds?.{0,20}\bmax(imum)?.{0,10}\bbatch|response too large|too many .{0,40}\bin (a |the )?batch/i;
const UNSUPPORTED_TEXT = /method not found|not supported|unsupported method|does not exist\/is not available/i;

/**
 * Classifies a JSON-RPC error object (EIP-1474 codes plus common provider texts). Pure.
 * Rate-limit texts → 'rate-limit' (also "batch requests are rate limited"); then texts of a
 * refused batch (too many calls, too large an answer: {@link BATCH_LIMIT_TEXT}) → 'batch-too-large',
 * whatever the code (Besu's and Nethermind's are -32005); -32005/429/-32007/-32016 → 'rate-limit'; -32601/-32004 and "method not found" →
 * 'unsupported'; -32602/-32600 → 'invalid-request'; everything else (-32603, -32000 "header not
 * found", unknown) → 'transient'.
 */
export function classifyRpcError(error: RpcErrorObject): RpcFailureKind {
  if (RATE_LIMIT_TEXT.test(error.message)) return 'rate-limit';
  if (BATCH_LIMIT_TEXT.test(error.message)) return 'batch-too-large';
  if (RATE_LIMIT_CODES.has(error.code)) return 'rate-limit';
  if (UNSUPPORTED_CODES.has(error.code) || UNSUPPORTED_TEXT.test(error.message)) return 'unsupported';
  if (error.code === -32602 || error.code === -32600) return 'invalid-request';
  return 'transient';
}

/** Classifies an HTTP status of a JSON-RPC POST. Pure. 429 → rate-limit, 408/5xx → transient, 413 → bad-response. */
export function classifyHttpStatus(status: number): RpcFailureKind {
  if (status === 429) return 'rate-limit';
  if (status === 413) return 'bad-response';
  if (status === 408 || status >= 500) return 'transient';
  return 'transient';
}

/**
 * What an HTTP status of a JSON-RPC POST most likely means for the operator, as a parenthesis to
 * put after it, or '' when the status says enough (RFC 9110 §15): 401 and 403, credentials the
 * endpoint refuses (a wrong or expired API key); 404, no JSON-RPC at that path. Pure.
 * @example httpStatusHint(401) // ' (the endpoint refuses the credentials: check the API key or user:password in its URL)'
 */
export function httpStatusHint(status: number): string {
  if (status === 401 || status === 403) return ' (the endpoint refuses the credentials: check the API key or user:password in its URL)';
  if (status === 404) return ' (nothing answers JSON-RPC at this path: check the URL)';
  return '';
}

/**
 * Builds the indexer error for a failed call on endpoint `label`. Pure.
 * 'unsupported' → RpcUnsupportedError, 'bad-response' → RpcBadResponseError, 'batch-too-large' →
 * RpcBatchTooLargeError, else RpcTransientError.
 */
export function toRpcError(kind: RpcFailureKind, message: string, label: string, retryAfterMs?: number): Error {
  const text = `${label}: ${message}`;
  if (kind === 'unsupported') return new RpcUnsupportedError(text);
  if (kind === 'bad-response') return new RpcBadResponseError(text);
  if (kind === 'batch-too-large') return new RpcBatchTooLargeError(text);
  return new RpcTransientError(text, { retryAfterMs, rateLimited: kind === 'rate-limit' });
}

/**
 * Parses an HTTP `Retry-After` header, in delta-seconds or HTTP-date form (RFC 9110 §10.2.3),
 * into ms from `nowMs`. Returns undefined when absent or unparsable. Pure.
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  if (!/GMT\s*$/.test(value)) return undefined; // HTTP-date is always GMT; Date.parse accepts garbage like "1.5"
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
