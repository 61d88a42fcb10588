/**
 * Entry of the decode thread (a piscina worker thread; see src/decode/pool.ts): one task per
 * JSON-RPC answer of blocks: runs {@link decodeBlocksAnswer} on the body's chunks, moved here from
 * the main thread (not copied).
 */
import { Piscina } from 'piscina';
import type { ColumnTypes } from '../db/encoded-rows.js';
import { decodeBlocksAnswer, type DecodedAnswer } from './blocks.js';
import type { RpcRequest } from '../rpc/types.js';

/** One task: the answer to `requests` from endpoint `label`, whose body is `chunks` (`length` bytes in all). */
export type DecodeTask = { chunks: Uint8Array[]; length: number; requests: readonly RpcRequest[]; label: string; chainId: number; types: ColumnTypes };

/** Largest body joined in {@link scratch}, in bytes; a larger one gets a buffer of its own. */
const SCRATCH_MAX_BYTES = 16 * 2 ** 20;
/**
 * Memory the chunks of an answer are joined in, reused from answer to answer (a task runs
 * synchronously, one at a time, and nothing it returns points into the body): it grows (powers
 * of 2) to the largest body up to SCRATCH_MAX_BYTES and stays. Why: a fresh ~4 MB buffer per
 * answer is a fresh mapping under the image's 128 KiB mmap threshold, whose pages fault in at
 * the first write and are given back at the next collection.
 */
let scratch = Buffer.alloc(0);

/** The body whose chunks are `chunks` (`length` bytes in all), joined in {@link scratch} unless it is one chunk or larger than SCRATCH_MAX_BYTES. */
function joined(chunks: readonly Uint8Array[], length: number): Buffer {
  const [first] = chunks;
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

/** Decodes one answer (piscina calls it in the thread); its encoded rows are moved, not copied, to the caller. @throws only on a bug in this file. */
export function decodeTask(task: DecodeTask): unknown {
  const body = joined(task.chunks, task.length);
  const answer: DecodedAnswer = decodeBlocksAnswer(body, task.requests, task.label, task.chainId, task.types);
  const tuples = answer.ok ? answer.rows?.tuples : null;
  return Piscina.move({ [Piscina.transferableSymbol]: tuples ? [tuples] : [], [Piscina.valueSymbol]: answer } as never);
}

