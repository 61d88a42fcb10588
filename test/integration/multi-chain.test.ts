/**
 * Many chains in one deployment: two anvil chains with different chain ids (and different traffic,
 * confirmation depths and batch sizes), ONE worker process serving both from a CHAINS_FILE (one
 * task queue per chain), one Temporal server, one database. The client's `start` starts both
 * syncs; both complete equal to their chain; no row of one chain appears under the other's
 * chain_id; `status` shows both; and every db function that changes rows touches only its chain.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCursor, rollbackTo, saveCursor, storeBatch } from '../../src/db/index.js';
import { DbIntegrityError } from '../../src/errors.js';
import { diffWithChain, digestRows, findIntegrityProblems, rpc } from '../support/chain-oracle.js';
import { cliEnvironment, runClient } from '../support/cli.js';
import { generateTraffic, startAnvil, type Anvil } from '../support/devnet.js';
import { startWorkerProcess, type GroupProcess } from '../support/processes.js';
import { createTestDatabase, startTemporal, waitFor, type TestDatabase } from '../support/stack.js';

const TASK_QUEUE = 'multi';
/** Chain A takes the environment's settings; chain B sets its own in the chains file. */
const A = { chainId: 31337, confirmationDepth: 3, batchSize: 5 };
const B = { chainId: 31338, confirmationDepth: 2, batchSize: 3 };

type Json = Record<string, any>;

/** What chain `rpcUrl` holds in blocks 0..to: block hashes, transaction hashes and the log count. */
async function readChain(rpcUrl: string, to: number): Promise<{ blockHashes: string[]; txHashes: string[]; logCount: number }> {
  const out = { blockHashes: [] as string[], txHashes: [] as string[], logCount: 0 };
  for (let n = 0; n <= to; n++) {
    const block = await rpc<Json>(rpcUrl, 'eth_getBlockByNumber', [`0x${n.toString(16)}`, false]);
    const receipts = await rpc<Json[]>(rpcUrl, 'eth_getBlockReceipts', [`0x${n.toString(16)}`]);
    out.blockHashes.push(block.hash);
    out.txHashes.push(...(block.transactions as string[]));
    out.logCount += receipts.reduce((sum, r) => sum + r.logs.length, 0);
  }
  return out;
}

