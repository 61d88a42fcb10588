/**
 * What the decode thread does with one JSON-RPC answer of blocks and receipts (src/decode/thread.ts
 * runs it; pure, so tests call it directly): parse, match by id, validate each block with its
 * receipts, convert them to rows and encode the rows for COPY, the same steps the worker's main
 * thread takes otherwise (`postBatch`, `fetchChunk`, `toBatchRows`, `writeBatch`).
 */
import { CopyValueError } from '../db/copy-format.js';
import { encodeRows, type ColumnTypes, type EncodedRows } from '../db/encoded-rows.js';
import { toBatchRows } from '../db/rows.js';
import { RpcBadResponseError, RpcTransientError } from '../errors.js';
import { bodyText, parseBatchBody } from '../rpc/http-batch.js';
import type { BlockBundle, RpcOutcome, RpcRequest } from '../rpc/types.js';
import { validateBlock, validateReceipts } from '../rpc/validate.js';
import { transcodeBlocksAnswer } from './transcode.js';

/** A block the decoder handled: valid with its rows in the body's EncodedRows, or `invalid` with the validation's message. */
export type DecodedEntry = { index: number; number: number; hash: string; parentHash: string; invalid?: string };

/**
 * What one answer decoded to: `outcomes` as `parseBatchBody` gives them, except that each handled
 * block's `eth_getBlockByNumber` and `eth_getBlockReceipts` results are null and the block is in
 * `decoded` (by the index of its `eth_getBlockByNumber` request); `rows` holds the rows of the valid
 * ones (null when none). Or the error `parseBatchBody` threw, by kind and message.
 */
export type DecodedAnswer =
  | { ok: true; outcomes: RpcOutcome[]; decoded: DecodedEntry[]; rows: EncodedRows | null }
  | { ok: false; error: 'transient' | 'bad-response'; message: string };

/**
 * Decodes the answer `body` to `requests` (ids 0..n−1) from endpoint `label` for chain `chainId`.
 * A block is handled when its `eth_getBlockByNumber(n, true)` is directly followed by
 * `eth_getBlockReceipts(n)` in `requests` and both have a result, the block's not null; it is then
 * checked as `fetchChunk` does (`validateBlock`, `validateReceipts`), its rows made by
 * `toBatchRows` and encoded with `copyBinaryTuples` for `types`. A block whose validation (or
 * whose hex data, when encoded) fails is `invalid` with the RpcBadResponseError's message.
 * Everything else is left as outcomes for the caller, and so is any block whose checks or
 * conversion threw anything else (data they did not expect): the caller meets it as it would
 * without a decoder. With `fast` (the default), the transcoder (`transcodeBlocksAnswer`,
 * ./transcode.ts) tries first and gives the same answer, byte for byte, for the answers it takes;
 * the steps above run for the others (false: always, for tests comparing the two). Pure; never throws.
 */
export function decodeBlocksAnswer(body: Buffer, requests: readonly RpcRequest[], label: string, chainId: number, types: ColumnTypes, fast = true): DecodedAnswer {
  if (fast) {
    const transcoded = transcodeBlocksAnswer(body, requests, chainId, types);
    if (transcoded) return transcoded;
  }
  let outcomes: RpcOutcome[];
  try {
    outcomes = parseBatchBody(bodyText(body), requests.length, label);
  } catch (err) {
    if (err instanceof RpcTransientError) return { ok: false, error: 'transient', message: err.message };
    if (err instanceof RpcBadResponseError) return { ok: false, error: 'bad-response', message: err.message };
    throw err;
  }
  const decoded: DecodedEntry[] = [];
  const bundles: BlockBundle[] = [];
  for (let i = 0; i + 1 < requests.length; i++) {
    const blockCall = requests[i]!;
    const receiptsCall = requests[i + 1]!;
    if (blockCall.method !== 'eth_getBlockByNumber' || receiptsCall.method !== 'eth_getBlockReceipts' || blockCall.params[0] !== receiptsCall.params[0]) continue;
    const blockOutcome = outcomes[i]!;
    const receiptsOutcome = outcomes[i + 1]!;
    if (!blockOutcome.ok || !receiptsOutcome.ok || blockOutcome.result === null) continue;
    const n = Number(BigInt(String(blockCall.params[0])));
    const block = blockOutcome.result;
    const receipts = receiptsOutcome.result;
    try {
      validateBlock(block, n, label);
      validateReceipts(block, receipts, label);
      decoded.push({ index: i, number: n, hash: block.hash, parentHash: block.parentHash });
      bundles.push({ block, receipts });
    } catch (err) {
      // Data the checks did not expect (a number that is not hex, a null log): the main thread meets it as it would without a decoder.
      if (!(err instanceof RpcBadResponseError)) continue;
      decoded.push({ index: i, number: n, hash: '', parentHash: '', invalid: err.message });
    }
    outcomes[i] = { ok: true, result: null };
    outcomes[i + 1] = { ok: true, result: null };
    i++;
  }
  if (bundles.length === 0) return { ok: true, outcomes, decoded, rows: null };
  try {
    return { ok: true, outcomes, decoded, rows: encodeRows(toBatchRows(chainId, bundles), types) };
  } catch (err) {
    if (err instanceof CopyValueError && err.nodeData) {
      // Which block's hex is bad is in the message. The answer is refused (another endpoint is asked), where the main thread's write would fail the range.
      const message = `${label}: ${err.message}`;
      return { ok: true, outcomes, decoded: decoded.map((d) => (d.invalid ? d : { ...d, invalid: message })), rows: null };
    }
    // A value the conversion did not expect: the valid blocks go back to the main thread undecoded, to fail there as they would without a decoder.
    const valid = decoded.filter((d) => d.invalid === undefined);
    valid.forEach((d, k) => {
      outcomes[d.index] = { ok: true, result: bundles[k]!.block };
      outcomes[d.index + 1] = { ok: true, result: bundles[k]!.receipts };
    });
    return { ok: true, outcomes, decoded: decoded.filter((d) => d.invalid !== undefined), rows: null };
  }
}
