/**
 * The decode thread (src/decode/): what it makes of a JSON-RPC answer of blocks and receipts must
 * be byte for byte what the main thread makes of it (`toBatchRows`, then `copyBinaryTuples` for
 * the catalog's column types), and a bad answer must fail with the message the main thread gives.
 * The column types come from a real Postgres (the migrations' schema); the pool test runs a real
 * worker thread; the last test stores a recorded block through `runIndexRange` with and without
 * the decode threads and compares the rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { runIndexRange } from '../../src/activities/index-range.js';
import { copyBinaryTuples } from '../../src/db/copy-format.js';
import { exportBlock, toBatchRows, writeBatch, type ColumnTypes, type EncodedRows } from '../../src/db/index.js';
import { BATCH_TABLES } from '../../src/db/rows.js';
import { decodeBlocksAnswer, type DecodedAnswer } from '../../src/decode/blocks.js';
import { ARENA_PAGE_BYTES } from '../../src/decode/arena.js';
import { createDecodePool, type DecodePool } from '../../src/decode/pool.js';
import { RpcBatchTooLargeError, RpcTransientError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { createRpcPool, DecodedBlock, DecodeThreadError, type RpcBlock, type RpcOutcome, type RpcReceipt, type RpcRequest } from '../../src/rpc/index.js';
import { RECORDED_BLOCKS, diffWithRecording, loadRecorded } from '../fixtures/recorded-blocks.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { startReplayServer } from '../support/replay-server.js';
import { createTestDatabase, waitFor, type TestDatabase } from '../support/stack.js';

const LABEL = 'node#0';
const withReceipts = RECORDED_BLOCKS.filter((b) => b.receiptsFile !== null);
const recorded = (name: string) => {
  const found = RECORDED_BLOCKS.find((b) => b.name === name)!;
  const { block, receipts } = loadRecorded(found);
  return { ...found, block, receipts: receipts! };
};

/** The two calls `fetchChunk` makes for block `n`. */
const callsFor = (n: number): RpcRequest[] => [
  { method: 'eth_getBlockByNumber', params: [`0x${n.toString(16)}`, true] },
  { method: 'eth_getBlockReceipts', params: [`0x${n.toString(16)}`] },
];

/** A JSON-RPC batch answer with `results` (or error objects) for ids 0.., as a node sends it. */
const answer = (items: ({ result: unknown } | { error: { code: number; message: string } })[]): Buffer =>
  Buffer.from(JSON.stringify(items.map((item, id) => ({ jsonrpc: '2.0', id, ...item }))));

/** What the main thread encodes for `block` and `receipts`: per table, its columns and tuples. */
const mainThreadTuples = (chainId: number, bundles: { block: RpcBlock; receipts: RpcReceipt[] }[], types: ColumnTypes) => {
  const rows = toBatchRows(chainId, bundles);
  return BATCH_TABLES.filter((t) => rows[t].length > 0).map((table) => {
    const columns = Object.keys(rows[table][0]!);
    const tuples = Buffer.concat(copyBinaryTuples(rows[table], columns, columns.map((c) => types[table]![c]!)));
    return { table, columns, tuples: tuples.toString('hex') };
  });
};

/** The tuples of `encoded`, per table, as hex. */
const threadTuples = (encoded: EncodedRows) =>
  encoded.tables.map(({ table, columns, start, end }) => ({ table, columns, tuples: Buffer.from(encoded.tuples!, start, end - start).toString('hex') }));

const ok = (decoded: DecodedAnswer) => {
  if (!decoded.ok) throw new Error(`not decoded: ${decoded.message}`);
  return decoded;
};

