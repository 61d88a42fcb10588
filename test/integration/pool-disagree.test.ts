/**
 * An RPC pool whose endpoints disagree: next to a canonical endpoint A (anvil) sits a stale node B
 * still serving the chain from before a reorg that moved transaction X from block N + 1 to block
 * N (found by a breaker helper, session 36). Whatever B serves, and however fast, the sync must
 * store A's chain: the pool's fork anchor (the hash of each range's last block as the endpoint
 * with the highest head has it, src/rpc/chain-head.ts) benches B, and a receipt fetched from
 * another endpoint than its block is never taken as a later block's receipt. Each case checks
 * every stored row against A (`diffWithChain`), and where B has the ranges' last block on its
 * fork, that B was benched for serving another fork.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { encodeFunctionData, parseGwei, keccak256, type Hex } from 'viem';
import { chainSyncWorkflowId, syncProgressQuery, type ChainSyncInput } from '../../src/workflows/definitions.js';
import { diffWithChain, findIntegrityProblems, rpc } from '../support/chain-oracle.js';
import { DEV_ACCOUNTS, generateTraffic, startAnvil, TOKEN_ABI, type Anvil } from '../support/devnet.js';
import { blockHash, headNumber, mine, revertTo, snapshot } from '../support/reorg.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { OTHER_FORK_BENCH_MS } from '../../src/rpc/pool.js';
import { createTestDatabase, startIndexerWorker, startTemporal, waitFor, type TestDatabase, type TestWorker } from '../support/stack.js';

const hex = (n: number) => `0x${n.toString(16)}`;

type Json = Record<string, any>;

/** A recorded copy of a chain served over JSON-RPC: a node stuck on it (behind a reorg). */
type StaleNode = { url: string; close(): Promise<void>; methods: string[] };

async function recordChain(url: string, head: number): Promise<{ blocks: Map<number, Json>; receipts: Map<string, Json>; blockReceipts: Map<number, Json[]> }> {
  const blocks = new Map<number, Json>();
  const receipts = new Map<string, Json>();
  const blockReceipts = new Map<number, Json[]>();
  for (let n = 0; n <= head; n++) {
    const block = await rpc<Json>(url, 'eth_getBlockByNumber', [hex(n), true]);
    blocks.set(n, block);
    blockReceipts.set(n, await rpc<Json[]>(url, 'eth_getBlockReceipts', [hex(n)]));
    for (const tx of block.transactions) receipts.set(tx.hash.toLowerCase(), await rpc<Json>(url, 'eth_getTransactionReceipt', [tx.hash]));
  }
  return { blocks, receipts, blockReceipts };
}

