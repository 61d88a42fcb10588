/**
 * Header proofs (`VERIFY_ROOTS`) against a tampering endpoint: two replay servers serve recorded
 * Ethereum block 18,000,000, one of them with one transaction's `value` changed (its hash and every
 * other check still pass; only the transactionsRoot gives it away). Through the pool alone, and
 * through the real worker, a backfill workflow on a Temporal dev server and Postgres.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { sql } from 'kysely';
import { pino } from 'pino';
import { runIndexRange } from '../../src/activities/index-range.js';
import { exportBlock } from '../../src/db/export-block.js';
import { createLogger } from '../../src/log.js';
import { createRpcPool, fetchBlocks, verifyRoots, type BundleCheck } from '../../src/rpc/index.js';
import { backfillWorkflowId, type BackfillInput } from '../../src/workflows/definitions.js';
import { startReplayServer, type ReplayServer } from '../support/replay-server.js';
import { createTestDatabase, startIndexerWorker, startTemporal, type TestDatabase } from '../support/stack.js';
import { RECORDED_BLOCKS, diffWithRecording, loadRecorded } from '../fixtures/recorded-blocks.js';

const BLOCK = 18_000_000;
const RANGE = { from: BLOCK, to: BLOCK };
/** Index of the tampered transaction and the value it gets instead of the recorded one (wei). */
const TAMPERED_INDEX = 5;
const TAMPERED_VALUE = '0xde0b6b3a7640000';
/** Attempts per `indexRange` before the backfill fails. */
const MAX_ATTEMPTS = 2;

const recorded = RECORDED_BLOCKS.find((b) => b.name === `ethereum/${BLOCK}`)!;
const tamperedCopy = () => {
  const copy = loadRecorded(recorded);
  expect(copy.block.transactions[TAMPERED_INDEX]!.value).not.toBe(TAMPERED_VALUE);
  copy.block.transactions[TAMPERED_INDEX]!.value = TAMPERED_VALUE;
  return copy;
};
const check: BundleCheck = async ({ block, receipts }, label) => {
  await verifyRoots(1, block, receipts, label);
};