describe('the decode thread', () => {
  let database: TestDatabase;
  let types: ColumnTypes;

  beforeAll(async () => {
    database = await createTestDatabase('decode');
    await writeBatch(database.db, 1, { from: 0, to: 0 }, async (_write, more) => {
      types = more.types;
    });
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('reads the column types of every batch table from the catalog', () => {
    expect(Object.keys(types).sort()).toEqual(['blocks', 'logs', 'transactions', 'withdrawals']);
    expect([types.blocks!.number, types.blocks!.hash, types.transactions!.value, types.logs!.topic0, types.logs!.extra]).toEqual(['int8', 'bytea', 'numeric', 'bytea', 'jsonb']);
  });

  it.each(withReceipts.map((b) => [b.name, b] as const))('decodeBlocksAnswer() encodes %s byte for byte as the main thread does, with its link and row counts', (_, b) => {
    const { block, receipts } = recorded(b.name);
    const decoded = ok(decodeBlocksAnswer(answer([{ result: block }, { result: receipts }]), callsFor(b.blockNumber), LABEL, b.chainId, types));
    expect(decoded.decoded).toEqual([{ index: 0, number: b.blockNumber, hash: block.hash, parentHash: block.parentHash }]);
    expect(decoded.outcomes).toEqual([{ ok: true, result: null }, { ok: true, result: null }]);
    expect(threadTuples(decoded.rows!)).toEqual(mainThreadTuples(b.chainId, [{ block, receipts }], types));
    const rows = toBatchRows(b.chainId, [{ block, receipts }]);
    expect(decoded.rows!.counts).toEqual({ blocks: 1, transactions: rows.transactions.length, logs: rows.logs.length, withdrawals: rows.withdrawals.length });
    expect(decoded.rows!.rows).toEqual({});
  });

  it('decodeBlocksAnswer() encodes two blocks of one answer together, in block order', () => {
    const first = recorded('cronos/6541');
    const second = recorded('cronos/6542');
    const decoded = ok(decodeBlocksAnswer(
      answer([{ result: first.block }, { result: first.receipts }, { result: second.block }, { result: second.receipts }]),
      [...callsFor(6541), ...callsFor(6542)], LABEL, 25, types,
    ));
    expect(decoded.decoded.map((d) => [d.index, d.number])).toEqual([[0, 6541], [2, 6542]]);
    expect(threadTuples(decoded.rows!)).toEqual(mainThreadTuples(25, [first, second], types));
  });

  it('decodeBlocksAnswer() refuses a body that is not JSON, or not an array, with the main thread\'s errors', () => {
    expect(decodeBlocksAnswer(Buffer.from('<html>502 Bad Gateway</html>'), callsFor(1), LABEL, 1, types)).toEqual({
      ok: false, error: 'transient', message: 'node#0: answered with a body that is not JSON (<html>502 Bad Gateway</html>…)',
    });
    expect(decodeBlocksAnswer(Buffer.from('{"jsonrpc":"2.0","id":0,"result":"0x1"}'), callsFor(1), LABEL, 1, types)).toEqual({
      ok: false, error: 'bad-response', message: 'node#0: batch response is not an array',
    });
  });

  it('decodeBlocksAnswer() marks a block whose receipts belong to another block, or that is another block, invalid with the validation\'s message', () => {
    const { block, receipts } = recorded('ethereum/18000000');
    const stranger = receipts.map((r, i) => (i === 3 ? { ...r, blockHash: `0x${'ab'.repeat(32)}` } : r));
    const wrong = ok(decodeBlocksAnswer(answer([{ result: block }, { result: stranger }]), callsFor(18_000_000), LABEL, 1, types));
    expect(wrong.decoded).toEqual([{
      index: 0, number: 18_000_000, hash: '', parentHash: '',
      invalid: `node#0: block 18000000: receipt ${receipts[3]!.transactionHash} has blockHash 0x${'ab'.repeat(32)}, expected ${block.hash}`,
    }]);
    expect(wrong.rows).toBeNull();
    const other = ok(decodeBlocksAnswer(answer([{ result: block }, { result: receipts }]), callsFor(17_999_999), LABEL, 1, types));
    expect(other.decoded[0]!.invalid).toBe('node#0: block 17999999: answered block 18000000 instead');
  });

  it('decodeBlocksAnswer() marks every block of an answer invalid when a log\'s data is not hex, naming the table, column and block', () => {
    const { block, receipts } = recorded('ethereum/18000000');
    const bad = receipts.map((r, i) => (i === 0 ? { ...r, logs: r.logs.map((l, j) => (j === 0 ? { ...l, data: '0xzz' } : l)) } : r));
    const decoded = ok(decodeBlocksAnswer(answer([{ result: block }, { result: bad }]), callsFor(18_000_000), LABEL, 1, types));
    expect(decoded.decoded).toHaveLength(1);
    expect(decoded.decoded[0]!.invalid).toMatch(/^node#0: logs: COPY: column data \(bytea\) .*block 18000000/);
    expect(decoded.rows).toBeNull();
  });

  it('decodeBlocksAnswer() leaves a block whose receipts failed, a null block and a lone call as outcomes for the main thread', () => {
    const { block } = recorded('ethereum/18000000');
    const requests = [...callsFor(18_000_000), ...callsFor(18_000_001), { method: 'eth_getBlockByNumber', params: ['0x1', true] }];
    const decoded = ok(decodeBlocksAnswer(
      answer([{ result: block }, { error: { code: -32005, message: 'rate limited' } }, { result: null }, { result: [] }, { result: block }]),
      requests, LABEL, 1, types,
    ));
    expect(decoded.decoded).toEqual([]);
    expect(decoded.rows).toBeNull();
    expect(decoded.outcomes.map((o) => (o.ok ? (o.result === null ? 'null' : Array.isArray(o.result) ? 'array' : 'block') : o.error.code))).toEqual(['block', -32005, 'null', 'array', 'block']);
  });

  it('decodeBlocksAnswer() keeps as rows a table with a column the catalog does not know, and encodes the others', () => {
    const { block, receipts } = recorded('ethereum/18000000');
    const { data: _, ...logsWithoutData } = types.logs!;
    const decoded = ok(decodeBlocksAnswer(answer([{ result: block }, { result: receipts }]), callsFor(18_000_000), LABEL, 1, { ...types, logs: logsWithoutData }));
    const rows = toBatchRows(1, [{ block, receipts }]);
    expect(decoded.rows!.tables.map((t) => t.table)).toEqual(['blocks', 'transactions', 'withdrawals']);
    expect(decoded.rows!.rows).toEqual({ logs: rows.logs });
  });

  it('decodeBlocksAnswer() leaves to the main thread a block whose checks or conversion throw anything but a bad-response error', () => {
    const { block, receipts } = recorded('ethereum/18000000');
    const badNumber = ok(decodeBlocksAnswer(answer([{ result: { ...block, number: '0xzz' } }, { result: receipts }]), callsFor(18_000_000), LABEL, 1, types));
    expect([badNumber.decoded, badNumber.rows, (badNumber.outcomes[0] as { result: RpcBlock }).result.number]).toEqual([[], null, '0xzz']);
    // The withdrawal's index passes validation but not the conversion: the block goes back whole, with its receipts.
    const withdrawals = block.withdrawals!.map((w, i) => (i === 0 ? { ...w, index: 'x' as `0x${string}` } : w));
    const badIndex = ok(decodeBlocksAnswer(answer([{ result: { ...block, withdrawals } }, { result: receipts }]), callsFor(18_000_000), LABEL, 1, types));
    expect([badIndex.decoded, badIndex.rows]).toEqual([[], null]);
    expect(badIndex.outcomes).toEqual([{ ok: true, result: { ...block, withdrawals } }, { ok: true, result: receipts }]);
    expect(() => toBatchRows(1, [{ block: { ...block, withdrawals }, receipts }])).toThrow(SyntaxError); // as the main thread meets it
  });

  describe('createDecodePool()', () => {
    let pool: DecodePool;

    beforeAll(() => {
      pool = createDecodePool(1);
    });

    afterAll(async () => {
      await pool?.close();
    });

    it('decodes in a worker thread: DecodedBlocks that share the answer\'s rows, the chunks moved away', async () => {
      const { block, receipts } = recorded('ethereum/18000000');
      const body = answer([{ result: block }, { result: receipts }]);
      const chunks = [new Uint8Array(body.subarray(0, 1000)), new Uint8Array(body.subarray(1000))];
      const outcomes = await pool.forRange(1, types).decode(chunks, body.length, callsFor(18_000_000), LABEL);
      expect(chunks.map((c) => c.byteLength)).toEqual([0, 0]); // moved to the thread, not copied
      const decoded = outcomes[0]!.ok ? outcomes[0]!.result : null;
      expect(decoded).toBeInstanceOf(DecodedBlock);
      const { number, hash, parentHash, body: shared, invalid } = decoded as DecodedBlock;
      expect({ number, hash, parentHash, invalid, blockCount: shared!.blockCount }).toEqual({ number: 18_000_000, hash: block.hash, parentHash: block.parentHash, invalid: undefined, blockCount: 1 });
      expect(threadTuples(shared!.payload as EncodedRows)).toEqual(mainThreadTuples(1, [{ block, receipts }], types));
      expect(outcomes[1]).toEqual({ ok: true, result: null });
    });

    it('decodes answers of different sizes one after another in the same thread, each equal to the main thread\'s rows (the joined chunks\' memory is reused)', async () => {
      const sizes = ['ethereum/18000000', 'optimism/154497277', 'ethereum/18000000', 'polygon/50000000', 'cronos/11446765'] as const;
      for (const [k, name] of sizes.entries()) {
        const { block, receipts } = recorded(name);
        const n = Number(BigInt(block.number));
        const body = answer([{ result: block }, { result: receipts }]);
        const cut = [0, 777, 4_096 * (k + 1), body.length];
        const chunks = cut.slice(1).map((end, i) => new Uint8Array(body.subarray(cut[i], end)));
        const outcomes = await pool.forRange(1, types).decode(chunks, body.length, callsFor(n), LABEL);
        const decoded = (outcomes[0]!.ok ? outcomes[0]!.result : null) as DecodedBlock;
        expect([name, decoded.number, decoded.hash]).toEqual([name, n, block.hash]);
        expect(threadTuples(decoded.body!.payload as EncodedRows)).toEqual(mainThreadTuples(1, [{ block, receipts }], types));
      }
    });

    it('fails with DecodeThreadError once closed, and the RPC pool neither blames the endpoint nor asks another', async () => {
      const closed = createDecodePool(1);
      await closed.close();
      const decoding = closed.forRange(1, types).decode([new Uint8Array(Buffer.from('[]'))], 2, callsFor(1), LABEL);
      await expect(decoding).rejects.toBeInstanceOf(DecodeThreadError);
      await expect(decoding).rejects.toThrow('decode thread failed on an answer from node#0: the decode threads are closed');
      const b = recorded('hyperliquid/50000');
      const servers = await Promise.all([0, 1].map(() => startReplayServer({ chainId: 999, blocks: [{ block: b.block as never, receipts: b.receipts }] })));
      const rpc = createRpcPool({ urls: servers.map((server) => server.url), timeoutMs: 5_000, log: createLogger({ level: 'silent' as never, pretty: false }) });
      try {
        // Its post fails before sending anything.
        const batch = rpc.batch(callsFor(50_000), (outcomes) => outcomes, undefined, closed.forRange(999, types));
        await expect(batch).rejects.toBeInstanceOf(DecodeThreadError);
        expect(servers.map((server) => server.calls.length)).toEqual([0, 0]);
        // Its decode, given a body the main thread read, fails after the endpoint answered.
        const { decode } = closed.forRange(999, types);
        await expect(rpc.batch(callsFor(50_000), (outcomes) => outcomes, undefined, { decode })).rejects.toBeInstanceOf(DecodeThreadError);
        expect(servers.map((server) => server.calls.length).sort()).toEqual([0, 2]); // one endpoint asked, once
        expect(rpc.health().map((h) => [h.errors, h.breaker])).toEqual([[{}, 'closed'], [{}, 'closed']]);
      } finally {
        rpc.close();
        await Promise.all(servers.map((server) => server.close()));
      }
    });

    it('post() sends the batch from the thread and decodes it there: the DecodedBlocks, the body\'s size, the RPC pool\'s errors with their hints', async () => {
      const b = recorded('ethereum/18000000');
      const server = await startReplayServer({ chainId: 1, blocks: [{ block: b.block as never, receipts: b.receipts }] });
      const proxy = await startFaultProxy({ upstream: server.url });
      const decoder = pool.forRange(1, types);
      const endpoint = { url: `${proxy.url}/v2/SECRET`, label: LABEL };
      try {
        const { outcomes, bytes } = await decoder.post!(endpoint, callsFor(18_000_000), { timeoutMs: 5_000 });
        const decoded = (outcomes[0]!.ok ? outcomes[0]!.result : null) as DecodedBlock;
        expect(decoded).toBeInstanceOf(DecodedBlock);
        expect([decoded.number, decoded.hash, decoded.body!.blockCount, outcomes[1]]).toEqual([18_000_000, b.block.hash, 1, { ok: true, result: null }]);
        expect(threadTuples(decoded.body!.payload as EncodedRows)).toEqual(mainThreadTuples(1, [{ block: b.block, receipts: b.receipts }], types));
        expect(bytes).toBe(answer([{ result: b.block }, { result: b.receipts }]).length);
        // Not decoded (no block asked): plain outcomes, as postBatch gives them.
        expect(await decoder.post!(endpoint, [{ method: 'eth_chainId', params: [] }], { timeoutMs: 5_000 })).toMatchObject({ outcomes: [{ ok: true, result: '0x1' }] });

        proxy.set({ http429: { when: 'always', retryAfterSeconds: 7 } });
        const limited = await decoder.post!(endpoint, callsFor(18_000_000), { timeoutMs: 5_000 }).catch((err: unknown) => err);
        expect(limited).toBeInstanceOf(RpcTransientError);
        expect(limited).toMatchObject({ message: `${LABEL}: HTTP 429 for a batch of 2`, retryAfterMs: 7_000, rateLimited: true });

        proxy.set({ maxBatchItems: 1 });
        await expect(decoder.post!(endpoint, callsFor(18_000_000), { timeoutMs: 5_000 })).rejects.toThrow(new RpcBatchTooLargeError(`${LABEL}: HTTP 413, a batch of 2 calls is too large`));
        await expect(decoder.post!(endpoint, callsFor(18_000_000), { timeoutMs: 5_000 })).rejects.toBeInstanceOf(RpcBatchTooLargeError);

        proxy.set({ garbage: 'always' });
        await expect(decoder.post!(endpoint, callsFor(18_000_000), { timeoutMs: 5_000 })).rejects.toBeInstanceOf(RpcTransientError);

        proxy.set({ stall: 'always' });
        const timedOut = decoder.post!(endpoint, callsFor(18_000_000), { timeoutMs: 300 });
        await expect(timedOut).rejects.toThrow(new RpcTransientError(`${LABEL}: no answer within 300 ms`));

        // Cancelled while in flight, and before it was sent.
        const controller = new AbortController();
        const cancelled = decoder.post!(endpoint, callsFor(18_000_000), { timeoutMs: 60_000, signal: controller.signal });
        setTimeout(() => controller.abort(), 100);
        const startedAt = Date.now();
        await expect(cancelled).rejects.toThrow(new RpcTransientError(`${LABEL}: request cancelled`));
        expect(Date.now() - startedAt).toBeLessThan(30_000); // not the 60 s timeout
        await expect(decoder.post!(endpoint, callsFor(18_000_000), { timeoutMs: 60_000, signal: controller.signal })).rejects.toThrow(new RpcTransientError(`${LABEL}: request cancelled`));
        expect(proxy.records().length).toBe(2); // the timed-out one and the cancelled one: the last never left

        // Cancelled at once, before its thread starts it (its shared flag), while 300 others wait in the thread and its queue (over the 256 a thread runs).
        const crowd = new AbortController();
        const waiting = Array.from({ length: 300 }, () => decoder.post!(endpoint, callsFor(18_000_000), { timeoutMs: 60_000, signal: crowd.signal }).catch((err: unknown) => err));
        const early = new AbortController();
        const queued = decoder.post!(endpoint, callsFor(18_000_000), { timeoutMs: 60_000, signal: early.signal });
        early.abort();
        const queuedAt = Date.now();
        await expect(queued).rejects.toThrow(new RpcTransientError(`${LABEL}: request cancelled`));
        crowd.abort();
        expect((await Promise.all(waiting)).map((err) => (err as Error).message)).toEqual(Array.from({ length: 300 }, () => `${LABEL}: request cancelled`));
        expect(Date.now() - queuedAt).toBeLessThan(30_000);

        proxy.reset();
        await proxy.setDown(true);
        const refused = await decoder.post!(endpoint, callsFor(18_000_000), { timeoutMs: 5_000 }).catch((err: unknown) => err);
        expect(refused).toBeInstanceOf(RpcTransientError);
        expect((refused as Error).message).toMatch(new RegExp(`^${LABEL}: connection failed \\(`));
        expect((refused as Error).message).not.toContain('SECRET');
      } finally {
        await proxy.close();
        await server.close();
      }
    });

    it('post() puts the tuples in the arena until released; the range\'s end frees those never written, a straggler\'s at once, a cancelled post\'s when its thread gives them back', async () => {
      const b = recorded('ethereum/18000000');
      const server = await startReplayServer({ chainId: 1, blocks: [{ block: b.block as never, receipts: b.receipts }] });
      const own = createDecodePool(1); // its arena holds this test's answers only
      const endpoint = { url: server.url, label: LABEL };
      const rowsOf = (posted: { outcomes: RpcOutcome[] }) => ((posted.outcomes[0] as { result: DecodedBlock }).result.body!.payload as EncodedRows);
      try {
        const decoder = own.forRange(1, types);
        const first = await decoder.post!(endpoint, callsFor(18_000_000), { timeoutMs: 5_000 });
        const tuples = rowsOf(first).tables.reduce((n, t) => n + t.end - t.start, 0);
        const pages = Math.ceil(tuples / ARENA_PAGE_BYTES);
        expect(rowsOf(first).tuples).toBeInstanceOf(SharedArrayBuffer);
        expect(threadTuples(rowsOf(first))).toEqual(mainThreadTuples(1, [{ block: b.block, receipts: b.receipts }], types));
        const second = await decoder.post!(endpoint, callsFor(18_000_000), { timeoutMs: 5_000 });
        expect(own.tuplePages().held).toBe(2 * pages);
        rowsOf(first).release!();
        rowsOf(first).release!(); // idempotent
        expect(own.tuplePages().held).toBe(pages);
        expect(threadTuples(rowsOf(second))).toEqual(mainThreadTuples(1, [{ block: b.block, receipts: b.receipts }], types));
        decoder.end!(); // the second was never written (its range failed, say): freed with the range
        expect(own.tuplePages().held).toBe(0);
        await decoder.post!(endpoint, callsFor(18_000_000), { timeoutMs: 5_000 }); // a straggler of the ended range
        expect(own.tuplePages().held).toBe(0);

        // Cancelled after the thread placed the tuples but before its answer came back: freed when it does.
        const other = own.forRange(1, types);
        let lateCancels = 0;
        for (let i = 0; i < 20 && lateCancels < 3; i++) {
          const controller = new AbortController();
          const posted = other.post!(endpoint, callsFor(18_000_000), { timeoutMs: 5_000, signal: controller.signal });
          while (own.tuplePages().held === 0) await new Promise((resolve) => setImmediate(resolve));
          controller.abort();
          const outcome = await posted.then((p) => p, (err: unknown) => err as Error);
          if (outcome instanceof Error) {
            expect(outcome.message).toBe(`${LABEL}: request cancelled`);
            lateCancels++;
            await waitFor('the cancelled post\'s pages freed', () => own.tuplePages().held === 0, { timeoutMs: 5_000, intervalMs: 10 });
          } else {
            rowsOf(outcome).release!();
          }
          expect(own.tuplePages().held).toBe(0);
        }
        expect(lateCancels).toBeGreaterThan(0);
      } finally {
        await own.close();
        await server.close();
      }
    });

    it('post() still cancels while the pool closes, and a cancel after it closed throws nothing', async () => {
      const b = recorded('ethereum/18000000');
      const server = await startReplayServer({ chainId: 1, blocks: [{ block: b.block as never, receipts: b.receipts }] });
      const proxy = await startFaultProxy({ upstream: server.url });
      const closing = createDecodePool(1);
      try {
        proxy.set({ stall: 'always' });
        const controller = new AbortController();
        const posted = closing.forRange(1, types).post!({ url: proxy.url, label: LABEL }, callsFor(18_000_000), { timeoutMs: 60_000, signal: controller.signal });
        await waitFor('the request at the proxy', async () => proxy.records().length === 1, { timeoutMs: 10_000 });
        const closed = closing.close();
        controller.abort();
        await expect(posted).rejects.toThrow(new RpcTransientError(`${LABEL}: request cancelled`));
        await closed;
        const after = new AbortController();
        await expect(closing.forRange(1, types).post!({ url: proxy.url, label: LABEL }, callsFor(18_000_000), { timeoutMs: 1_000, signal: after.signal }))
          .rejects.toThrow(new DecodeThreadError(`decode thread failed on a request to ${LABEL}: the decode threads are closed`));
        after.abort(); // nothing listens: no throw
      } finally {
        await proxy.close();
        await server.close();
      }
    });

    it('throws the main thread\'s RpcTransientError for a body that is not JSON', async () => {
      const decoding = pool.forRange(1, types).decode([new Uint8Array(Buffer.from('oops'))], 4, callsFor(1), LABEL);
      await expect(decoding).rejects.toThrow(new RpcTransientError('node#0: answered with a body that is not JSON (oops…)'));
      await expect(decoding).rejects.toBeInstanceOf(RpcTransientError);
    });
  });

  it('runIndexRange() stores a recorded block through the decode thread with exactly the rows the main thread stores', async () => {
    const b = recorded('ethereum/18000000');
    const server = await startReplayServer({ chainId: 1, blocks: [{ block: b.block as never, receipts: b.receipts }] });
    const decodePool = createDecodePool(1);
    let decodedAnswers = 0;
    let posted = 0;
    const counting: DecodePool = {
      forRange: (chainId, columnTypes) => {
        const decoder = decodePool.forRange(chainId, columnTypes);
        return {
          decode: async (...args) => { decodedAnswers++; return decoder.decode(...args); },
          post: async (...args) => {
            posted++;
            const answer = await decoder.post!(...args);
            for (const o of answer.outcomes) {
              const rows = o.ok && o.result instanceof DecodedBlock ? (o.result.body?.payload as EncodedRows) : undefined;
              if (rows) inArena.push(rows.tuples instanceof SharedArrayBuffer && typeof rows.release === 'function');
            }
            return answer;
          },
        };
      },
      close: () => decodePool.close(),
      tuplePages: () => decodePool.tuplePages(),
    };
    const inArena: boolean[] = [];
    const log = createLogger({ level: 'warn', pretty: false });
    const rpc = createRpcPool({ urls: [server.url], timeoutMs: 5_000, log });
    const range = { chainId: 1, from: b.blockNumber, to: b.blockNumber };
    const stored = async () => {
      const { rows } = await sql<{ t: string; rows: string }>`
        select 'blocks' as t, string_agg(md5(b::text), ',' order by md5(b::text)) as rows from blocks b where chain_id = 1
        union all select 'transactions', string_agg(md5(t::text), ',' order by md5(t::text)) from transactions t where chain_id = 1
        union all select 'logs', string_agg(md5(l::text), ',' order by md5(l::text)) from logs l where chain_id = 1
        union all select 'withdrawals', string_agg(md5(w::text), ',' order by md5(w::text)) from withdrawals w where chain_id = 1`.execute(database.db);
      return rows;
    };
    try {
      const mainSummary = await runIndexRange({ db: database.db, pool: rpc, chainId: 1, log }, range);
      const mainRows = await stored();
      const threadSummary = await runIndexRange({ db: database.db, pool: rpc, chainId: 1, log, decodePool: counting }, range);
      expect([posted, decodedAnswers]).toEqual([1, 0]); // sent from the thread, not read on this one
      expect(inArena).toEqual([true]); // the tuples came back in the arena, and were freed once written:
      expect(decodePool.tuplePages()).toEqual({ held: 0, total: 1024 });
      expect(threadSummary).toEqual(mainSummary);
      expect(threadSummary).toMatchObject({ blockCount: 1, transactionCount: 94, logCount: 291 });
      expect(await stored()).toEqual(mainRows);
      const exported = await exportBlock(database.db, 1, b.blockNumber);
      expect([...diffWithRecording(b.block, exported!.block, 'block'), ...diffWithRecording(b.receipts, exported!.receipts, 'receipts')]).toEqual([]);
    } finally {
      rpc.close();
      await counting.close();
      await server.close();
    }
  });
});
