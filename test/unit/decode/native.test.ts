/**
 * src/decode/native.ts: loading the native transcoder (native/, built by scripts/setup, which
 * scripts/test runs first) as NATIVE_TRANSCODER says, and the addon's refusals of wrong arguments.
 * Its output is held to the general path's in test/integration/transcode.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createSyntheticChain, PROFILES } from '../../../bench/chain/generate.js';
import { loadNativeTranscoder, NATIVE_TRANSCODER_PATH } from '../../../src/decode/native.js';
import { transcodeBlocksAnswer, TRANSCODED_TYPES, withTupleDestination } from '../../../src/decode/transcode.js';
import { ConfigError } from '../../../src/errors.js';
import { transcoderCases, transcoderResults } from '../../support/transcoder-cases.js';

/** An answer to eth_getBlockByNumber(n, true) and eth_getBlockReceipts(n) for blocks 1 and 2 of a synthetic mainnet-like chain, and its requests. */
function answerOfTwoBlocks(): { body: Buffer; requests: { method: string; params: unknown[] }[] } {
  const chain = createSyntheticChain(PROFILES.mainnet!, 1);
  const items = [1, 2].flatMap((n, k) => {
    const { block, receipts } = chain.bundle(n);
    return [{ jsonrpc: '2.0', id: 2 * k, result: block }, { jsonrpc: '2.0', id: 2 * k + 1, result: receipts }];
  });
  const requests = [1, 2].flatMap((n) => [
    { method: 'eth_getBlockByNumber', params: [`0x${n.toString(16)}`, true] },
    { method: 'eth_getBlockReceipts', params: [`0x${n.toString(16)}`] },
  ]);
  return { body: Buffer.from(JSON.stringify(items)), requests };
}

/** The steps the addon takes on this machine: AVX2 where /proc/cpuinfo lists it (x86-64), else SSE2; byte by byte on other targets. */
const CPU_STEPS = process.arch !== 'x64' ? 'bytes' : /\bavx2\b/.test(readFileSync('/proc/cpuinfo', 'utf8')) ? 'avx2' : 'sse2';

