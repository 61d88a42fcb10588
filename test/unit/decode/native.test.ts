/**
 * src/decode/native.ts: loading the native transcoder (native/, built by scripts/setup, which
 * scripts/test runs first) as NATIVE_TRANSCODER says, and the addon's refusals of wrong arguments.
 * Its output is held to the general path's in test/integration/transcode.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { loadNativeTranscoder, NATIVE_TRANSCODER_PATH } from '../../../src/decode/native.js';
import { ConfigError } from '../../../src/errors.js';

describe('src/decode/native.ts', () => {
  it('loads the addon scripts/setup built, with auto and with on', () => {
    for (const mode of ['auto', 'on']) {
      const status = loadNativeTranscoder(mode);
      expect([typeof status.transcode, status.mode, status.why]).toEqual(['function', mode, `loaded ${NATIVE_TRANSCODER_PATH}`]);
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
});
