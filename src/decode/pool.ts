/**
 * The worker's decode threads: JSON-RPC answers of blocks are parsed, validated, converted to rows
 * and encoded for COPY off the main thread, which only moves bytes (HTTP in, COPY out) and runs
 * Temporal's activities. Why: in the mainnet bench the main thread's event loop was the bottleneck
 * (95 % busy); parsing, rows and encoding were about 5 of its 7.6 ms of CPU per block.
 */
import { Piscina } from 'piscina';
import { RpcBadResponseError, RpcTransientError } from '../errors.js';
import { DecodedBlock, DecodeThreadError, type BodyDecoder, type DecodedBody } from '../rpc/decoded.js';
import type { Logger } from '../log.js';
import type { RpcOutcome, RpcRequest } from '../rpc/types.js';
import type { ColumnTypes, EncodedRows } from '../db/encoded-rows.js';
import type { DecodedAnswer } from './blocks.js';
import type { DecodeTask, DecodeThreadData } from './thread.js';
import type { NativeTranscoderMode } from './native.js';

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
};

/**
 * Starts `threads` decode threads (default 1: with the native transcoder it takes about 1.2 ms of
 * CPU per Ethereum mainnet block, 4 ms with the JavaScript one, so one keeps up with ~800 or ~250
 * blocks/s; each costs about 50–60 MB of heap). Threads that idle
 * do not keep the process alive. A thread that dies outside a task (at its start) is logged as
 * `decode-thread-failed` on `log` and replaced; one that dies in a task fails that task's answer.
 * `nativeTranscoder` is the threads' NATIVE_TRANSCODER mode (default: the variable's, else auto). The thread runs src/decode/thread.ts through tsx when this file
 * runs as TypeScript (tests, `npm run worker`), thread.js from dist otherwise.
 */
export function createDecodePool(threads = DEFAULT_DECODE_THREADS, log?: Logger, nativeTranscoder?: NativeTranscoderMode): DecodePool {
  const typescript = import.meta.url.endsWith('.ts');
  const piscina = new Piscina({
    filename: new URL(typescript ? './thread.ts' : './thread.js', import.meta.url).href,
    name: 'decodeTask',
    minThreads: threads,
    maxThreads: threads,
    execArgv: typescript ? ['--import', 'tsx'] : [],
    workerData: { nativeTranscoder } satisfies DecodeThreadData,
  });
  piscina.on('error', (err: unknown) => log?.error({ err: err instanceof Error ? err.message : String(err) }, 'decode-thread-failed'));
  let closed = false;
  return {
    forRange: (chainId, types) => ({
      decode: async (chunks: Uint8Array[], length: number, requests: readonly RpcRequest[], label: string): Promise<RpcOutcome[]> => {
        if (closed) throw new DecodeThreadError(`decode thread failed on an answer from ${label}: the decode threads are closed`);
        const moved = movable(chunks);
        const task: DecodeTask = { chunks: moved, length, requests, label, chainId, types };
        const answer = (await piscina.run(task, { transferList: moved.map((c) => c.buffer as ArrayBuffer) }).catch((err: unknown) => {
          throw new DecodeThreadError(`decode thread failed on an answer from ${label}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        })) as DecodedAnswer;
        if (!answer.ok) throw answer.error === 'transient' ? new RpcTransientError(answer.message) : new RpcBadResponseError(answer.message);
        const shared: DecodedBody<EncodedRows> | null = answer.rows
          ? { payload: answer.rows, blockCount: answer.decoded.filter((d) => d.invalid === undefined).length }
          : null;
        const outcomes = answer.outcomes;
        for (const d of answer.decoded) {
          outcomes[d.index] = { ok: true, result: new DecodedBlock(d.number, d.hash, d.parentHash, d.invalid === undefined ? shared : null, d.invalid) };
        }
        return outcomes;
      },
    }),
    close: () => {
      closed = true;
      return piscina.close();
    },
  };
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