describe('src/decode/native.ts', () => {
  it('loads the addon scripts/setup built, with auto and with on', () => {
    for (const mode of ['auto', 'on']) {
      const status = loadNativeTranscoder(mode);
      expect([typeof status.transcode, status.mode, status.why]).toEqual(['function', mode, `loaded ${NATIVE_TRANSCODER_PATH} (its ${CPU_STEPS} steps)`]);
    }
  });

  it('refuses a TRANSCODER_SIMD other than sse2, naming it', () => {
    const before = process.env.TRANSCODER_SIMD;
    process.env.TRANSCODER_SIMD = 'avx512';
    try {
      expect(() => loadNativeTranscoder('auto')).toThrow(ConfigError);
      expect(() => loadNativeTranscoder('auto')).toThrow('TRANSCODER_SIMD must be sse2 (the native transcoder\'s SSE2 steps where the CPU has AVX2) or unset; got "avx512"');
    } finally {
      if (before === undefined) delete process.env.TRANSCODER_SIMD;
      else process.env.TRANSCODER_SIMD = before;
    }
  });

  it('loads nothing with off, and refuses any other mode naming NATIVE_TRANSCODER', () => {
    expect(loadNativeTranscoder('off')).toEqual({ transcode: null, mode: 'off', why: 'NATIVE_TRANSCODER=off' });
    expect(() => loadNativeTranscoder('yes')).toThrow(ConfigError);
    expect(() => loadNativeTranscoder('yes')).toThrow('NATIVE_TRANSCODER must be one of auto, on, off; got "yes"');
  });

  it('gives a reason for an answer it does not take, and throws on wrong arguments', () => {
    const transcode = loadNativeTranscoder('on').transcode!;
    const meta = new Float64Array(15);
    meta.set([1, 1, 5]); // chain 1, one block: block 5
    expect(transcode(Buffer.from('[]'), meta)).toBe('an empty batch');
    expect(transcode(Buffer.from('[{"jsonrpc":"2.0","id":0,"error":{"code":-32000,"message":"x"}}]'), meta)).toBe('an item with an error');
    expect(transcode(Buffer.from('[1'), meta)).toBe('expected { at byte 1');
    expect(() => transcode(Buffer.from('[]'), new Float64Array(14).fill(1))).toThrow('transcode(body, meta): meta[1] must be a block count of at least 1, and meta have 10 + 5 × that many numbers');
    expect(() => transcode(Buffer.from('[]'), new Int32Array(15) as unknown as Float64Array)).toThrow('transcode(body, meta): meta must be a Float64Array');
    expect(() => transcode('[]' as unknown as Buffer, meta)).toThrow('transcode(body, meta): body must be a Buffer');
    expect(() => transcode(Buffer.from('[]'), new Float64Array([1, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toThrow('meta[1] must be a block count of at least 1');
    // Values its caller checks are a give-up when out of range, not a throw.
    expect(transcode(Buffer.from('[]'), new Float64Array([-1.5, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toBe('a chain id that is not a safe integer');
    expect(transcode(Buffer.from('[]'), new Float64Array([1, 1, 2 ** 53, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toBe('a block number that is not a safe integer');
  });

  it('holds the tuples and copies them once into the memory given (take), the same bytes as its own ArrayBuffer', () => {
    const transcode = loadNativeTranscoder('on').transcode!;
    const { body } = answerOfTwoBlocks();
    const meta = new Float64Array(20);
    meta.set([1, 2, 1, 2]);
    const own = transcode(body, meta);
    if (typeof own === 'string') throw new Error(`gave up: ${own}`);
    const ownMeta = meta.slice();
    meta.fill(0);
    meta.set([1, 2, 1, 2]);
    const length = transcode(body, meta, true);
    expect(length).toBe(own.byteLength);
    expect(meta).toEqual(ownMeta);
    const shared = new SharedArrayBuffer(own.byteLength + 100);
    transcode.take(new Uint8Array(shared, 100, own.byteLength));
    expect(Buffer.from(shared, 100, own.byteLength).equals(Buffer.from(own))).toBe(true);
    expect(Buffer.from(shared, 0, 100).every((b) => b === 0)).toBe(true);
    expect(() => transcode.take(new Uint8Array(own.byteLength))).toThrow('take(out): no tuples are held (call transcode(body, meta, hold) first)');
    meta.set([1, 2, 1, 2]);
    transcode(body, meta, true);
    expect(() => transcode.take(new Uint8Array(own.byteLength - 1))).toThrow('take(out): out is shorter than the tuples held');
    expect(() => transcode.take(new Float64Array(own.byteLength) as unknown as Uint8Array)).toThrow('take(out): out must be a Uint8Array');
    // A give-up holds nothing.
    transcode(Buffer.from('[]'), meta, true);
    expect(() => transcode.take(new Uint8Array(own.byteLength))).toThrow('no tuples are held');
  });

  it('puts the tuples where withTupleDestination says, with the tables pointing there', () => {
    const { body, requests } = answerOfTwoBlocks();
    const own = transcodeBlocksAnswer(body, requests, 1, TRANSCODED_TYPES, undefined, 'native');
    if (!own?.ok || !own.rows?.tuples) throw new Error('the native transcoder did not take the answer');
    const memory = new SharedArrayBuffer(own.rows.tuples.byteLength + 4096);
    const asked: number[] = [];
    const placed = withTupleDestination((length) => {
      asked.push(length);
      return { memory, start: 4096 };
    }, () => transcodeBlocksAnswer(body, requests, 1, TRANSCODED_TYPES, undefined, 'native'));
    if (!placed?.ok || !placed.rows) throw new Error('the native transcoder did not take the answer');
    expect(asked).toEqual([own.rows.tuples.byteLength]);
    expect(placed.rows.tuples).toBe(memory);
    expect(placed.rows.tables).toEqual(own.rows.tables.map((t) => ({ ...t, start: t.start + 4096, end: t.end + 4096 })));
    expect(Buffer.from(memory, 4096).equals(Buffer.from(own.rows.tuples))).toBe(true);
    // No room there: a buffer of their own, as without a destination; and after the call, none is used.
    const refused = withTupleDestination(() => null, () => transcodeBlocksAnswer(body, requests, 1, TRANSCODED_TYPES, undefined, 'native'));
    expect(refused?.ok && refused.rows?.tuples instanceof ArrayBuffer && Buffer.from(refused.rows.tuples).equals(Buffer.from(own.rows.tuples))).toBe(true);
    const after = transcodeBlocksAnswer(body, requests, 1, TRANSCODED_TYPES, undefined, 'native');
    expect(after?.ok && after.rows?.tuples instanceof ArrayBuffer).toBe(true);
  });
  it('gives the same answer with its AVX2 steps as with its SSE2 steps only (TRANSCODER_SIMD=sse2), and takes what the JavaScript transcoder takes, byte for byte', () => {
    // Each in a process of its own: the addon decides once per process whether its AVX2 steps run.
    // On a CPU without AVX2 both runs take the SSE2 steps, and the test still holds them to the
    // JavaScript transcoder.
    const script = fileURLToPath(new URL('../../support/transcoder-cases.ts', import.meta.url));
    const run = (env: Record<string, string>): { simd: string; results: string[] } => JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', script], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, maxBuffer: 64 << 20, encoding: 'utf8',
    })) as { simd: string; results: string[] };
    const [widest, sse2] = [run({}), run({ TRANSCODER_SIMD: 'sse2' })];
    // Each process took the steps it should: this machine's widest, and SSE2 when told (x86-64).
    expect([widest.simd, sse2.simd]).toEqual([CPU_STEPS, CPU_STEPS === 'bytes' ? 'bytes' : 'sse2']);
    const [wide, narrow] = [widest.results, sse2.results];
    const cases = transcoderCases();
    const names = cases.map((c) => c.name);
    expect(wide.length).toBe(names.length);
    expect(narrow.length).toBe(names.length);
    expect(names.flatMap((name, k) => (wide[k] === narrow[k] ? [] : [`${name}: ${wide[k]} / ${narrow[k]}`]))).toEqual([]);
    // Each answer taken where the only change is nothing or a DEL (0x7f, not a control character to
    // JSON), refused for a bad hex digit, an escape, a control character or a byte over 0x7f, with
    // that reason.
    expect(cases.map((c, k) => `${c.name}: ${wide[k]!.startsWith('taken') ? 'taken' : wide[k]}`)).toEqual(cases.map((c) => `${c.name}: ${c.native}`));
    // The JavaScript transcoder takes the same answers and gives the same bytes (its reasons differ).
    const javascript = transcoderResults('javascript');
    const unlike = names.filter((_, k) => (wide[k]!.startsWith('taken') || javascript[k]!.startsWith('taken')) && wide[k] !== javascript[k]);
    expect(unlike).toEqual([]);
    // About 18 s alone and in most full runs (two child processes and the JavaScript transcoder, 68,073
    // answers each); 79 s once in a fresh-clone CI run beside the integration tests.
  }, 180_000);
});