async function startStaleNode(CHAIN_ID: number, chain: Awaited<ReturnType<typeof recordChain>>, head: number, opts: { blockReceipts: boolean; latencyMs?: number }): Promise<StaleNode> {
  const methods: string[] = [];
  const answer = (item: Json): Json => {
    const { id, method, params = [] } = item;
    methods.push(method === 'eth_getTransactionReceipt' || method === 'eth_getBlockByNumber' ? `${method}(${params[0]})` : method);
    const ok = (result: unknown) => ({ jsonrpc: '2.0', id, result });
    const num = (p: unknown): number | null => {
      if (p === 'latest' || p === 'safe' || p === 'finalized' || p === 'pending') return head;
      if (p === 'earliest') return 0;
      return typeof p === 'string' && p.startsWith('0x') ? Number(BigInt(p)) : null;
    };
    switch (method) {
      case 'eth_chainId': return ok(hex(CHAIN_ID));
      case 'net_version': return ok(String(CHAIN_ID));
      case 'eth_blockNumber': return ok(hex(head));
      case 'eth_getBlockByNumber': {
        const n = num(params[0]);
        const block = n === null ? undefined : chain.blocks.get(n);
        if (!block) return ok(null);
        return ok(params[1] ? block : { ...block, transactions: block.transactions.map((t: Json) => t.hash) });
      }
      case 'eth_getTransactionReceipt': return ok(chain.receipts.get(String(params[0]).toLowerCase()) ?? null);
      case 'eth_getBlockReceipts': {
        if (!opts.blockReceipts) return { jsonrpc: '2.0', id, error: { code: -32601, message: 'the method eth_getBlockReceipts does not exist/is not available' } };
        const n = num(params[0]);
        return ok(n === null ? null : chain.blockReceipts.get(n) ?? null);
      }
      default: return { jsonrpc: '2.0', id, error: { code: -32601, message: `the method ${method} does not exist/is not available` } };
    }
  };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', async () => {
      if (opts.latencyMs) await new Promise((resolve) => setTimeout(resolve, opts.latencyMs));
      const parsed = JSON.parse(body);
      const out = Array.isArray(parsed) ? parsed.map(answer) : answer(parsed);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, methods, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * An HTTP proxy in front of `upstream` that answers HTTP 503 to the first `failures` requests whose
 * body contains `needle` (a transient failure of that endpoint for that request), and forwards the rest.
 */
async function startFilterProxy(upstream: string, needle: () => string, failures: number): Promise<{ url: string; failed: () => number; close(): Promise<void> }> {
  let failed = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', async () => {
      if (failed < failures && body.toLowerCase().includes(needle().toLowerCase())) {
        failed += 1;
        res.writeHead(503, { 'content-type': 'text/plain' }).end('Service Unavailable');
        return;
      }
      const r = await fetch(upstream, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      res.writeHead(r.status, { 'content-type': 'application/json' }).end(await r.text());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, failed: () => failed, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

let env: TestWorkflowEnvironment;
let database: TestDatabase;

beforeAll(async () => {
  [env, database] = await Promise.all([startTemporal(), createTestDatabase('pooldisagree')]);
});
afterAll(async () => {
  await env?.teardown();
  await database?.drop();
});

/** `benched`: B has the block the sync's ranges end at (on its fork), so the fork anchor benches it; elsewhere B lacks those blocks and is refused as lagging. */
type Case = { chainId: number; kind: 'eth' | 'token'; fallback: boolean; failXReceiptOnce?: boolean; aLatencyMs?: number; timeoutMs: number; oldExtra?: number; confirmationDepth?: number; benched?: boolean };
const CASES: [string, Case][] = [
  // Before: X's receipt came from B (A's failed once) and was stored as a "later block receipt" of block N + 1 of B's fork.
  ['no endpoint has eth_getBlockReceipts, A answers HTTP 503 once to the receipts request for X, X is an ETH transfer (no log)', { chainId: 31601, kind: 'eth', fallback: true, failXReceiptOnce: true, timeoutMs: 30_000 }],
  ['both serve eth_getBlockReceipts, A (canonical) answers 300 ms late, X is an ERC-20 transfer', { chainId: 31602, kind: 'token', fallback: false, aLatencyMs: 300, timeoutMs: 30_000 }],
  ['no fault at all, both serve eth_getBlockReceipts, B (stale, head N + 4) answers faster than A', { chainId: 31604, kind: 'token', fallback: false, timeoutMs: 30_000 }],
  // Before: B's old branch reaches N + 9 (A: N + 10); confirmation depth 2 → target N + 8, which B served, and the sync caught up on B's fork.
  ['both serve eth_getBlockReceipts, B one block behind A on the old branch, A 300 ms late, depth 2', { chainId: 31603, kind: 'token', fallback: false, aLatencyMs: 300, timeoutMs: 30_000, oldExtra: 8, confirmationDepth: 2, benched: true }],
];

describe.each(CASES)('a stale endpoint B (on the chain before a reorg that moved X from N + 1 to N) next to canonical A: %s', (_name, { chainId: CHAIN_ID, kind, fallback, failXReceiptOnce, aLatencyMs, timeoutMs, oldExtra = 3, confirmationDepth = 0, benched = false }) => {
  let anvil: Anvil;
  let proxy: FaultProxy;
  let stale: StaleNode;
  let worker: TestWorker;
  let filter: Awaited<ReturnType<typeof startFilterProxy>> | undefined;
  let xHash: Hex;
  let n: number;

  beforeAll(async () => {
    anvil = await startAnvil({ chainId: CHAIN_ID });
    const traffic = await generateTraffic(anvil.rpcUrl, { emptyBlockCount: 1 });
    const base = await headNumber(anvil.rpcUrl); // N − 1
    n = base + 1;
    const id = await snapshot(anvil.rpcUrl);
    // Signed ERC-20 transfer X from account 0 (the token's owner): one Transfer log.
    const account = DEV_ACCOUNTS[0]!;
    const nonce = Number(BigInt(await rpc(anvil.rpcUrl, 'eth_getTransactionCount', [account.address, 'latest'])));
    const raw = await account.signTransaction({
      chainId: CHAIN_ID, type: 'eip1559', nonce, gas: 100_000n,
      maxFeePerGas: parseGwei('100'), maxPriorityFeePerGas: parseGwei('1'),
      ...(kind === 'token'
        ? { to: traffic.tokenAddress, data: encodeFunctionData({ abi: TOKEN_ABI, functionName: 'transfer', args: [DEV_ACCOUNTS[3]!.address, 5n] }) }
        : { to: DEV_ACCOUNTS[3]!.address, value: 5n }),
    });
    xHash = keccak256(raw);
    // Old chain: N empty, X in N + 1, then N + 2..N + 4 empty.
    await mine(anvil.rpcUrl, 1);
    await rpc(anvil.rpcUrl, 'eth_sendRawTransaction', [raw]);
    await waitFor('X mined (old chain)', async () => (await rpc(anvil.rpcUrl, 'eth_getTransactionReceipt', [xHash])) ?? undefined);
    await mine(anvil.rpcUrl, oldExtra);
    const oldHead = await headNumber(anvil.rpcUrl);
    expect(oldHead).toBe(n + 1 + oldExtra);
    const old = await recordChain(anvil.rpcUrl, oldHead);
    expect(Number(BigInt(old.receipts.get(xHash)!.blockNumber))).toBe(n + 1);
    // The reorg: back to N − 1, X in N, then empty blocks up to N + 10 (canonical, longer).
    await revertTo(anvil.rpcUrl, id);
    await rpc(anvil.rpcUrl, 'eth_sendRawTransaction', [raw]);
    await waitFor('X mined (new chain)', async () => (await rpc(anvil.rpcUrl, 'eth_getTransactionReceipt', [xHash])) ?? undefined);
    await mine(anvil.rpcUrl, 10);
    expect(Number(BigInt((await rpc(anvil.rpcUrl, 'eth_getTransactionReceipt', [xHash])).blockNumber))).toBe(n);
    expect(await headNumber(anvil.rpcUrl)).toBe(n + 10);

    proxy = await startFaultProxy({ upstream: anvil.rpcUrl });
    // A: without eth_getBlockReceipts in the fallback cases (the pool asks eth_getTransactionReceipt per transaction), 300 ms late in others.
    proxy.set({
      ...(fallback ? { unsupportedMethods: ['eth_getBlockReceipts'] } : {}),
      ...(aLatencyMs ? { latencyMs: aLatencyMs } : {}),
    });
    stale = await startStaleNode(CHAIN_ID, old, oldHead, { blockReceipts: !fallback });
    // A's URL: with failXReceiptOnce, a proxy whose first request carrying X's hash as an
    // eth_getTransactionReceipt parameter gets HTTP 503 (once: a transient failure of A).
    if (failXReceiptOnce) filter = await startFilterProxy(proxy.url, () => `"eth_getTransactionReceipt","params":["${xHash}"`, 1);
    worker = await startIndexerWorker({ env, taskQueue: `pd-${CHAIN_ID}`, db: database.db, rpcUrls: [filter?.url ?? proxy.url, stale.url], chainId: CHAIN_ID, rpcTimeoutMs: 2_000 });
  }, 120_000);
  afterAll(async () => {
    await env.client.workflow.getHandle(chainSyncWorkflowId(CHAIN_ID)).terminate('test over').catch(() => undefined);
    await worker?.stop();
    await filter?.close();
    await proxy?.close();
    await stale?.close();
    await anvil?.stop();
  });

  it('the sync stores the canonical chain: X with its receipt and its log in block N', async () => {
    const input: ChainSyncInput = {
      chainId: CHAIN_ID, startBlock: 0, batchSize: 100, concurrency: 1, confirmationDepth, finality: 'depth', pollIntervalMs: 200, maxRetries: 0,
    };
    const handle = await env.client.workflow.start('chainSync', { workflowId: chainSyncWorkflowId(CHAIN_ID), taskQueue: `pd-${CHAIN_ID}`, args: [input], workflowIdConflictPolicy: 'USE_EXISTING' });
    const head = (await headNumber(anvil.rpcUrl)) - confirmationDepth;
    const canonicalHead = await blockHash(anvil.rpcUrl, head);
    await waitFor('the sync to reach the head on A\'s chain', async () => {
      const p = await handle.query(syncProgressQuery);
      if (p.cursor === head && p.status === 'caught-up' && p.cursorHash !== canonicalHead) throw new Error(`caught up on a cursor that is not the canonical block: ${JSON.stringify(p)}, canonical ${canonicalHead}`);
      return p.cursor === head && p.cursorHash === canonicalHead ? p : undefined;
    }, { timeoutMs });
    expect(await diffWithChain(database.db, anvil.rpcUrl, CHAIN_ID, 0, head)).toEqual([]);
    expect(await findIntegrityProblems(database.db, CHAIN_ID)).toEqual([]);
    const stored = await database.db.selectFrom('transactions').select(['block_number', 'status', 'log_count'])
      .where('chain_id', '=', CHAIN_ID).where('hash', '=', Buffer.from(xHash.slice(2), 'hex')).execute();
    expect(stored).toEqual([{ block_number: n, status: 1, log_count: kind === 'token' ? 1 : 0 }]);
    if (failXReceiptOnce) expect(filter!.failed()).toBe(1); // A did fail X's receipts request once
    // Where B has the ranges' last block on its fork, it was found there and benched (for OTHER_FORK_BENCH_MS from then).
    if (benched) {
      const b = worker.pool.health().find((h) => h.endpoint === worker.pool.labels[1]);
      expect(b!.benchedForMs).toBeGreaterThan(0);
      expect(b!.benchedForMs).toBeLessThanOrEqual(OTHER_FORK_BENCH_MS);
    }
  }, 60_000);
});
