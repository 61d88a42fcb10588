/**
 * Entry of the decode thread (a piscina worker thread; see src/decode/pool.ts). Two kinds of task:
 * - `postTask`: sends one JSON-RPC batch of blocks and receipts (`postBatch`) from this thread and
 *   decodes its answer here ({@link decodeBlocksAnswer}), so the body's bytes never reach the main
 *   thread; what the RPC pool runs for every batch of blocks.
 * - `decodeTask`: decodes an answer whose body the main thread read, its chunks moved here.
 */
import { BroadcastChannel, workerData } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { loadNativeTranscoder, setNativeTranscoder, type NativeTranscoderMode } from './native.js';
import type { ColumnTypes } from '../db/encoded-rows.js';
import { RpcBadResponseError, RpcBatchTooLargeError, RpcTransientError, RpcUnsupportedError } from '../errors.js';
import { freeTuples, placeTuples, reserveTuples, type ArenaPlacement, type TupleArena } from './arena.js';
import { decodeBlocksAnswer, type DecodedAnswer } from './blocks.js';
import { withTupleDestination } from './transcode.js';
import { bodyRefused } from '../rpc/decoded.js';
import { joinChunks, postBatch, setHttpClient, type EndpointTarget, type HttpClientMode } from '../rpc/http-batch.js';
import type { RpcOutcome, RpcRequest } from '../rpc/types.js';

/**
 * What the pool gives each thread at its start (piscina's `workerData`): the NATIVE_TRANSCODER
 * mode, the name of the BroadcastChannel on which the pool cancels `postTask`s (by `id`), the
 * RPC_HTTP_CLIENT mode (`setHttpClient`; default auto), and the tuple arena `postTask` puts the
 * tuples it decoded in (./arena.ts; without it, or when it is full, they move in a buffer of their own).
 */
export type DecodeThreadData = { nativeTranscoder: NativeTranscoderMode | undefined; cancelChannel?: string; httpClient?: HttpClientMode; arena?: TupleArena };

const data = workerData as DecodeThreadData | undefined;
if (data?.nativeTranscoder) setNativeTranscoder(loadNativeTranscoder(data.nativeTranscoder));
if (data?.httpClient) setHttpClient(data.httpClient);

/** The running postTasks' abort controllers, by task id. */
const running = new Map<number, AbortController>();
if (data?.cancelChannel) {
  const channel = new BroadcastChannel(data.cancelChannel);
  channel.unref();
  // Ids of posts other threads run, or that ended, are ignored: a post not started yet sees its flag.
  channel.onmessage = (event) => running.get((event as { data: number }).data)?.abort();
}

/** One decode task: the answer to `requests` from endpoint `label`, whose body is `chunks` (`length` bytes in all). */
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

/**
 * One post task: `requests` (ids 0..n−1) to `endpoint` (its URL with any secret, and its label),
 * each HTTP request within `timeoutMs`, for chain `chainId` with the batch tables' column `types`;
 * `id` is what the pool cancels it by once it runs, `cancelled` (one Int32 on a SharedArrayBuffer)
 * is 1 when it was cancelled, checked when it starts here.
 */
export type PostTask = { id: number; cancelled: Int32Array; endpoint: EndpointTarget; requests: readonly RpcRequest[]; timeoutMs: number; chainId: number; types: ColumnTypes };

/**
 * What a post task gives back: the outcomes, with `answer` when the body was decoded here (a 2xx
 * answer: its `outcomes` are the outcomes; with `placement` when its tuples are in the arena), and
 * `bytes`, the body's size; or the error postBatch threw, by class name (`unknown` for anything but the RPC errors), message and, for
 * RpcTransientError, its Retry-After hint and rate-limit flag.
 */
export type PostResult =
  | { ok: true; answer: DecodedAnswer & { ok: true }; bytes: number; placement?: ArenaPlacement }
  | { ok: true; answer: null; outcomes: RpcOutcome[]; bytes: number }
  | { ok: false; error: { name: string; message: string; retryAfterMs?: number; rateLimited?: boolean } };

