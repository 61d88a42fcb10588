/**
 * The decode thread's transcoder (src/decode/transcode.ts) against the general path
 * (`decodeBlocksAnswer` without it: `JSON.parse`, validation, `toBatchRows`, `encodeRows`): for
 * every answer it takes, what it gives must be byte for byte what the general path gives; for any
 * other it must give up (null). Held on every recorded chain, the bench's synthetic blocks, and
 * thousands of answers mutated one field or one byte at a time (seeded, so a failure repeats).
 * The column types come from a real Postgres (the migrations' schema).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSyntheticChain, mulberry32 as random, PROFILES } from '../../bench/chain/generate.js';
import { writeBatch, type ColumnTypes } from '../../src/db/index.js';
import { decodeBlocksAnswer, type DecodedAnswer } from '../../src/decode/blocks.js';
import { transcodeBlocksAnswer, TRANSCODED_COLUMNS } from '../../src/decode/transcode.js';
import { toBatchRows } from '../../src/db/rows.js';
import type { RpcRequest } from '../../src/rpc/types.js';
import { RECORDED_BLOCKS, loadRecorded } from '../fixtures/recorded-blocks.js';
import { createTestDatabase, type TestDatabase } from '../support/stack.js';

type Json = Record<string, unknown>;
type Bundle = { block: Json & { transactions: Json[]; withdrawals?: Json[] }; receipts: (Json & { logs: Json[] })[] };

const callsFor = (numbers: readonly number[]): RpcRequest[] => numbers.flatMap((n) => [
  { method: 'eth_getBlockByNumber', params: [`0x${n.toString(16)}`, true] },
  { method: 'eth_getBlockReceipts', params: [`0x${n.toString(16)}`] },
]);
const bodyOf = (bundles: readonly Bundle[]): Buffer =>
  Buffer.from(JSON.stringify(bundles.flatMap((b, k) => [{ jsonrpc: '2.0', id: 2 * k, result: b.block }, { jsonrpc: '2.0', id: 2 * k + 1, result: b.receipts }])));

/** A DecodedAnswer with its tuples as hex, for deep equality. */
const comparable = (answer: DecodedAnswer) =>
  answer.ok ? { ...answer, rows: answer.rows && { ...answer.rows, tuples: answer.rows.tuples && Buffer.from(answer.rows.tuples).toString('hex') } } : answer;

/** Answers where the native transcoder's choice (take or give up) differed from the JavaScript one's. */
const disagreements: string[] = [];

