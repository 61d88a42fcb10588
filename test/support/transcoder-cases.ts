/**
 * Answers that cross each boundary of the native transcoder's SIMD steps (native/src/transcode.rs:
 * strings scanned 32 bytes a step with AVX2 where the CPU has it, then 16 with SSE2, then byte by
 * byte; hex data decoded 32 digits a step with AVX2, then 16, then pair by pair), and what a
 * transcoder makes of each: the same answer must come out of every step width. When run as a
 * script it prints the native transcoder's results as JSON, one per answer, so a test can run it
 * in a process with `TRANSCODER_SIMD=sse2` (SSE2 steps only) and in one without.
 */
import { createHash } from 'node:crypto';
import { createSyntheticChain, mulberry32 as random, PROFILES } from '../../bench/chain/generate.js';
import { nativeTranscoder } from '../../src/decode/native.js';
import { transcodeBlocksAnswer, TRANSCODED_TYPES, type TranscoderEngine } from '../../src/decode/transcode.js';
import type { RpcRequest } from '../../src/rpc/types.js';

type Json = Record<string, unknown>;
type Bundle = { block: Json & { transactions: Json[] }; receipts: Json[] };

/** An answer, and what the native transcoder must make of it: `taken`, or `refused <why>`. */
export type TranscoderCase = { name: string; body: Buffer; native: string };

const TAKEN = 'taken';
const NOT_ASCII = 'refused a string has a byte that is not ASCII';
const NOT_HEX = 'refused hex data with a digit that is not hex';
const ESCAPE = 'refused a string has an escape or a control character';
/** Bytes over 0x7f, as latin1 characters. */
const HIGH = new Set(['\u0080', '\u00e9', '\u00ff']);

const BLOCK = 31;
const REQUESTS: RpcRequest[] = [
  { method: 'eth_getBlockByNumber', params: [`0x${BLOCK.toString(16)}`, true] },
  { method: 'eth_getBlockReceipts', params: [`0x${BLOCK.toString(16)}`] },
];

/**
 * The answers (bytes as latin1, so a character up to U+00FF is one byte): a transaction's input of
 * every length from 0 to 100 bytes (up to three 32-digit steps, a 16-digit one and pairs); a bad
 * digit (not hex, a quote's neighbours, a byte over 0x7f) at each place of a 100-digit input; an
 * extra field's text of 96 to 159 characters (its closing quote at each place of a 32-byte step,
 * after one or more whole 64-byte stretches) with an escape, a control character or a byte over
 * 0x7f at each place, and followed by whitespace.
 */
export function transcoderCases(): TranscoderCase[] {
  const base = createSyntheticChain(PROFILES.light!, 1).bundle(BLOCK) as Bundle;
  const rand = random(32);
  const digits = '0123456789abcdefABCDEF';
  const hexOf = (count: number) => Array.from({ length: count }, () => digits[Math.floor(rand() * digits.length)]).join('');
  const body = (input: string, note?: string, after = ''): Buffer => {
    const copy = structuredClone(base);
    copy.block.transactions[0]!.input = input;
    if (note !== undefined) copy.block.transactions[0]!.note = note;
    const text = JSON.stringify([{ jsonrpc: '2.0', id: 0, result: copy.block }, { jsonrpc: '2.0', id: 1, result: copy.receipts }]);
    return Buffer.from(after ? text.replace(`"note":${JSON.stringify(note)}`, `"note":${JSON.stringify(note)}${after}`) : text, 'latin1');
  };
  const cases: TranscoderCase[] = [];
  for (let bytes = 0; bytes <= 100; bytes++) cases.push({ name: `input of ${bytes} bytes`, body: body(`0x${hexOf(2 * bytes)}`), native: TAKEN });
  const good = hexOf(100);
  for (let at = 0; at < good.length; at++) {
    for (const bad of ['g', '/', ':', '@', '`', 'x', '\u0080', '\u00e9', '\u00ff']) {
      cases.push({ name: `input with ${JSON.stringify(bad)} at digit ${at}`, body: body(`0x${good.slice(0, at)}${bad}${good.slice(at + 1)}`), native: HIGH.has(bad) ? NOT_ASCII : NOT_HEX });
    }
  }
  for (let length = 96; length < 160; length++) {
    const plain = 'x'.repeat(length);
    const text = body('0x', plain).toString('latin1');
    cases.push({ name: `text of ${length}`, body: Buffer.from(text, 'latin1'), native: TAKEN });
    cases.push({ name: `text of ${length} and whitespace`, body: body('0x', plain, '\n\t \r\n'), native: TAKEN });
    for (let at = 0; at < length; at++) {
      // `\u0078` is an escape (an x to JSON.parse); the others are raw bytes. DEL (0x7f) is not a
      // control character to JSON: taken.
      for (const odd of ['\\u0078', '\u0001', '\u001f', '\u007f', '\u0080', '\u00ff']) {
        const changed = `"${plain.slice(0, at)}${odd}${plain.slice(at + 1)}"`;
        cases.push({ name: `text of ${length} with ${JSON.stringify(odd)} at ${at}`, body: Buffer.from(text.replace(`"${plain}"`, changed), 'latin1'), native: odd === '\u007f' ? TAKEN : HIGH.has(odd) ? NOT_ASCII : ESCAPE });
      }
    }
  }
  // A string that ends in the answer's last 32 bytes (an unknown field of its last item, which the
  // transcoder skips, then `}]`): the AVX2 steps hand the rest to the SSE2 steps and the last
  // bytes one by one, with what they found so far.
  const text = body('0x').toString('latin1');
  const ending = (value: string) => Buffer.from(`${text.slice(0, -2)},"note":"${value}"}]`, 'latin1');
  for (let length = 96; length < 160; length++) {
    const plain = 'x'.repeat(length);
    cases.push({ name: `last text of ${length}`, body: ending(plain), native: TAKEN });
    // Each place in its last two 32-byte steps and after (the places before are the AVX2 steps'
    // alone, as in the texts above).
    for (let at = Math.max(0, length - 70); at < length; at++) {
      for (const odd of ['\\u0078', '\u0001', '\u007f', '\u0080']) {
        cases.push({ name: `last text of ${length} with ${JSON.stringify(odd)} at ${at}`, body: ending(`${plain.slice(0, at)}${odd}${plain.slice(at + 1)}`), native: odd === '\u007f' ? TAKEN : HIGH.has(odd) ? NOT_ASCII : ESCAPE });
      }
    }
  }
  return cases;
}

/**
 * What `engine` makes of each answer of {@link transcoderCases}: `taken <sha256 of the tuples and
 * the tables>` or `refused <why>`.
 */
export function transcoderResults(engine: TranscoderEngine): string[] {
  return transcoderCases().map(({ body }) => {
    let why = '';
    const answer = transcodeBlocksAnswer(body, REQUESTS, 1, TRANSCODED_TYPES, (reason) => { why = reason; }, engine);
    if (answer === null) return `refused ${why}`;
    if (!answer.ok || !answer.rows) throw new Error('transcodeBlocksAnswer took an answer and gave no rows');
    const hash = createHash('sha256').update(Buffer.from(answer.rows.tuples ?? new ArrayBuffer(0))).update(JSON.stringify(answer.rows.tables)).update(JSON.stringify(answer.decoded));
    return `taken ${hash.digest('hex')}`;
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const native = nativeTranscoder();
  if (!native) throw new Error('the native transcoder is not loaded (scripts/setup builds it)');
  process.stdout.write(JSON.stringify({ simd: native.simd(), results: transcoderResults('native') }));
}