/** The RPC errors a post task hands back as they are (postBatch's and the decoder's). */
const RPC_ERRORS = [RpcTransientError, RpcBadResponseError, RpcBatchTooLargeError, RpcUnsupportedError];

/**
 * Sends one batch and decodes its answer in this thread (piscina calls it; many run at once): `postBatch` with a decoder that runs
 * {@link decodeBlocksAnswer} here. The encoded rows go to the caller in the tuple arena (the
 * native transcoder writes them there from its scratch, `withTupleDestination`; the JavaScript
 * one's are copied there), or moved in their own buffer when the arena is full; pages reserved
 * for an answer that then fails are freed here. The body stays in this thread's reused memory
 * (src/rpc/http1.ts) or chunks that die young (fetch). Never throws: an error is in the result.
 */
export async function postTask(task: PostTask): Promise<unknown> {
  const controller = new AbortController();
  running.set(task.id, controller); // before the flag is read: a cancel after this finds it here
  if (Atomics.load(task.cancelled, 0) === 1) controller.abort();
  let bytes = 0;
  let decoded: (DecodedAnswer & { ok: true }) | null = null;
  // Arena pages the native transcoder wrote this answer's tuples to, until a result carries them.
  let reserved: ArenaPlacement | null = null;
  const arena = data?.arena;
  try {
    const outcomes = await postBatch(task.endpoint, task.requests, {
      timeoutMs: task.timeoutMs,
      signal: controller.signal,
      onBody: (n) => {
        bytes += n;
      },
      decode: {
        decode: async (chunks, length, requests, label) => {
          const body = joinChunks(chunks, length);
          if (reserved && arena) freeTuples(arena, reserved); // postBatch decodes once; were it twice, only the last answer counts
          reserved = null;
          const answer = arena
            ? withTupleDestination((length) => {
                reserved = reserveTuples(arena, length);
                return reserved && { memory: arena.memory, start: reserved.start };
              }, () => decodeBlocksAnswer(body, requests, label, task.chainId, task.types))
            : decodeBlocksAnswer(body, requests, label, task.chainId, task.types);
          if (!answer.ok) throw bodyRefused(answer);
          decoded = answer;
          return answer.outcomes;
        },
      },
    });
    const answer = decoded as (DecodedAnswer & { ok: true }) | null;
    if (!answer) return { ok: true, answer: null, outcomes, bytes } satisfies PostResult;
    const rows = answer.rows;
    const placed = reserved as ArenaPlacement | null;
    if (rows && placed) {
      // The native transcoder wrote the tuples to the arena: the tables point into it already.
      reserved = null;
      return { ok: true, answer, bytes, placement: placed } satisfies PostResult;
    }
    const placement = rows?.tuples && arena ? placeTuples(arena, new Uint8Array(rows.tuples)) : null;
    if (rows && placement) {
      // In the arena: the main thread writes them from there and frees the pages (no buffer moves).
      const tables = rows.tables.map((t) => ({ ...t, start: t.start + placement.start, end: t.end + placement.start }));
      return { ok: true, answer: { ...answer, rows: { ...rows, tuples: arena!.memory, tables } }, bytes, placement } satisfies PostResult;
    }
    const result: PostResult = { ok: true, answer, bytes };
    return answer.rows?.tuples ? Piscina.move({ [Piscina.transferableSymbol]: [answer.rows.tuples], [Piscina.valueSymbol]: result } as never) : result;
  } catch (err) {
    const known = RPC_ERRORS.some((type) => err instanceof type);
    const error: (PostResult & { ok: false })['error'] = { name: known ? (err as Error).name : 'unknown', message: err instanceof Error ? err.message : String(err) };
    if (err instanceof RpcTransientError) {
      if (err.retryAfterMs !== undefined) error.retryAfterMs = err.retryAfterMs;
      error.rateLimited = err.rateLimited;
    }
    return { ok: false, error } satisfies PostResult;
  } finally {
    running.delete(task.id);
    // Placed but not returned (the answer failed after its decode): give the pages back.
    if (reserved && arena) freeTuples(arena, reserved);
  }
}
