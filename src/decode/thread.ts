/**
 * Entry of the decode thread (a piscina worker thread; see src/decode/pool.ts): one task per
 * JSON-RPC answer of blocks: runs {@link decodeBlocksAnswer} on the body's chunks, moved here from
 * the main thread (not copied).
 */
import { workerData } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { loadNativeTranscoder, setNativeTranscoder, type NativeTranscoderMode } from './native.js';
import type { ColumnTypes } from '../db/encoded-rows.js';
import { decodeBlocksAnswer, type DecodedAnswer } from './blocks.js';
import { joinChunks } from '../rpc/http-batch.js';
import type { RpcRequest } from '../rpc/types.js';

/** What the pool gives each thread at its start (piscina's `workerData`). */
export type DecodeThreadData = { nativeTranscoder: NativeTranscoderMode | undefined };

const data = workerData as DecodeThreadData | undefined;
if (data?.nativeTranscoder) setNativeTranscoder(loadNativeTranscoder(data.nativeTranscoder));

/** One task: the answer to `requests` from endpoint `label`, whose body is `chunks` (`length` bytes in all). */
export type DecodeTask = { chunks: Uint8Array[]; length: number; requests: readonly RpcRequest[]; label: string; chainId: number; types: ColumnTypes };

/** Decodes one answer (piscina calls it in the thread); its encoded rows are moved, not copied, to the caller. @throws only on a bug in this file. */
export function decodeTask(task: DecodeTask): unknown {
  const body = joinChunks(task.chunks, task.length); // this thread's scratch: nothing returned points into it
  const answer: DecodedAnswer = decodeBlocksAnswer(body, task.requests, task.label, task.chainId, task.types);
  const tuples = answer.ok ? answer.rows?.tuples : null;
  // The body's chunks go back too (nothing in the answer points into them): their memory is freed
  // as soon as the main thread has the message, not when this thread's isolate next collects,
  // which is rare (it allocates little), so up to V8's 64 MB of external memory stayed held here.
  const spent = task.chunks.map((chunk) => chunk.buffer);
  return Piscina.move({ [Piscina.transferableSymbol]: tuples ? [tuples, ...spent] : spent, [Piscina.valueSymbol]: answer } as never);
}

