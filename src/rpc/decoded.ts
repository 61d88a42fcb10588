import { RpcBadResponseError, RpcTransientError } from '../errors.js';
import type { EndpointTarget } from './http-batch.js';
import type { RpcOutcome, RpcRequest } from './types.js';

/**
 * Decodes the body of a JSON-RPC batch answer somewhere else than the caller's event loop (the
 * worker's decode thread, src/decode/): parses it, matches it by id like {@link matchById}, and
 * may hand back, in place of a block and its receipts, a {@link DecodedBlock} it already validated
 * and converted. `postBatch` uses it, when given, for answers with HTTP 2xx; the RPC pool calls
 * its `post`, when it has one, in place of `postBatch`.
 */
export type BodyDecoder = {
  /**
   * The outcomes of `requests` (ids 0..n−1) in the answer from endpoint `label` whose body is
   * `chunks` (`bytes` in all), as read from the HTTP response. The decoder may move the chunks'
   * memory to another thread: the caller must not use them afterwards.
   * @throws RpcTransientError when the body is not JSON; RpcBadResponseError when it is neither
   *   an array nor an error object (the messages `postBatch` would give); DecodeThreadError when
   *   the decoder itself failed (its thread died, it was closed, a bug).
   */
  decode(chunks: Uint8Array[], bytes: number, requests: readonly RpcRequest[], label: string): Promise<RpcOutcome[]>;
  /**
   * Optional: sends `requests` as one JSON-RPC batch POST to `endpoint` from where the decoder runs
   * and decodes the answer there, so the body's bytes never reach the caller's thread: the
   * outcomes and errors of `postBatch(endpoint, requests, { ...options, decode: this })`, with
   * `bytes`, the size of the body read (what `postBatch` gives `onBody`).
   * @throws what postBatch throws (RpcTransientError with its Retry-After hint and rate-limit
   *   flag, RpcBatchTooLargeError, RpcBadResponseError, RpcUnsupportedError, same messages);
   *   DecodeThreadError when the decoder itself failed.
   */
  post?(endpoint: EndpointTarget, requests: readonly RpcRequest[], options: { timeoutMs: number; signal?: AbortSignal }): Promise<{ outcomes: RpcOutcome[]; bytes: number }>;
  /**
   * Optional: the caller is done with every answer this decoder gave (their rows were written, or
   * never will be: refused, dropped, the range failed). The decoder may reuse their memory now;
   * answers that still arrive are freed as they come. Call it only once nothing can read them.
   */
  end?(): void;
};

/**
 * The error `postBatch` throws for a body a decoder refused, by the kind and message the decoder
 * gave (src/decode/blocks.ts `DecodedAnswer`): RpcTransientError for a body that is not JSON,
 * RpcBadResponseError for one of the wrong shape.
 */
export function bodyRefused(refusal: { error: 'transient' | 'bad-response'; message: string }): RpcTransientError | RpcBadResponseError {
  return refusal.error === 'transient' ? new RpcTransientError(refusal.message) : new RpcBadResponseError(refusal.message);
}

/**
 * The decoder failed, not the endpoint (its thread died, it was closed, a bug): the pool neither
 * counts it against the endpoint nor asks another one; the activity fails and Temporal retries it.
 */
export class DecodeThreadError extends Error {
  override readonly name = 'DecodeThreadError';
}

/**
 * The rows of the blocks one answer's body gave, already validated and converted by a
 * {@link BodyDecoder} (for the indexer: tuples encoded for COPY). Every valid block of the body
 * shares it, so the blocks of one body are taken all together or not at all.
 */
export type DecodedBody<P = unknown> = { readonly payload: P; readonly blockCount: number };

/**
 * A block (with its receipts) that a {@link BodyDecoder} validated and converted: the result of
 * the `eth_getBlockByNumber` outcome in place of the block object (the `eth_getBlockReceipts`
 * outcome's result is then null). `invalid` is the message of the RpcBadResponseError its
 * validation threw (`validateBlock`, `validateReceipts`), or, for every block of the answer, of
 * hex data in it that is not hex; `body` is then null. Only made on the
 * caller's thread, so no JSON a node sends can pass for one. Block number, hashes as sent.
 */
export class DecodedBlock {
  constructor(
    readonly number: number,
    readonly hash: string,
    readonly parentHash: string,
    readonly body: DecodedBody | null,
    readonly invalid?: string,
  ) {}
}
