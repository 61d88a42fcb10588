import { describe, it, expect } from 'vitest';
import { classifyHttpStatus, classifyRpcError, parseRetryAfter, toRpcError, type RpcFailureKind } from '../../../src/rpc/classify.js';
import { RpcBadResponseError, RpcBatchTooLargeError, RpcTransientError, RpcUnsupportedError } from '../../../src/errors.js';
import type { RpcErrorObject } from '../../../src/rpc/types.js';
import { fixture } from '../fixture.js';

/** One record of `errors/provider-error-responses.json` (format L, see PROVENANCE.md). */
type ProviderErrorRecord = {
  source: string;
  provider_or_client: string;
  http_status?: number;
  /** The full envelope `{jsonrpc, id, error}`, or the bare error object when the source quoted only that. */
  response: { error: RpcErrorObject } | RpcErrorObject;
};

const records = fixture<ProviderErrorRecord[]>('errors/provider-error-responses.json');
const errorOf = (r: ProviderErrorRecord): RpcErrorObject => ('error' in r.response ? r.response.error : r.response);

describe('src/rpc/classify.ts', () => {
  it('provider-error-responses.json holds the 10 recorded provider errors', () => {
    expect(records.map((r) => errorOf(r).code)).toEqual([-32602, -32600, -32600, -32602, -32602, -32005, -32005, -32000, -32000, -32602]);
  });

  // [index in the fixture, expected kind, why]
  const recorded: [number, RpcFailureKind, string][] = [
    [0, 'invalid-request', 'Infura -32602 "range 1000000 exceeds limit of 10000"'],
    [1, 'invalid-request', 'Alchemy -32600 "up to a 500 block range" (in an envelope)'],
    [2, 'invalid-request', 'Alchemy -32600 "up to a 500 block range" (bare error object)'],
    [4, 'invalid-request', 'zkSync -32602 "Query returned more than 10000 results"'],
    // -32005 is documented as rate-limit, although Infura also uses it for a result-count limit.
    [5, 'rate-limit', 'Infura -32005 "query returned more than 10000 results"'],
    [6, 'rate-limit', 'Infura -32005 "daily request count exceeded, request rate limited"'],
    [7, 'rate-limit', 'Base -32000 wrapping "429 Too Many Requests" / -32016 "over rate limit"'],
    [8, 'transient', 'Infura -32000 "header not found"'],
    [9, 'invalid-request', 'reth -32602 "query exceeds max block range 5000"'],
  ];
  for (const [index, kind, what] of recorded) {
    it(`classifyRpcError() returns '${kind}' for ${what}`, () => {
      expect(classifyRpcError(errorOf(records[index]!))).toBe(kind);
    });
  }

  // Regression test (fixed bug; src/rpc/classify.ts:9, RATE_LIMIT_TEXT): /exceeded/ matches "Log response size exceeded", so
  // Alchemy's -32602 response-size limit (a request that can never succeed as is) is classified as
  // 'rate-limit' instead of 'invalid-request' as -32602 is documented.
  it('classifyRpcError() returns \'invalid-request\' for Alchemy -32602 "Log response size exceeded"', () => {
    expect(classifyRpcError(errorOf(records[3]!))).toBe('invalid-request');
  });

  const synthetic: [RpcErrorObject, RpcFailureKind][] = [
    [{ code: -32601, message: 'the method eth_getBlockReceipts does not exist/is not available' }, 'unsupported'],
    [{ code: -32004, message: 'method not supported' }, 'unsupported'],
    [{ code: -32000, message: 'Method not found' }, 'unsupported'],
    [{ code: 429, message: 'Too Many Requests' }, 'rate-limit'],
    [{ code: -32007, message: '100/second request limit reached' }, 'rate-limit'],
    [{ code: -32016, message: 'over rate limit' }, 'rate-limit'],
    [{ code: -32602, message: 'invalid argument 0: hex string without 0x prefix' }, 'invalid-request'],
    [{ code: -32600, message: 'invalid request' }, 'invalid-request'],
    [{ code: -32603, message: 'internal error' }, 'transient'],
    [{ code: 12345, message: 'something odd' }, 'transient'],
    // Refused batches (texts from the clients' sources; see BATCH_LIMIT_TEXT), whatever their codes say otherwise.
    [{ code: -32600, message: 'batch too large' }, 'batch-too-large'], // go-ethereum
    [{ code: -32003, message: 'response too large' }, 'batch-too-large'], // go-ethereum
    [{ code: -32000, message: 'batch limit 100 exceeded (can increase by --rpc.batch.limit). Requested batch of size: 142' }, 'batch-too-large'], // Erigon
    [{ code: -32000, message: 'batch limit 100 exceeded: 142 requests given' }, 'batch-too-large'], // older Erigon
    [{ code: -32010, message: 'The batch request was too large' }, 'batch-too-large'], // reth (jsonrpsee)
    [{ code: -32011, message: 'The batch response was too large' }, 'batch-too-large'], // reth (jsonrpsee)
    [{ code: -32005, message: 'Batch size limit exceeded' }, 'batch-too-large'], // Nethermind, not a rate limit
    [{ code: -32005, message: 'MaxBatchResponseBodySize of 32768KB exceeded' }, 'batch-too-large'], // Nethermind
    [{ code: -32005, message: 'Number of requests exceeds max batch size' }, 'batch-too-large'], // Besu, not a rate limit
    [{ code: 31, message: 'Batch of more than 3 requests are not allowed on free tier' }, 'batch-too-large'], // dRPC
    [{ code: -32600, message: 'Too many ["eth_getLogs"] methods in the batch' }, 'batch-too-large'],
    [{ code: -32602, message: 'Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range' }, 'invalid-request'],
    // Rate limits that mention batches stay rate limits (review of session 13), and "batch" alone is not a refusal.
    [{ code: -32005, message: 'Too many requests in batch, rate limit reached' }, 'rate-limit'],
    [{ code: -32016, message: 'Batch requests are rate limited: 10/second exceeded' }, 'rate-limit'],
    [{ code: -32007, message: 'batch request limit reached, try again later' }, 'rate-limit'],
    [{ code: -32000, message: 'batch processing exceeded deadline' }, 'transient'],
  ];
  for (const [error, kind] of synthetic) {
    it(`classifyRpcError() returns '${kind}' for ${error.code} "${error.message}"`, () => {
      expect(classifyRpcError(error)).toBe(kind);
    });
  }

  it('classifyHttpStatus() returns \'rate-limit\' for the recorded Infura HTTP 429', () => {
    expect(records[6]!.http_status).toBe(429);
    expect(classifyHttpStatus(records[6]!.http_status!)).toBe('rate-limit');
  });

  const statuses: [number, RpcFailureKind][] = [
    [429, 'rate-limit'],
    [413, 'bad-response'],
    [408, 'transient'],
    [500, 'transient'],
    [502, 'transient'],
    [503, 'transient'],
    [504, 'transient'],
    [400, 'transient'],
    [401, 'transient'],
    [403, 'transient'],
    [404, 'transient'],
  ];
  for (const [status, kind] of statuses) {
    it(`classifyHttpStatus() returns '${kind}' for HTTP ${status}`, () => {
      expect(classifyHttpStatus(status)).toBe(kind);
    });
  }

  const now = Date.parse('2025-06-01T12:00:00Z');
  const retryAfter: [string | null, number | undefined][] = [
    ['0', 0],
    ['1', 1000],
    ['120', 120_000],
    [' 30 ', 30_000],
    ['Sun, 01 Jun 2025 12:00:30 GMT', 30_000],
    ['Sun, 01 Jun 2025 12:05:00 GMT', 300_000],
    ['Sun, 01 Jun 2025 11:59:00 GMT', 0],
    ['soon', undefined],
    ['2 seconds', undefined],
    ['1e3', undefined],
    ['', undefined],
    ['   ', undefined],
    [null, undefined],
  ];
  for (const [value, want] of retryAfter) {
    it(`parseRetryAfter() returns ${want} for ${JSON.stringify(value)}`, () => {
      expect(parseRetryAfter(value, now)).toBe(want);
    });
  }

  // Regression test (fixed bug; src/rpc/classify.ts:51, `Date.parse(value)`): V8's Date.parse accepts non-HTTP-date text
  // ("1.5" → 2001-01-05, "-5" → 2001-05-01, "abc 1" → 2001-01-01), which lies in the past, so these
  // garbage headers yield 0 ms (retry at once) instead of undefined (unparsable).
  for (const garbage of ['1.5', '-5', 'abc 1']) {
    it(`parseRetryAfter() returns undefined for the unparsable ${JSON.stringify(garbage)}`, () => {
      expect(parseRetryAfter(garbage, now)).toBe(undefined);
    });
  }

  const errors: [RpcFailureKind, new (...args: never[]) => Error, boolean][] = [
    ['unsupported', RpcUnsupportedError, false],
    ['bad-response', RpcBadResponseError, true],
    ['rate-limit', RpcTransientError, true],
    ['transient', RpcTransientError, true],
    ['invalid-request', RpcTransientError, true],
    ['batch-too-large', RpcBatchTooLargeError, true],
  ];
  for (const [kind, cls, retryable] of errors) {
    it(`toRpcError() builds a ${cls.name} (retryable ${retryable}) for '${kind}'`, () => {
      const err = toRpcError(kind, 'eth_chainId failed', 'rpc.example.com#1');
      expect(err).toBeInstanceOf(cls);
      expect(err.message).toBe('rpc.example.com#1: eth_chainId failed');
      expect((err as RpcTransientError).retryable).toBe(retryable);
    });
  }

  it('toRpcError() keeps the Retry-After hint on a rate-limit error', () => {
    const err = toRpcError('rate-limit', 'HTTP 429 for a batch of 3', 'rpc.example.com#1', 30_000);
    expect(err).toBeInstanceOf(RpcTransientError);
    expect((err as RpcTransientError).retryAfterMs).toBe(30_000);
  });
});
