/**
 * Recorded blocks of real chains through the real stack: a replay server serves each recorded
 * block (with its recorded receipts) as a one-block chain → an in-process worker with the real
 * activities → a `backfill` workflow for exactly that block on a Temporal dev server → Postgres.
 * Each chain runs twice: with `VERIFY_ROOTS` on, so each block also passes its header proof (or is
 * indexed as not verifiable; see test/unit/rpc/verify-roots.test.ts for each block's verdict) and
 * the worker's main thread decodes the answers; then with it off, so the decode thread
 * (src/decode/) parses, validates, converts and encodes them, and replaces the first pass's rows.
 * Then the stored row counts must equal the recording, and `exportBlock` must give back the
 * recorded block and receipts field by field (quantities as numbers, hex case-insensitive),
 * absent fields included.
 * Blocks recorded without receipts cannot pass `eth_getBlockReceipts` validation, so they are
 * covered at row level only (test/unit/db/export-block.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { sql } from 'kysely';
import { exportBlock } from '../../src/db/export-block.js';
import { backfillWorkflowId, type BackfillInput, type BackfillProgress } from '../../src/workflows/definitions.js';
import { findIntegrityProblems } from '../support/chain-oracle.js';
import { recordedProviderError, startReplayServer, type ReplayServer } from '../support/replay-server.js';
import { createTestDatabase, startIndexerWorker, startTemporal, type TestDatabase, type TestWorker } from '../support/stack.js';
import { RECORDED_BLOCKS, diffWithRecording, loadRecorded } from '../fixtures/recorded-blocks.js';

/** Attempts per `indexRange` before the backfill fails: enough for one injected fault, few enough to fail fast. */
const MAX_ATTEMPTS = 3;

const withReceipts = RECORDED_BLOCKS.filter((b) => b.receiptsFile !== null);
const chainIds = [...new Set(withReceipts.map((b) => b.chainId))];
/**
 * What `findIntegrityProblems` reports per chain once all its recorded blocks are stored, as the
 * recordings are: Cronos lists the phantom transaction 0x5395ae4b… in blocks 6541 and 6542.
 */
const RECORDED_PROBLEMS: Record<number, string[]> = {
  25: ['duplicate transaction hash 5395ae4b9ee2816929fa0076f14e51a1f7d3c1427d0552d7d8792a84034c9442'],
};

describe('test/support/replay-server.ts', () => {
  const post = async (url: string, body: unknown) => {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as any };
  };

  it('answers single and batch calls by id: chain id, block by number and tag, hashes for full=false, null for an unknown block, -32601 for an unknown method', async () => {
    const recorded = loadRecorded(RECORDED_BLOCKS.find((b) => b.name === 'arbitrum-one/150000000')!);
    const server = await startReplayServer({ chainId: 42161, blocks: [recorded] });
    try {
      expect((await post(server.url, { jsonrpc: '2.0', id: 'a', method: 'eth_chainId', params: [] })).body).toEqual({ jsonrpc: '2.0', id: 'a', result: '0xa4b1' });
      const { body } = await post(server.url, [
        { jsonrpc: '2.0', id: 7, method: 'eth_getBlockByNumber', params: ['0x8f0d180', false] },
        { jsonrpc: '2.0', id: 3, method: 'eth_getBlockByNumber', params: ['finalized', true] },
        { jsonrpc: '2.0', id: 5, method: 'eth_getBlockReceipts', params: ['0x8f0d181'] },
        { jsonrpc: '2.0', id: 4, method: 'eth_getLogs', params: [{}] },
        { jsonrpc: '2.0', id: 9, method: 'eth_getBlockReceipts', params: ['latest'] },
      ]);
      expect(body.map((r: { id: number }) => r.id)).toEqual([7, 3, 5, 4, 9]);
      expect(body[0].result.transactions).toEqual(recorded.block.transactions.map((t) => t.hash));
      expect(body[1].result).toEqual(recorded.block);
      expect(body[2].result).toBeNull();
      expect(body[3].error.code).toBe(-32601);
      expect(body[4].result).toEqual(recorded.receipts);
    } finally {
      await server.close();
    }
  });

  it('serves an injected recorded provider error (Infura rate limit, HTTP 429) once, then the recording', async () => {
    const recorded = loadRecorded(RECORDED_BLOCKS.find((b) => b.name === 'hyperliquid/50000')!);
    const server = await startReplayServer({ chainId: 999, blocks: [recorded] });
    try {
      server.inject({ method: 'eth_getBlockReceipts', ...recordedProviderError('gochain/web3/issues/180') });
      const call = { jsonrpc: '2.0', id: 1, method: 'eth_getBlockReceipts', params: ['0xc350'] };
      const first = await post(server.url, [call]);
      expect([first.status, first.body[0].error.code, first.body[0].error.message]).toEqual([429, -32005, 'daily request count exceeded, request rate limited']);
      expect((await post(server.url, [call])).body[0].result).toEqual(recorded.receipts);
      expect(server.calls.map((c) => c.failed)).toEqual([true, false]);
    } finally {
      await server.close();
    }
  });
});

