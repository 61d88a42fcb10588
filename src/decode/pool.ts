/**
 * The worker's decode threads: JSON-RPC batches of blocks are sent from them and their answers
 * parsed, validated, converted to rows and encoded for COPY there, off the main thread, which only
 * writes (COPY out) and runs Temporal's activities and the RPC pool's choices (endpoint, budget,
 * retries). Why: in the mainnet bench the main thread's event loop was the bottleneck (95 % busy);
 * parsing, rows and encoding were about 5 of its 7.6 ms of CPU per block. Then, with those moved,
 * reading the bodies there (fetch's chunks, moved to the thread and back) caused 254 of the main
 * isolate's 267 young-generation collections per 3,000 mainnet blocks (about 50 now): V8 collects
 * the young generation each time 32 MB of new ArrayBuffers gathered, and a collection there copies
 * everything the worker has in flight. The main thread's CPU per block went from 1.5 to 0.7 ms.
 */
import { randomUUID } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { RpcBadResponseError, RpcBatchTooLargeError, RpcTransientError, RpcUnsupportedError } from '../errors.js';
import { bodyRefused, DecodedBlock, DecodeThreadError, type BodyDecoder, type DecodedBody } from '../rpc/decoded.js';
import type { Logger } from '../log.js';
import type { RpcOutcome, RpcRequest } from '../rpc/types.js';
import type { ColumnTypes, EncodedRows } from '../db/encoded-rows.js';
import type { DecodedAnswer } from './blocks.js';
import type { DecodeTask, DecodeThreadData, PostResult, PostTask } from './thread.js';
import type { NativeTranscoderMode } from './native.js';
import { arenaPagesHeld, createTupleArena, freeTuples, type ArenaPlacement } from './arena.js';
import type { HttpClientMode } from '../rpc/http-batch.js';

/** Decode threads of a worker unless `DECODE_THREADS` says otherwise. */
export const DEFAULT_DECODE_THREADS = 1;

/**
 * Decode threads of one process, shared by every chain and range it indexes. `forRange` gives
 * the BodyDecoder for one range's answers; `close` stops the threads.
 */
export type DecodePool = {
  /** A BodyDecoder for answers of chain `chainId`, encoding rows for the columns `types` lists. */
  forRange(chainId: number, types: ColumnTypes): BodyDecoder;
  /** Stops the threads: tasks in progress get piscina's 30 s to finish, then are cut off; those and later answers fail with DecodeThreadError. */
  close(): Promise<void>;
  /** Pages of the tuple arena (./arena.ts) held now by answers not written yet, of all. */
  tuplePages(): { held: number; total: number };
};

/**
 * Starts `threads` decode threads (default 1: with the native transcoder it takes about 1.2 ms of
 * CPU per Ethereum mainnet block, 4 ms with the JavaScript one, so one keeps up with ~800 or ~250
 * blocks/s; each costs about 50–60 MB of heap). Threads that idle
 * do not keep the process alive. A thread that dies outside a task (at its start) is logged as
 * `decode-thread-failed` on `log` and replaced; one that dies in a task fails that task's answer.
 * `nativeTranscoder` is the threads' NATIVE_TRANSCODER mode (default: the variable's, else auto),
 * `httpClient` their RPC_HTTP_CLIENT mode (default auto; `setHttpClient`). The tuples of posted
 * answers come back in a tuple arena shared with the threads (./arena.ts: ARENA_BYTES of address
 * space, resident as used), with `release` on their EncodedRows; the range's `end` frees those
 * never written, and the garbage collector any an `end` never came for. The thread runs src/decode/thread.ts through tsx when this file
 * runs as TypeScript (tests, `npm run worker`), thread.js from dist otherwise.
 */