describe.each(['javascript', 'native'] as const)('the %s transcoder', (engine) => {
  let database: TestDatabase;
  let types: ColumnTypes;
  /** Transcodes `body`, checks the answer against the general path's, and says whether the transcoder took it (and why not). */
  let check: (body: Buffer, requests: readonly RpcRequest[], chainId: number) => { taken: boolean; why: string };

  beforeAll(async () => {
    database = await createTestDatabase('transcode');
    await writeBatch(database.db, 1, { from: 0, to: 0 }, async (_write, more) => {
      types = more.types;
    });
    check = (body, requests, chainId) => {
      let why = '';
      const fast = transcodeBlocksAnswer(body, requests, chainId, types, (reason) => { why = reason; }, engine);
      if (engine === 'native') {
        let jsWhy = '';
        const javascript = transcodeBlocksAnswer(body, requests, chainId, types, (reason) => { jsWhy = reason; }, 'javascript');
        const allowed = why === 'a nested key that is an array index or __proto__' || why === 'a chain id that is not a safe integer';
        if ((javascript === null) !== (fast === null) && !allowed) disagreements.push(`native ${fast ? 'took' : `gave up (${why})`}, javascript ${javascript ? 'took' : `gave up (${jsWhy})`}`);
      }
      if (fast === null) return { taken: false, why };
      const general = decodeBlocksAnswer(body, requests, 'node#0', chainId, types, false);
      expect(comparable(fast)).toEqual(comparable(general));
      return { taken: true, why };
    };
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('writes the columns toBatchRows makes, in its order, with the catalog\'s types', () => {
    const { block, receipts } = loadRecorded(RECORDED_BLOCKS.find((b) => b.name === 'ethereum/18000000')!);
    const rows = toBatchRows(1, [{ block, receipts: receipts! }]);
    for (const table of ['blocks', 'transactions', 'logs', 'withdrawals'] as const) {
      expect(TRANSCODED_COLUMNS[table].map(([c]) => c)).toEqual(Object.keys(rows[table][0]!));
      expect(TRANSCODED_COLUMNS[table].map(([c]) => types[table]![c])).toEqual(TRANSCODED_COLUMNS[table].map(([, t]) => t));
    }
  });

  it('takes the recorded blocks of clients that send the standard shape, byte for byte as the general path, and gives up on the others with the reason', () => {
    const outcome = Object.fromEntries(RECORDED_BLOCKS.filter((b) => b.receiptsFile !== null).map((b) => {
      const { block, receipts } = loadRecorded(b);
      const { taken, why } = check(bodyOf([{ block, receipts } as unknown as Bundle]), callsFor([b.blockNumber]), b.chainId);
      return [b.name, taken ? 'taken' : why];
    }));
    expect(outcome).toEqual({
      'ethereum/18000000': 'taken',
      'ethereum/4369999': 'taken',
      'ethereum/483920': 'a quantity that is not a string', // Parity: tx chainId sent as null
      'polygon/50000000': 'taken',
      'arbitrum-one/150000000': 'taken',
      'optimism/154497277': 'taken',
      'optimism-legacy/14930491': 'taken',
      'optimism-sepolia/4089330': 'taken',
      'hyperliquid/50000': 'taken',
      'tempo/17708868': expect.any(String),
      'hedera/97395350': expect.any(String),
      'cronos/11446765': 'taken',
      'cronos/6541': expect.any(String), // a receipt of the next block (Ethermint phantom transaction)
      'cronos/6542': 'taken',
    });
  });

  it('takes the bench\'s synthetic mainnet and light blocks, five to an answer', () => {
    for (const profile of ['mainnet', 'light']) {
      const chain = createSyntheticChain(PROFILES[profile]!, 1);
      const numbers = [1, 2, 3, 4, 5];
      expect(check(bodyOf(numbers.map((n) => chain.bundle(n) as Bundle)), callsFor(numbers), 1)).toEqual({ taken: true, why: '' });
    }
  });

  it('takes an answer in any key and item order and with whitespace, and gives up on column types it does not write', () => {
    const chain = createSyntheticChain(PROFILES.light!, 1);
    const bundles = [chain.bundle(7), chain.bundle(8)] as Bundle[];
    const items = bundles.flatMap((b, k) => [{ result: b.block, id: 2 * k, jsonrpc: '2.0' }, { id: 2 * k + 1, result: b.receipts }]);
    expect(check(Buffer.from(JSON.stringify(items.reverse(), null, 2)), callsFor([7, 8]), 1)).toEqual({ taken: true, why: '' });
    const { size: _, ...blockTypes } = types.blocks!;
    expect(transcodeBlocksAnswer(bodyOf(bundles), callsFor([7, 8]), 1, { ...types, blocks: blockTypes }, undefined, engine)).toBeNull();
    expect(transcodeBlocksAnswer(bodyOf(bundles), callsFor([7, 8]), 1, { ...types, logs: { ...types.logs!, data: 'text' } }, undefined, engine)).toBeNull();
  });

  it('gives up on, or encodes as the general path, every answer with one field of a block, transaction, receipt, log or withdrawal changed', () => {
    const values: unknown[] = [
      null, 1, 1.5, 0, true, false, '', '0x', '0X12', '0x1', '0x123', '0xAB', '0xzz', '0x00000000000000000000001', `0x${'f'.repeat(16)}`,
      `0x${'9'.repeat(70)}`, '123', 'text', [], ['0x12'], [1], {}, { a: [1, { b: null }] }, '0x0000000000000000', `0x${'ab'.repeat(32)}`,
      '0x8000', '0x80000000', '0x1fffffffffffff', '0x20000000000000', Array.from({ length: 5 }, (_, i) => `0x${`${i}`.repeat(64)}`),
    ];
    const otherKeys = ['extraField', 'blockTimestamp', '$absent', '__proto__', '1'];
    /** Each way to change field `key` of an object: delete it, upper-case its hex, or set each of `values`. */
    const changes = (key: string): ((target: Json) => void)[] => [
      (target) => { delete target[key]; },
      (target) => { if (typeof target[key] === 'string') target[key] = (target[key] as string).toUpperCase().replace(/^0X/, '0x'); },
      ...values.map((value) => (target: Json) => {
        if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true });
        else target[key] = value;
      }),
    ];
    const chain = createSyntheticChain(PROFILES.mainnet!, 1);
    // A block with one transaction of each type (0, 2, 3, 4), their receipts with logs, and withdrawals; and a block without transactions.
    const full = chain.bundle(3) as Bundle;
    // In block order: transaction and log indexes rise through a block.
    const picked = [0, 2, 3, 4].map((type) => full.block.transactions.findIndex((tx, i) => tx.type === `0x${type}` && full.receipts[i]!.logs.length > 0)).sort((x, y) => x - y);
    expect(picked.every((i) => i >= 0)).toBe(true);
    const sample: Bundle = { block: { ...full.block, transactions: picked.map((i) => full.block.transactions[i]!) }, receipts: picked.map((i) => full.receipts[i]!) };
    // Its header's gasUsed stays above 0, as Ethermint's and Hedera's empty blocks have it.
    const empty: Bundle = { block: { ...chain.bundle(4).block, transactions: [], logsBloom: `0x${'0'.repeat(512)}` }, receipts: [] };
    /** Paths to the objects changed: the block, each transaction, each receipt, the first log of each receipt, the first withdrawal. */
    const targets = (bundle: Bundle): Json[] => [
      bundle.block, ...bundle.block.transactions, ...bundle.receipts, ...bundle.receipts.filter((r) => r.logs.length > 0).map((r) => r.logs[0]!),
      ...(bundle.block.withdrawals ?? []).slice(0, 1),
    ];
    let taken = 0;
    let given = 0;
    for (const [base, number] of [[sample, 3], [empty, 4]] as const) {
      targets(base).forEach((_, t) => {
        const keys = [...Object.keys(targets(base)[t]!).filter((k) => k !== 'transactions' && k !== 'logs'), ...otherKeys];
        for (const key of keys) {
          for (const change of changes(key)) {
            const copy = structuredClone(base);
            change(targets(copy)[t]!);
            if (check(bodyOf([copy]), callsFor([number]), 1).taken) taken++;
            else given++;
          }
        }
      });
    }
    // Both sides are exercised: many changes are taken (unknown fields, other hex of the same shape), many given up on.
    expect(taken).toBeGreaterThan(1_000);
    expect(given).toBeGreaterThan(1_000);
  });

  it('gives up on the answers the general path refuses, and on receipts out of order (which it matches by hash)', () => {
    const chain = createSyntheticChain(PROFILES.light!, 1);
    const base = chain.bundle(9) as Bundle;
    expect(base.receipts.length).toBeGreaterThan(2);
    const cases: [string, 'invalid' | 'rows', (copy: Bundle) => void][] = [
      ['a logs bloom without logs', 'invalid', (copy) => copy.receipts.forEach((r) => { r.logs = []; })],
      ['receipts not in transaction order', 'rows', (copy) => copy.receipts.reverse()],
      ['not one receipt per transaction', 'invalid', (copy) => copy.receipts.pop()],
      ['a receipt of another block', 'invalid', (copy) => { copy.receipts[1]!.blockHash = `0x${'cd'.repeat(32)}`; }],
      ['a log of another block', 'invalid', (copy) => { copy.receipts.find((r) => r.logs.length > 0)!.logs[0]!.blockHash = `0x${'cd'.repeat(32)}`; }],
      ['a block other than the one asked', 'invalid', (copy) => { copy.block.number = '0xa'; }],
      // What a review's endpoint got stored (session 34): the general path refuses each now.
      ['a log of another transaction', 'invalid', (copy) => { copy.receipts[1]!.logs[0]!.transactionHash = copy.receipts[0]!.transactionHash; }],
      ['a log of another transaction', 'invalid', (copy) => { copy.receipts[1]!.logs[2]!.transactionIndex = '0x0'; }],
      ['log indexes that do not rise', 'invalid', (copy) => copy.receipts.forEach((r) => r.logs.forEach((log, i) => { log.logIndex = `0x${i.toString(16)}`; }))],
      ['log indexes that do not rise', 'invalid', (copy) => { copy.receipts[2]!.logs[0]!.logIndex = '0x3'; }],
      ["a receipt's logs bloom without logs", 'invalid', (copy) => { copy.receipts[1]!.logs = []; }],
      ['transactions not in transactionIndex order', 'invalid', (copy) => {
        for (const o of [copy.block.transactions[1]!, copy.receipts[1]!, ...copy.receipts[1]!.logs]) o.transactionIndex = '0x0';
      }],
    ];
    for (const [why, general, change] of cases) {
      const copy = structuredClone(base);
      change(copy);
      const answer = decodeBlocksAnswer(bodyOf([copy]), callsFor([9]), 'node#0', 1, types, false);
      expect([why, answer.ok && (answer.decoded[0]?.invalid === undefined ? 'rows' : 'invalid')]).toEqual([why, general]);
      expect(check(bodyOf([copy]), callsFor([9]), 1)).toEqual({ taken: false, why });
    }
  });

  it('gives up on, or encodes as the general path, a recorded mainnet block with random fields changed', () => {
    const { block, receipts } = loadRecorded(RECORDED_BLOCKS.find((b) => b.name === 'ethereum/18000000')!);
    const base = { block, receipts } as unknown as Bundle;
    const values: unknown[] = [null, 1, '0x', '0x1', '0x123', '0xAB', '0xzz', `0x${'f'.repeat(16)}`, 'text', [], {}, `0x${'ab'.repeat(32)}`];
    const rand = random(6);
    let taken = 0;
    for (let round = 0; round < 200; round++) {
      const copy = structuredClone(base);
      const pools: Json[][] = [[copy.block], copy.block.transactions, copy.receipts, copy.receipts.flatMap((r) => r.logs), copy.block.withdrawals ?? []];
      for (let change = 0; change < 3; change++) {
        const pool = pools[Math.floor(rand() * pools.length)]!;
        const target = pool[Math.floor(rand() * pool.length)]!;
        const keys = Object.keys(target).filter((k) => k !== 'transactions' && k !== 'logs');
        target[rand() < 0.2 ? 'extraField' : keys[Math.floor(rand() * keys.length)]!] = values[Math.floor(rand() * values.length)];
      }
      if (check(bodyOf([copy]), callsFor([18_000_000]), 1).taken) taken++;
    }
    expect(taken).toBeGreaterThan(20);
  });

  it('gives up on, or encodes as the general path, every answer with one byte changed, inserted or removed', () => {
    const chain = createSyntheticChain(PROFILES.light!, 1);
    const numbers = [11, 12];
    const body = bodyOf(numbers.map((n) => chain.bundle(n) as Bundle));
    const requests = callsFor(numbers);
    const bytes = [...'"\\{}[],: 0x1aAfF-.eEnul\u0001\t'].map((c) => c.charCodeAt(0));
    const rand = random(7);
    let taken = 0;
    for (let round = 0; round < 1_500; round++) {
      const at = Math.floor(rand() * body.length);
      const byte = bytes[Math.floor(rand() * bytes.length)]!;
      const action = rand();
      const mutated = action < 0.4 ? Buffer.concat([body.subarray(0, at), Buffer.from([byte]), body.subarray(at + 1)])
        : action < 0.8 ? Buffer.concat([body.subarray(0, at), Buffer.from([byte]), body.subarray(at)])
          : Buffer.concat([body.subarray(0, at), body.subarray(at + 1)]);
      if (check(mutated, requests, 1).taken) taken++;
    }
    expect(taken).toBeGreaterThan(100);
  });

  it('decodes hex data of every length up to 80 bytes, and gives up on a bad hex digit, an escape or a control character at any place of a string, or a hash that differs in any digit', () => {
    // The native transcoder decodes 32 digits a step (AVX2, where the CPU has it), then 16 (SSE2),
    // and the rest pair by pair: each length and each place of a bad digit crosses those boundaries
    // differently (test/unit/decode/native.test.ts holds the AVX2 steps to the SSE2 ones).
    const chain = createSyntheticChain(PROFILES.light!, 1);
    const base = chain.bundle(31) as Bundle;
    expect(base.block.transactions.length).toBeGreaterThan(0);
    const withInput = (input: string): Buffer => {
      const copy = structuredClone(base);
      copy.block.transactions[0]!.input = input;
      return bodyOf([copy]);
    };
    const rand = random(18);
    const digits = '0123456789abcdefABCDEF';
    for (let bytes = 0; bytes <= 80; bytes++) {
      const hex = Array.from({ length: 2 * bytes }, () => digits[Math.floor(rand() * digits.length)]).join('');
      expect([bytes, check(withInput(`0x${hex}`), callsFor([31]), 1)]).toEqual([bytes, { taken: true, why: '' }]);
    }
    const good = Array.from({ length: 86 }, () => digits[Math.floor(rand() * digits.length)]).join(''); // 43 bytes: two steps of 32 digits and one of 16 (five of 16 without AVX2), then three pairs
    for (let at = 0; at < good.length; at++) {
      for (const bad of ['g', 'G', '/', ':', '@', '`', ' ', 'x', '\u00e9']) {
        const result = check(withInput(`0x${good.slice(0, at)}${bad}${good.slice(at + 1)}`), callsFor([31]), 1);
        expect([at, bad, result.taken]).toEqual([at, bad, false]);
      }
    }
    // Strings are read 32 or 16 bytes a step too (every place of a 32-byte step, and the hand-over
    // to the narrower steps: test/unit/decode/native.test.ts): an escape (`\u0061` is an `a` to JSON.parse) or a raw
    // control character at any place before the closing quote makes the transcoder give up, in a
    // hex field and in a field it copies into `extra` as it is.
    const texts = Array.from({ length: 16 }, (_, k) => 'x'.repeat(80 + k)); // the closing quote at each place of a 16-byte step
    for (const plain of [`0x${good}`, ...texts]) {
      const copy = structuredClone(base);
      copy.block.transactions[0]!.input = `0x${good}`;
      copy.block.transactions[0]!.note = plain.startsWith('0x') ? 'x' : plain;
      const body = bodyOf([copy]).toString('latin1');
      for (let at = plain.startsWith('0x') ? 2 : 0; at < plain.length; at++) {
        for (const odd of [`\\u00${plain.charCodeAt(at).toString(16)}`, '\u0001', '\u001f']) {
          const changed = Buffer.from(body.replace(`"${plain}"`, `"${plain.slice(0, at)}${odd}${plain.slice(at + 1)}"`), 'latin1');
          expect(changed.equals(Buffer.from(body, 'latin1'))).toBe(false);
          const { taken, why } = check(changed, callsFor([31]), 1);
          expect([plain.length, at, odd, taken]).toEqual([plain.length, at, odd, false]);
          if (engine === 'native' && !plain.startsWith('0x')) expect([plain.length, at, odd, why]).toEqual([plain.length, at, odd, 'a string has an escape or a control character']);
        }
        if (!plain.startsWith('0x') && engine === 'native') {
          // A space (0x20, the first byte that is not a control character) is plain: taken. (Bytes of
          // 0x80 and over: test/unit/decode/native.test.ts, at each place of the SIMD steps.)
          for (const fine of [' ']) {
            const changed = Buffer.from(body.replace(`"${plain}"`, `"${plain.slice(0, at)}${fine}${plain.slice(at + 1)}"`), 'latin1');
            expect([plain.length, at, fine, check(changed, callsFor([31]), 1)]).toEqual([plain.length, at, fine, { taken: true, why: '' }]);
          }
        }
      }
      if (!plain.startsWith('0x')) {
        // Whitespace after the closing quote is JSON's, in the same 16-byte step as the string's end: not the string's.
        const spaced = Buffer.from(body.replace(`"${plain}"`, `"${plain}"\n\t \r\n`), 'latin1');
        expect(spaced.equals(Buffer.from(body, 'latin1'))).toBe(false);
        expect([plain.length, check(spaced, callsFor([31]), 1).taken]).toEqual([plain.length, true]);
      }
    }
    // Hashes compared 8 bytes at a time and the last 8 again: a receipt's block hash or
    // transaction hash that differs from the block's only in one of its last digits is refused.
    for (const field of ['blockHash', 'transactionHash'] as const) {
      for (const at of [2, 9, 57, 58, 63, 64, 65]) {
        const copy = structuredClone(base);
        const value = copy.receipts[0]![field] as string;
        copy.receipts[0]![field] = `${value.slice(0, at)}${value[at] === '0' ? '1' : '0'}${value.slice(at + 1)}`;
        expect([field, at, check(bodyOf([copy]), callsFor([31]), 1).taken]).toEqual([field, at, false]);
      }
    }
  });

  it('handles what a review found: a missing item, whitespace after values, nested keys of any name, many keys, deep nesting, odd chain ids', () => {
    const chain = createSyntheticChain(PROFILES.light!, 1);
    const base = chain.bundle(21) as Bundle;
    const typed = base.block.transactions.findIndex((tx) => Array.isArray(tx.accessList));
    expect(typed).toBeGreaterThanOrEqual(0);
    const withTx = (extra: Json): Bundle => {
      const copy = structuredClone(base);
      const { accessList, ...rest } = copy.block.transactions[typed]!;
      copy.block.transactions[typed] = { ...rest, ...extra, accessList }; // accessList last: whitespace follows it when pretty-printed
      return copy;
    };
    // Every request needs its item: a batch that lacks the block's (whose receipts are there) is given up on.
    expect(check(Buffer.from('[{"jsonrpc":"2.0","id":1,"result":[]}]'), callsFor([3]), 1)).toEqual({ taken: false, why: 'an answer without an item for every request' });
    // Whitespace after an array, object or number that goes to extra or access_list.
    const pretty = withTx({ zz: [1, { a: 2 }], yy: 3 });
    expect(check(Buffer.from(JSON.stringify([{ jsonrpc: '2.0', id: 0, result: pretty.block }, { jsonrpc: '2.0', id: 1, result: pretty.receipts }], null, 2)), callsFor([21]), 1).taken).toBe(true);
    // Nested keys JSON.stringify(JSON.parse(…)) keeps as they are, and a nested object of 20,000 keys (pairs of keys were compared: quadratic).
    const many = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i]));
    expect(check(bodyOf([withTx({ zz: { 'a b': 1, '': 2, 'a-b': [3], '1a': null, many } })]), callsFor([21]), 1).taken).toBe(true);
    // Keys V8 orders or treats apart: the native transcoder gives up (the JavaScript one takes them).
    const indexKey = check(bodyOf([withTx({ zz: { b: 1, 7: 2 } })]), callsFor([21]), 1);
    expect(indexKey).toEqual(engine === 'native' ? { taken: false, why: 'a nested key that is an array index or __proto__' } : { taken: true, why: '' });
    // Nesting deeper than 64 (10,000 here) is given up on by both, without a stack overflow; the general path then parses the
    // answer and leaves the block to its caller (its rows cannot be made: JSON.stringify of that extra overflows the stack).
    const deep = Buffer.from(bodyOf([withTx({ zz: 'deep' })]).toString().replace('"zz":"deep"', `"zz":${'['.repeat(10_000)}${']'.repeat(10_000)}`));
    expect(check(deep, callsFor([21]), 1)).toEqual({ taken: false, why: 'a value nested too deep' });
    const decoded = decodeBlocksAnswer(deep, callsFor([21]), 'node#0', 1, types);
    expect(decoded.ok && [decoded.decoded.length, decoded.outcomes.map((o) => o.ok)]).toEqual([0, [true, true]]);
    // A chain id the config would refuse is given up on, not thrown.
    if (engine === 'native') expect(check(bodyOf([base]), callsFor([21]), 2 ** 53)).toEqual({ taken: false, why: 'a chain id that is not a safe integer' });
  });

  it.runIf(engine === 'native')('takes exactly the answers the JavaScript transcoder takes (all the answers above)', () => {
    expect(disagreements).toEqual([]);
  });
});