describe('VERIFY_ROOTS with one endpoint serving a tampered transaction', () => {
  let tampered: ReplayServer;
  let correct: ReplayServer;

  beforeAll(async () => {
    [tampered, correct] = await Promise.all([
      startReplayServer({ chainId: 1, blocks: [tamperedCopy()] }),
      startReplayServer({ chainId: 1, blocks: [loadRecorded(recorded)] }),
    ]);
  });

  afterAll(async () => {
    await tampered?.close();
    await correct?.close();
  });

  it('fetchBlocks() with the header proof refuses the tampered answer, takes the other endpoint\'s, and asks that one first next time', async () => {
    const log = createLogger({ level: 'silent', pretty: false });
    // random 0.5: never the 5 % exploration, so the choice is the ranking alone; the tampered endpoint ranks first (RPC_URL order).
    const pool = createRpcPool({ urls: [tampered.url, correct.url], timeoutMs: 10_000, log, random: () => 0.5 });
    try {
      // The block's two calls (eth_getBlockByNumber with its transactions, eth_getBlockReceipts); the fork anchor's header reads are not counted.
      const blockCalls = (server: ReplayServer) => server.calls.filter((c) => c.method === 'eth_getBlockReceipts' || (c.method === 'eth_getBlockByNumber' && c.params[1] === true)).length;
      const before = { tampered: blockCalls(tampered), correct: blockCalls(correct) };
      const [first] = await fetchBlocks(pool, RANGE, { check });
      expect(first!.block.transactions[TAMPERED_INDEX]!.value).toBe(loadRecorded(recorded).block.transactions[TAMPERED_INDEX]!.value);
      expect([blockCalls(tampered) - before.tampered, blockCalls(correct) - before.correct]).toEqual([2, 2]);
      expect(pool.health().map((h) => [h.endpoint, h.errors])).toEqual([
        [pool.labels[0], { RpcBadResponseError: 1 }],
        [pool.labels[1], {}],
      ]);
      await fetchBlocks(pool, RANGE, { check });
      expect([blockCalls(tampered) - before.tampered, blockCalls(correct) - before.correct]).toEqual([2, 4]);
    } finally {
      pool.close();
    }
  });

  it('fetchBlocks() without the header proof takes the tampered answer (what VERIFY_ROOTS=false stores)', async () => {
    const pool = createRpcPool({ urls: [tampered.url], timeoutMs: 10_000, log: createLogger({ level: 'silent', pretty: false }) });
    try {
      const [bundle] = await fetchBlocks(pool, RANGE);
      expect(bundle!.block.transactions[TAMPERED_INDEX]!.value).toBe(TAMPERED_VALUE);
    } finally {
      pool.close();
    }
  });

  describe('through backfill', () => {
    let env: TestWorkflowEnvironment;
    let database: TestDatabase;

    beforeAll(async () => {
      [env, database] = await Promise.all([startTemporal(), createTestDatabase('verify_roots')]);
    });

    afterAll(async () => {
      await env?.teardown();
      await database?.drop();
    });

    const backfill = async (taskQueue: string, rpcUrls: string[]) => {
      const worker = await startIndexerWorker({ env, taskQueue, db: database.db, rpcUrls, chainId: 1, verifyRoots: true });
      const input: BackfillInput = { chainId: 1, from: BLOCK, to: BLOCK, batchSize: 1, concurrency: 1, maxRetries: MAX_ATTEMPTS };
      try {
        return await env.client.workflow.execute('backfill', { workflowId: `${backfillWorkflowId(1, BLOCK, BLOCK)}-${taskQueue}`, taskQueue, args: [input] });
      } catch (err) {
        let inner = err as Error & { cause?: unknown };
        while (inner.cause instanceof Error) inner = inner.cause as Error & { cause?: unknown };
        return inner;
      } finally {
        await worker.stop();
      }
    };
    const storedCount = async () => {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from blocks where chain_id = 1 and number = ${BLOCK}`.execute(database.db);
      return rows[0]!.n;
    };

    it('runIndexRange() with verifyRoots stores a Tempo block whose 0x76 transactions have no known encoding, counts it and logs roots-not-verifiable with the reason', async () => {
      const tempo = RECORDED_BLOCKS.find((b) => b.name === 'tempo/17708868')!;
      const server = await startReplayServer({ chainId: tempo.chainId, blocks: [loadRecorded(tempo)] });
      const lines: string[] = [];
      const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
      const pool = createRpcPool({ urls: [server.url], timeoutMs: 10_000, log });
      try {
        const range = { chainId: tempo.chainId, from: tempo.blockNumber, to: tempo.blockNumber };
        const summary = await runIndexRange({ db: database.db, pool, chainId: tempo.chainId, log, verifyRoots: true }, range);
        expect(summary).toMatchObject({ from: tempo.blockNumber, to: tempo.blockNumber, blockCount: 1, transactionCount: 3, rootsNotVerifiable: 1 });
        const logged = lines.map((line) => JSON.parse(line) as { msg: string; blocks: number; firstBlock: number; reasons: string[] }).filter((l) => l.msg === 'roots-not-verifiable');
        expect(logged.map((l) => [l.blocks, l.firstBlock, l.reasons])).toEqual([[1, tempo.blockNumber, ['transactionsRoot: transaction type 0x76 has no known encoding']]]);
        const without = await runIndexRange({ db: database.db, pool, chainId: tempo.chainId, log }, range);
        expect('rootsNotVerifiable' in without).toBe(false);
      } finally {
        pool.close();
        await server.close();
      }
    });

    it('backfill with only the tampered endpoint fails with RpcBadResponseError naming the block and transactionsRoot, and stores nothing', async () => {
      const outcome = await backfill('verify-roots-tampered-only', [tampered.url]);
      expect(outcome).toBeInstanceOf(Error);
      expect(outcome).toMatchObject({ type: 'RpcBadResponseError' });
      expect((outcome as Error).message).toContain(`block ${BLOCK}: transactionsRoot mismatch: the header has ${String(loadRecorded(recorded).block.transactionsRoot)}`);
      expect(await storedCount()).toBe(0);
    });

    it('backfill with the tampered endpoint first and a correct one stores the correct block, exactly as recorded', async () => {
      const outcome = await backfill('verify-roots-both', [tampered.url, correct.url]);
      expect(outcome).toMatchObject({ status: 'done', doneThrough: BLOCK, blocksDone: 1 });
      const { block, receipts } = loadRecorded(recorded);
      const exported = await exportBlock(database.db, 1, BLOCK);
      expect([...diffWithRecording(block, exported!.block, 'block'), ...diffWithRecording(receipts, exported!.receipts, 'receipts')]).toEqual([]);
      const { rows } = await sql<{ value: string }>`select value::text from transactions where chain_id = 1 and block_number = ${BLOCK} and transaction_index = ${TAMPERED_INDEX}`.execute(database.db);
      expect(rows).toEqual([{ value: BigInt(block.transactions[TAMPERED_INDEX]!.value).toString() }]);
    });
  });
});