export function createDecodePool(threads = DEFAULT_DECODE_THREADS, log?: Logger, nativeTranscoder?: NativeTranscoderMode, httpClient?: HttpClientMode): DecodePool {
  const typescript = import.meta.url.endsWith('.ts');
  const cancelChannel = `evm-indexer-decode-cancel-${randomUUID()}`;
  const arena = createTupleArena();
  // The safety net of the arena: an answer whose rows are dropped unwritten (a cancelled post, a
  // failed range) frees its pages when the main thread's view of the arena it came with is
  // collected; each message brings its own view, which every Buffer made of its tuples holds.
  const unreleased = new FinalizationRegistry<ArenaPlacement>((placement) => freeTuples(arena, placement));
  const piscina = new Piscina({
    filename: new URL(typescript ? './thread.ts' : './thread.js', import.meta.url).href,
    name: 'decodeTask',
    minThreads: threads,
    maxThreads: threads,
    // Post tasks mostly wait on the network: each thread runs as many as the RPC pool sends.
    concurrentTasksPerWorker: POSTS_PER_THREAD,
    execArgv: typescript ? ['--import', 'tsx'] : [],
    workerData: { nativeTranscoder, cancelChannel, arena, ...(httpClient ? { httpClient } : {}) } satisfies DecodeThreadData,
  });
  piscina.on('error', (err: unknown) => log?.error({ err: err instanceof Error ? err.message : String(err) }, 'decode-thread-failed'));
  // Cancelling a post: its shared flag is set (what a task that has not started yet checks when it
  // starts), then its id goes to every thread (the one running it aborts its request). The channel
  // stays open until the threads are closed, so posts still draining can be cancelled.
  const cancels = new BroadcastChannel(cancelChannel);
  cancels.unref();
  let channelOpen = true;
  let closed = false;
  let nextId = 0;
  // One abort listener per signal (a range's posts share its activity's signal), not one per post.
  const postsBySignal = new WeakMap<AbortSignal, Map<number, () => void>>();
  /** Runs `cancel` (once) when `signal` aborts; returns what forgets it. */
  const watch = (signal: AbortSignal, id: number, cancel: () => void): (() => void) => {
    let posts = postsBySignal.get(signal);
    if (!posts) {
      const watched = (posts = new Map());
      postsBySignal.set(signal, watched);
      signal.addEventListener('abort', () => {
        for (const cancelOne of watched.values()) cancelOne();
        watched.clear();
      }, { once: true });
    }
    posts.set(id, cancel);
    return () => posts.delete(id);
  };
  const threadFailure = (label: string, err: unknown, what = 'an answer from') =>
    new DecodeThreadError(`decode thread failed on ${what} ${label}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  return {
    forRange: (chainId, types) => {
      // The arena placements of this range's answers not freed yet: all freed when the range ends.
      const held = new Set<ArenaPlacement>();
      let ended = false;
      const free = (placement: ArenaPlacement) => {
        held.delete(placement);
        freeTuples(arena, placement);
      };
      return {
        decode: async (chunks: Uint8Array[], length: number, requests: readonly RpcRequest[], label: string): Promise<RpcOutcome[]> => {
          if (closed) throw threadFailure(label, 'the decode threads are closed');
          const moved = movable(chunks);
          const task: DecodeTask = { chunks: moved, length, requests, label, chainId, types };
          const answer = (await piscina.run(task, { transferList: moved.map((c) => c.buffer as ArrayBuffer) }).catch((err: unknown) => {
            throw threadFailure(label, err);
          })) as DecodedAnswer;
          if (!answer.ok) throw bodyRefused(answer);
          return outcomesOf(answer);
        },
        post: async (endpoint, requests, options) => {
          if (closed) throw threadFailure(endpoint.label, 'the decode threads are closed', 'a request to');
          if (options.signal?.aborted) throw new RpcTransientError(`${endpoint.label}: request cancelled`);
          const task: PostTask = {
            id: nextId++, cancelled: new Int32Array(new SharedArrayBuffer(4)), endpoint: { url: endpoint.url, label: endpoint.label }, requests, timeoutMs: options.timeoutMs, chainId, types,
          };
          // A thread that dies fails every post it runs (each range with a request there fails this attempt; Temporal retries it).
          const running = (piscina.run(task, { name: 'postTask' }) as Promise<PostResult>).catch((err: unknown) => {
            throw threadFailure(endpoint.label, err, 'a request to');
          });
          let unwatch = () => {};
          // Cancelled, the post ends at once, as fetch does, even while it waits in piscina's queue
          // for a free place in a thread: the thread drops it when it starts it (its flag), or aborts
          // its request (the channel); what the thread then gives back is dropped.
          const cancelled = new Promise<PostResult & { cancelled: true }>((resolve) => {
            if (!options.signal) return;
            unwatch = watch(options.signal, task.id, () => {
              Atomics.store(task.cancelled, 0, 1);
              if (channelOpen) cancels.postMessage(task.id);
              resolve({ ok: false, error: { name: 'RpcTransientError', message: `${endpoint.label}: request cancelled`, rateLimited: false }, cancelled: true });
            });
          });
          let result: PostResult | (PostResult & { cancelled: true });
          try {
            result = await Promise.race([running, cancelled]);
          } finally {
            unwatch();
          }
          if ('cancelled' in result) {
            // What the thread still gives back is nobody's: a failure is dropped, tuples it placed are freed.
            running.then((late) => {
              if (late.ok && late.answer && late.placement) freeTuples(arena, late.placement);
            }, () => {});
          }
          if (!result.ok) throw rpcError(result.error, endpoint.label);
          if (!result.answer) return { outcomes: result.outcomes, bytes: result.bytes };
          const { placement } = result;
          const rows = result.answer.rows;
          if (placement && rows) {
            if (ended) {
              free(placement); // a straggler of a range that ended: nothing will write it
            } else {
              held.add(placement);
              unreleased.register(rows.tuples!, placement);
              rows.release = () => free(placement);
            }
          }
          return { outcomes: outcomesOf(result.answer), bytes: result.bytes };
        },
        end: () => {
          ended = true;
          for (const placement of [...held]) free(placement);
        },
      };
    },
    tuplePages: () => arenaPagesHeld(arena),
    close: async () => {
      closed = true;
      try {
        await piscina.close();
      } finally {
        channelOpen = false;
        cancels.close();
      }
    },
  };
}

/**
 * Post tasks one decode thread runs at once, at most: what four endpoints at the RPC pool's
 * largest in-flight budget send (16 requests of up to 4 slices each), so the pool, not the thread,
 * limits them; more wait in piscina's queue.
 */
const POSTS_PER_THREAD = 256;

/**
 * The outcomes of a decoded answer as the caller gets them: each handled block's
 * `eth_getBlockByNumber` outcome becomes a {@link DecodedBlock} (made here, on the caller's
 * thread), sharing the answer's rows when valid.
 */
function outcomesOf(answer: DecodedAnswer & { ok: true }): RpcOutcome[] {
  const shared: DecodedBody<EncodedRows> | null = answer.rows
    ? { payload: answer.rows, blockCount: answer.decoded.filter((d) => d.invalid === undefined).length }
    : null;
  const outcomes = answer.outcomes;
  for (const d of answer.decoded) {
    outcomes[d.index] = { ok: true, result: new DecodedBlock(d.number, d.hash, d.parentHash, d.invalid === undefined ? shared : null, d.invalid) };
  }
  return outcomes;
}

/**
 * The error a post task handed back, as the class postBatch threw (same message, Retry-After hint
 * and rate-limit flag); anything else is the decoder's failure (DecodeThreadError).
 */
function rpcError(error: (PostResult & { ok: false })['error'], label: string): Error {
  switch (error.name) {
    case 'RpcTransientError':
      return new RpcTransientError(error.message, { ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}), rateLimited: error.rateLimited ?? false });
    case 'RpcBadResponseError':
      return new RpcBadResponseError(error.message);
    case 'RpcBatchTooLargeError':
      return new RpcBatchTooLargeError(error.message);
    case 'RpcUnsupportedError':
      return new RpcUnsupportedError(error.message);
    default:
      return new DecodeThreadError(`decode thread failed on an answer from ${label}: ${error.message}`);
  }
}

/**
 * `chunks` as views that each own their whole buffer, so the buffers can be moved to a thread:
 * fetch's chunks already are (each has a buffer of its own); any other is copied.
 */
function movable(chunks: readonly Uint8Array[]): Uint8Array[] {
  const seen = new Set<ArrayBufferLike>();
  return chunks.map((chunk) => {
    const owns = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength && chunk.buffer instanceof ArrayBuffer && !seen.has(chunk.buffer);
    seen.add(chunk.buffer);
    return owns ? chunk : new Uint8Array(chunk);
  });
}

let shared: DecodePool | undefined;

/** The process's decode pool ({@link createDecodePool} with its default threads), started at the first call. */
export function sharedDecodePool(): DecodePool {
  shared ??= createDecodePool();
  return shared;
}