describe('recorded blocks of real chains through backfill and exportBlock', () => {
  let env: TestWorkflowEnvironment;
  let database: TestDatabase;

  beforeAll(async () => {
    [env, database] = await Promise.all([startTemporal(), createTestDatabase('fixtures')]);
  });

  afterAll(async () => {
    await env?.teardown();
    await database?.drop();
  });

  /** Runs `backfill` for exactly block `blockNumber`; returns its progress, or the innermost error when it failed. */
  const backfillOne = async (chainId: number, blockNumber: number, taskQueue: string): Promise<BackfillProgress | Error> => {
    const input: BackfillInput = { chainId, from: blockNumber, to: blockNumber, batchSize: 1, concurrency: 1, maxRetries: MAX_ATTEMPTS };
    try {
      return await env.client.workflow.execute('backfill', { workflowId: backfillWorkflowId(chainId, blockNumber, blockNumber), taskQueue, args: [input] });
    } catch (err) {
      let inner = err as Error & { cause?: unknown };
      while (inner.cause instanceof Error) inner = inner.cause as Error & { cause?: unknown };
      return inner;
    }
  };

  const storedCounts = async (chainId: number, blockNumber: number) => {
    const { rows } = await sql<{ transactions: number; receipt_only: number; logs: number; withdrawals: number }>`
      select (select count(*) from transactions where chain_id = ${chainId} and block_number = ${blockNumber} and in_block_list)::int as transactions,
             (select count(*) from transactions where chain_id = ${chainId} and block_number = ${blockNumber} and not in_block_list)::int as receipt_only,
             (select count(*) from logs where chain_id = ${chainId} and block_number = ${blockNumber})::int as logs,
             (select count(*) from withdrawals where chain_id = ${chainId} and block_number = ${blockNumber})::int as withdrawals`.execute(database.db);
    const counts = rows[0]!;
    return { transactions: counts.transactions, receiptOnly: counts.receipt_only, logs: counts.logs, withdrawals: counts.withdrawals };
  };

  const passes = chainIds.flatMap((chainId) => [
    [chainId, 'main thread, VERIFY_ROOTS on', true],
    [chainId, 'decode thread', false],
  ] as const);
  describe.each(passes)('chain %i (%s)', (chainId, _, verifyRoots) => {
    const blocks = withReceipts.filter((b) => b.chainId === chainId);
    const taskQueue = `fixtures-${chainId}-${verifyRoots ? 'roots' : 'thread'}`;
    let server: ReplayServer;
    let worker: TestWorker;
    const outcomes = new Map<string, BackfillProgress | Error>();

    beforeAll(async () => {
      server = await startReplayServer({ chainId, blocks: blocks.map(loadRecorded) });
      worker = await startIndexerWorker({ env, taskQueue, db: database.db, rpcUrls: [server.url], chainId, verifyRoots });
      for (const b of blocks) {
        server.setHead(b.blockNumber); // each recorded block is its own one-block chain
        outcomes.set(b.name, await backfillOne(chainId, b.blockNumber, taskQueue));
      }
    });

    afterAll(async () => {
      await worker?.stop();
      await server?.close();
    });

    it.each(blocks.map((b) => [b.name, b] as const))('backfill stores %s with the recorded counts of transactions, receipt-only rows, logs and withdrawals', async (_, b) => {
      expect(outcomes.get(b.name)).toMatchObject({ status: 'done', doneThrough: b.blockNumber, blocksDone: 1 });
      const { block, receipts } = loadRecorded(b);
      // A receipt of a later block (Cronos 6541's phantom transaction) brings no logs to this block.
      const own = receipts!.filter((r) => r.blockHash.toLowerCase() === block.hash.toLowerCase());
      expect(await storedCounts(chainId, b.blockNumber)).toEqual({
        transactions: block.transactions.length,
        receiptOnly: receipts!.length - block.transactions.length,
        logs: own.reduce((sum, r) => sum + r.logs.length, 0),
        withdrawals: block.withdrawals?.length ?? 0,
      });
      expect(await findIntegrityProblems(database.db, chainId)).toEqual(RECORDED_PROBLEMS[chainId] ?? []);
    });

    it.each(blocks.map((b) => [b.name, b] as const))('exportBlock() gives back %s exactly as recorded, field by field, absent fields included', async (_, b) => {
      const { block, receipts } = loadRecorded(b);
      const exported = await exportBlock(database.db, chainId, b.blockNumber);
      expect(exported).not.toBeNull();
      expect([...diffWithRecording(block, exported!.block, 'block'), ...diffWithRecording(receipts, exported!.receipts, 'receipts')]).toEqual([]);
    });
  });

  it('backfill stores cronos/6541\'s phantom transaction flagged: no receipt columns, the receipt of block 6542 in receipt_extra, its logs only in 6542', async () => {
    const phantom = Buffer.from('5395ae4b9ee2816929fa0076f14e51a1f7d3c1427d0552d7d8792a84034c9442', 'hex');
    const { rows } = await sql<{ block_number: number; status: number | null; log_count: number; later_block: string | null }>`
      select block_number, status, log_count, receipt_extra->'laterBlockReceipt'->>'blockNumber' as later_block
      from transactions where chain_id = 25 and hash = ${phantom}
      order by block_number`.execute(database.db);
    expect(rows).toEqual([
      { block_number: 6541, status: null, log_count: 0, later_block: '0x198e' },
      { block_number: 6542, status: 1, log_count: 2, later_block: null },
    ]);
    const logs = await sql<{ block_number: number; n: number }>`
      select block_number, count(*)::int as n from logs where chain_id = 25 and transaction_hash = ${phantom} group by block_number`.execute(database.db);
    expect(logs.rows).toEqual([{ block_number: 6542, n: 2 }]);
  });

  it('backfill retries past a recorded provider error ("header not found", -32000) injected into eth_getBlockReceipts', async () => {
    const recorded = withReceipts.find((b) => b.name === 'hyperliquid/50000')!;
    const server = await startReplayServer({ chainId: recorded.chainId, blocks: [loadRecorded(recorded)] });
    const taskQueue = 'fixtures-injected-error';
    const worker = await startIndexerWorker({ env, taskQueue, db: database.db, rpcUrls: [server.url], chainId: recorded.chainId });
    try {
      server.inject({ method: 'eth_getBlockReceipts', ...recordedProviderError('header not found'), times: 1 });
      const outcome = await env.client.workflow.execute('backfill', {
        workflowId: backfillWorkflowId(recorded.chainId, recorded.blockNumber, recorded.blockNumber), // the earlier run of this ID has completed
        taskQueue,
        args: [{ chainId: recorded.chainId, from: recorded.blockNumber, to: recorded.blockNumber, maxRetries: MAX_ATTEMPTS }],
      });
      expect(outcome).toMatchObject({ status: 'done', blocksDone: 1 });
      expect(server.calls.filter((c) => c.method === 'eth_getBlockReceipts').map((c) => c.failed)).toEqual([true, false]);
      const { block, receipts } = loadRecorded(recorded);
      const exported = await exportBlock(database.db, recorded.chainId, recorded.blockNumber);
      expect([...diffWithRecording(block, exported!.block, 'block'), ...diffWithRecording(receipts, exported!.receipts, 'receipts')]).toEqual([]);
    } finally {
      await worker.stop();
      await server.close();
    }
  });
});