describe('two chains indexed by one deployment', () => {
  let anvilA: Anvil;
  let anvilB: Anvil;
  let env: TestWorkflowEnvironment;
  let database: TestDatabase;
  let worker: GroupProcess;
  let stateDir: string;
  let cliEnv: NodeJS.ProcessEnv;
  const heads = new Map<number, number>();

  /** Runs `src/client.ts` with `args`; resolves with exit code and output, never rejects. */
  const client = (...args: string[]) => runClient(cliEnv, args);

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'multi-chain-test-'));
    [anvilA, anvilB, env, database] = await Promise.all([
      startAnvil({ chainId: A.chainId }),
      startAnvil({ chainId: B.chainId }),
      startTemporal(),
      createTestDatabase('multi_chain'),
    ]);
    // Different traffic, so the chains differ in length and content as well as in chain id.
    const [trafficA, trafficB] = await Promise.all([generateTraffic(anvilA.rpcUrl), generateTraffic(anvilB.rpcUrl, { tokenTransferCount: 5, emptyBlockCount: 2 })]);
    heads.set(A.chainId, trafficA.toBlock).set(B.chainId, trafficB.toBlock);
    const chainsFile = join(stateDir, 'chains.json');
    // Chain B's endpoint comes from a variable only the worker has, as an API key kept in a Secret would.
    writeFileSync(chainsFile, JSON.stringify([
      { chainId: A.chainId, rpcUrl: anvilA.rpcUrl },
      { chainId: B.chainId, rpcUrl: ['http://127.0.0.1:${DEVNET_B_PORT}'], confirmationDepth: B.confirmationDepth, batchSize: B.batchSize },
    ], null, 2));
    const shared = {
      DATABASE_URL: database.url,
      TEMPORAL_ADDRESS: env.address,
      TASK_QUEUE,
      CHAINS_FILE: chainsFile,
      CONFIRMATION_DEPTH: String(A.confirmationDepth),
      BATCH_SIZE: String(A.batchSize),
      POLL_INTERVAL: '200',
    };
    worker = await startWorkerProcess({ ...shared, INSTANCE_ID: 'multi-chain-worker', DEVNET_B_PORT: String(anvilB.port) }, env.connection, 'default', [`${TASK_QUEUE}-${A.chainId}`, `${TASK_QUEUE}-${B.chainId}`]);
    cliEnv = cliEnvironment(shared);
  });

  afterAll(async () => {
    await worker?.stop();
    await env?.teardown();
    await Promise.all([anvilA?.stop(), anvilB?.stop()]);
    await database?.drop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('`start` starts one sync per chain of the file, each on its own task queue with its own settings', async () => {
    const started = await client('start');
    expect([started.code, started.stderr]).toEqual([0, '']);
    expect(started.stdout.split('\n')).toEqual([
      expect.stringMatching(/^sync chain-sync:31337 started \(run [0-9a-f-]+\) on task queue multi-31337: from block 0, 3 confirmations deep, batches of 5 blocks, then about 50,000 rows, 8 at once$/),
      expect.stringMatching(/^sync chain-sync:31338 started \(run [0-9a-f-]+\) on task queue multi-31338: from block 0, 2 confirmations deep, batches of 3 blocks, then about 50,000 rows, 8 at once$/),
      '',
    ]);
    const again = await client('start', '--chain-id', String(B.chainId));
    expect([again.code, again.stdout]).toEqual([0, expect.stringMatching(/^sync chain-sync:31338 is already running \(run [0-9a-f-]+\); nothing to do\n$/)]);
  });

  it('both syncs complete: each cursor reaches head − its depth and the rows equal each chain', async () => {
    for (const chain of [A, B]) {
      const target = heads.get(chain.chainId)! - chain.confirmationDepth;
      await waitFor(`the cursor of chain ${chain.chainId} to reach ${target}`, async () => (await readCursor(database.db, chain.chainId))?.blockNumber === target, { timeoutMs: 180_000, intervalMs: 250 });
    }
    expect(await diffWithChain(database.db, anvilA.rpcUrl, A.chainId, 0, heads.get(A.chainId)! - A.confirmationDepth)).toEqual([]);
    expect(await diffWithChain(database.db, anvilB.rpcUrl, B.chainId, 0, heads.get(B.chainId)! - B.confirmationDepth)).toEqual([]);
    expect(await findIntegrityProblems(database.db, A.chainId)).toEqual([]);
    expect(await findIntegrityProblems(database.db, B.chainId)).toEqual([]);
  }, 240_000);

  it('no row of one chain is stored under the other: exact counts per chain_id, each chain\'s hashes only under its own id', async () => {
    const targetA = heads.get(A.chainId)! - A.confirmationDepth;
    const targetB = heads.get(B.chainId)! - B.confirmationDepth;
    const [chainA, chainB] = await Promise.all([readChain(anvilA.rpcUrl, targetA), readChain(anvilB.rpcUrl, targetB)]);
    // The chains really differ: no transaction in common (EIP-155 signatures include the chain id),
    // no block in common above the genesis block (whose hash may agree: same allocation and time).
    expect(chainA.txHashes.filter((h) => chainB.txHashes.includes(h))).toEqual([]);
    expect(chainA.blockHashes.slice(1).filter((h) => chainB.blockHashes.includes(h))).toEqual([]);
    expect(chainA.blockHashes.length).not.toBe(chainB.blockHashes.length);

    const counts = async (table: 'blocks' | 'transactions' | 'logs') =>
      (await sql<{ chain_id: number; n: string }>`select chain_id, count(*) as n from ${sql.table(table)} group by chain_id order by chain_id`.execute(database.db)).rows.map((r) => [Number(r.chain_id), Number(r.n)]);
    expect(await counts('blocks')).toEqual([[A.chainId, targetA + 1], [B.chainId, targetB + 1]]);
    expect(await counts('transactions')).toEqual([[A.chainId, chainA.txHashes.length], [B.chainId, chainB.txHashes.length]]);
    expect(await counts('logs')).toEqual([[A.chainId, chainA.logCount], [B.chainId, chainB.logCount]]);

    const stored = async (chainId: number) => {
      const blocks = await database.db.selectFrom('blocks').select('hash').where('chain_id', '=', chainId).orderBy('number').execute();
      const txs = await database.db.selectFrom('transactions').select('hash').where('chain_id', '=', chainId).orderBy('block_number').orderBy('transaction_index').execute();
      return { blockHashes: blocks.map((r) => `0x${r.hash.toString('hex')}`), txHashes: txs.map((r) => `0x${r.hash.toString('hex')}`) };
    };
    const [storedA, storedB] = await Promise.all([stored(A.chainId), stored(B.chainId)]);
    expect(storedA).toEqual({ blockHashes: chainA.blockHashes, txHashes: chainA.txHashes });
    expect(storedB).toEqual({ blockHashes: chainB.blockHashes, txHashes: chainB.txHashes });
    expect(storedB.blockHashes.slice(1).filter((h) => chainA.blockHashes.includes(h))).toEqual([]);
    expect(storedA.blockHashes.slice(1).filter((h) => chainB.blockHashes.includes(h))).toEqual([]);
    expect(storedB.txHashes.filter((h) => chainA.txHashes.includes(h))).toEqual([]);
    expect(storedA.txHashes.filter((h) => chainB.txHashes.includes(h))).toEqual([]);
  });

  it('`status` without a chain id shows both syncs; with --chain-id, that chain\'s own depth', async () => {
    const table = await waitFor('status to show both syncs caught up', async () => {
      const out = await client('status');
      return out.stdout.split('\n').filter((l) => l.includes('caught-up')).length === 2 ? out.stdout : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    const lines = table.trim().split('\n');
    expect(lines).toHaveLength(6); // borders, header, two rows
    expect(lines[1]).toBe('│ chain │ workflow         │ status    │ head │ target │ cursor │ lag (blocks) │ blocks/s │ reorgs │');
    const rows = lines.slice(3, 5).sort();
    const row = (chainId: number, depth: number) => {
      const head = heads.get(chainId)!;
      return new RegExp(`^│ ${chainId} │ chain-sync:${chainId} │ caught-up │ +${head} │ +${head - depth} │ +${head - depth} │ +${depth} │ +[\\d.]+ │ +0 │$`);
    };
    expect(rows).toEqual([expect.stringMatching(row(A.chainId, A.confirmationDepth)), expect.stringMatching(row(B.chainId, B.confirmationDepth))]);
    const one = await client('status', '--chain-id', String(B.chainId));
    expect(one.stdout.split('\n').slice(0, 3)).toEqual([
      // Between two polls a caught-up sync reads the head and may say `syncing` for a moment.
      expect.stringMatching(/^chain-sync:31338: running \((caught-up|syncing)\)$/),
      expect.stringMatching(new RegExp(`^  head      ${heads.get(B.chainId)} \\(read \\d+ s ago\\)$`)),
      `  target    ${heads.get(B.chainId)! - 2} (head − 2 confirmation depth)`,
    ]);
  }, 120_000);

  it('`backfill`, `verify` and `gaps` run on the chosen chain\'s task queue; without --chain-id they name the chains', async () => {
    const backfill = await client('backfill', '--chain-id', String(B.chainId), '--from', '0', '--to', '4');
    expect(backfill.code).toBe(0);
    expect(backfill.stdout).toMatch(/^backfill backfill:31338:0-4 running on task queue multi-31338\n(.*\n)*backfill done: blocks 0–4 \(5 blocks\), [\d.]+ blocks\/s\n$/);
    const targetA = heads.get(A.chainId)! - A.confirmationDepth;
    const verify = await client('verify', '--chain-id', String(A.chainId), '--from', '0', '--to', String(targetA));
    expect([verify.code, verify.stdout]).toEqual([0, `verify chain 31337 blocks 0–${targetA}: ${targetA + 1} blocks checked, 0 differences\n`]);
    const gaps = await client('gaps', '--chain-id', String(B.chainId));
    expect([gaps.code, gaps.stdout]).toEqual([0, `no gap in blocks 0–${heads.get(B.chainId)! - B.confirmationDepth}\n`]);
    const missing = await client('backfill', '--from', '0', '--to', '4');
    expect([missing.code, missing.stderr]).toEqual([1, 'error: --chain-id: required with CHAINS_FILE (it lists chains 31337, 31338)\n']);
    const unknown = await client('verify', '--chain-id', '5', '--from', '0', '--to', '4');
    expect([unknown.code, unknown.stderr]).toEqual([1, 'config error: --chain-id: chain 5 is not in CHAINS_FILE (it lists 31337, 31338)\n']);
    for (const args of [['status'], ['export-block', '0']]) {
      const refused = await client(...args, '--chain-id', '5');
      expect([args[0], refused.code, refused.stderr]).toEqual([args[0], 1, 'config error: --chain-id: chain 5 is not in CHAINS_FILE (it lists 31337, 31338)\n']);
    }
  }, 180_000);

  it('rollback, the batch writer and the cursor of one chain never touch the other chain\'s rows', async () => {
    for (const chain of [A, B]) expect((await client('stop', '--chain-id', String(chain.chainId))).code).toBe(0);
    for (const chain of [A, B]) {
      await waitFor(`chain-sync:${chain.chainId} to end`, async () => (await env.client.workflow.getHandle(`chain-sync:${chain.chainId}`).describe()).status.name !== 'RUNNING');
    }
    const before = { digest: await digestRows(database.db, B.chainId), cursor: await readCursor(database.db, B.chainId) };
    const hashA2 = await rpc<Json>(anvilA.rpcUrl, 'eth_getBlockByNumber', ['0x2', false]);
    const hashB3 = await rpc<Json>(anvilB.rpcUrl, 'eth_getBlockByNumber', ['0x3', false]);

    expect(await rollbackTo(database.db, A.chainId, { blockNumber: 2, blockHash: hashA2.hash })).toBe(heads.get(A.chainId)! - A.confirmationDepth - 2);
    await storeBatch(database.db, A.chainId, { from: 0, to: 1 }, { blocks: [], transactions: [], logs: [], withdrawals: [] });
    // Chain B's block 3 is stored, but not under chain A: the cursor of A refuses it.
    await expect(saveCursor(database.db, A.chainId, { blockNumber: 3, blockHash: hashB3.hash })).rejects.toBeInstanceOf(DbIntegrityError);

    const remaining = await database.db.selectFrom('blocks').select('number').where('chain_id', '=', A.chainId).orderBy('number').execute();
    expect(remaining.map((r) => r.number)).toEqual([2]);
    expect(await readCursor(database.db, A.chainId)).toEqual({ blockNumber: 2, blockHash: hashA2.hash });
    expect({ digest: await digestRows(database.db, B.chainId), cursor: await readCursor(database.db, B.chainId) }).toEqual(before);
  }, 120_000);

  it('SIGTERM stops the worker\'s Temporal workers of both chains together, and it exits 0', async () => {
    await worker.kill('SIGTERM');
    // The process exits only after runWorker() resolved, i.e. after every chain's worker has stopped.
    expect(worker.exitReason()).toBe('code 0');
  });
});
