/**
 * The native transcoder (native/, Rust, a Node-API addon): src/decode/transcode.ts's work, check
 * for check and byte for byte, about five times faster. `scripts/setup` builds it when `cargo` is
 * on the PATH (cached by source hash under the user's cache folder) into
 * `native/build/transcode.node`; without it the JavaScript transcoder does the same work.
 *
 * `NATIVE_TRANSCODER` chooses: `auto` (the default: the addon when it is built), `on` (the addon
 * or a clear error at start), `off` (the JavaScript transcoder only). The addon scans strings and
 * decodes hex 32 bytes a step with AVX2 when the CPU has it (checked at run time), else 16 with
 * SSE2 (x86-64), else byte by byte; `TRANSCODER_SIMD=sse2` in the environment makes it take the
 * SSE2 steps (for tests: the same rows either way); any other value is refused. The worker's
 * start-up log line says which steps run.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';

/** Where the addon may be, from this file (src/decode/ or dist/src/decode/). */
const ADDON_PATHS = ['../../native/build/transcode.node', '../../../native/build/transcode.node'].map((path) => fileURLToPath(new URL(path, import.meta.url)));

/**
 * Where `scripts/setup` puts the built addon: native/build/ at the top of the checkout, two
 * folders up from src/decode/ (tsx) and three from dist/src/decode/ (the compiled worker, and the
 * Docker image, whose build stage puts it there too).
 */
export const NATIVE_TRANSCODER_PATH = ADDON_PATHS.find((path) => existsSync(path)) ?? ADDON_PATHS[0]!;

/** `NATIVE_TRANSCODER`'s values. */
export const NATIVE_TRANSCODER_MODES = ['auto', 'on', 'off'] as const;
export type NativeTranscoderMode = (typeof NATIVE_TRANSCODER_MODES)[number];

/**
 * The addon's functions (native/src/lib.rs). Called with two arguments: the tuples of the answer
 * `body` as one ArrayBuffer (blocks, transactions, logs, withdrawals one after the other), or why
 * it gave up. `meta`: on entry `[chainId, n, block numbers…]`; on success, from index `2 + n`: the
 * four tables' byte lengths, their row counts, then per block the spans (start, end) of its hash
 * and parent hash in `body`. With a third argument (`hold`): the same, but the tuples stay in the
 * thread's scratch and it returns their byte length; `take(out)` then copies them into `out` (a
 * Uint8Array of at least that length, on an ArrayBuffer or a SharedArrayBuffer), so they are
 * copied once, with no fresh memory per answer. @throws Error only on wrong arguments (and `take`
 * when nothing is held or `out` is too short).
 */
export type NativeTranscode = {
  (body: Buffer, meta: Float64Array): ArrayBuffer | string;
  (body: Buffer, meta: Float64Array, hold: true): number | string;
  take(out: Uint8Array): void;
  /** Which steps its scans and hex decoding take in this process: `avx2`, `sse2` or `bytes` (not x86-64). */
  simd(): 'avx2' | 'sse2' | 'bytes';
};

/** `TRANSCODER_SIMD`'s one value: the SSE2 steps even where the CPU has AVX2. */
export const TRANSCODER_SIMD_SSE2 = 'sse2';

/** Which transcoder runs, and why: for the worker's start-up log line. */
export type NativeTranscoderStatus = { transcode: NativeTranscode | null; mode: NativeTranscoderMode; why: string };

/**
 * Loads the addon as `mode` says (default: `NATIVE_TRANSCODER` from the environment, else
 * `auto`). @throws ConfigError when `NATIVE_TRANSCODER` is not one of auto/on/off, or is `on` and
 * the addon is missing or does not load, or when `TRANSCODER_SIMD` is set to anything but `sse2`.
 */
export function loadNativeTranscoder(mode: string = process.env.NATIVE_TRANSCODER ?? 'auto'): NativeTranscoderStatus {
  if (!(NATIVE_TRANSCODER_MODES as readonly string[]).includes(mode)) {
    throw new ConfigError([`NATIVE_TRANSCODER must be one of ${NATIVE_TRANSCODER_MODES.join(', ')}; got ${JSON.stringify(mode)}`]);
  }
  const simd = process.env.TRANSCODER_SIMD;
  if (simd !== undefined && simd !== '' && simd !== TRANSCODER_SIMD_SSE2) {
    throw new ConfigError([`TRANSCODER_SIMD must be ${TRANSCODER_SIMD_SSE2} (the native transcoder's SSE2 steps where the CPU has AVX2) or unset; got ${JSON.stringify(simd)}`]);
  }
  const m = mode as NativeTranscoderMode;
  if (m === 'off') return { transcode: null, mode: m, why: 'NATIVE_TRANSCODER=off' };
  let why: string;
  if (!existsSync(NATIVE_TRANSCODER_PATH)) {
    why = `${NATIVE_TRANSCODER_PATH} is not built (scripts/setup builds it when cargo is installed)`;
  } else {
    try {
      const addon = createRequire(import.meta.url)(NATIVE_TRANSCODER_PATH) as { transcode?: unknown; take?: unknown; simd?: unknown };
      if (typeof addon.transcode !== 'function' || typeof addon.take !== 'function' || typeof addon.simd !== 'function') {
        throw new Error('it exports no transcode, take and simd functions (an old build: rerun scripts/setup)');
      }
      const transcode = Object.assign(addon.transcode, { take: addon.take, simd: addon.simd }) as NativeTranscode;
      return { transcode, mode: m, why: `loaded ${NATIVE_TRANSCODER_PATH} (its ${transcode.simd()} steps)` };
    } catch (err) {
      why = `${NATIVE_TRANSCODER_PATH} does not load: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  if (m === 'on') throw new ConfigError([`NATIVE_TRANSCODER=on but ${why}`]);
  return { transcode: null, mode: m, why };
}

let loaded: NativeTranscoderStatus | undefined;

/** Sets the transcoder this thread's {@link nativeTranscoder} gives (the worker's, loaded at its start as its config says). */
export function setNativeTranscoder(status: NativeTranscoderStatus): void {
  loaded = status;
}

/** The addon for this thread: as set, else loaded at the first call as `NATIVE_TRANSCODER` says; null when it is off or not built. */
export function nativeTranscoder(): NativeTranscode | null {
  loaded ??= loadNativeTranscoder();
  return loaded.transcode;
}
