/**
 * Reorg soak: the sync in head mode (`CONFIRMATION_DEPTH=0`) on an anvil devnet that mines a block
 * every `SOAK_BLOCK_TIME_MS` with traffic and reorganises its last 1–5 blocks every
 * `SOAK_REORG_EVERY` blocks, for `SOAK_SECONDS`. Then it waits for the sync to catch up and
 * runs the `verify` workflow over the whole range, compares every stored block, transaction and
 * log with the chain again with the tests' independent oracle, and checks
 * for duplicates and orphans. Prints one JSON line; exit 1 when anything differs.
 *
 * Run: `npx tsx bench/reorg-soak.ts` (needs `scripts/stack up` for Postgres; starts its own
 * Temporal dev server and anvil). Env: SOAK_SECONDS (300), SOAK_BLOCK_TIME_MS (250), SOAK_REORG_EVERY (20).
 */
import { chainSyncWorkflowId, syncProgressQuery, verifyWorkflowId, type ChainSyncInput, type VerifyReport } from '../src/workflows/definitions.js';
import { diffWithChain, findIntegrityProblems, rpc } from '../test/support/chain-oracle.js';
import { generateTraffic, keepMining, startAnvil } from '../test/support/devnet.js';
import { createTestDatabase, startIndexerWorker, startTemporal, waitFor } from '../test/support/stack.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 300);
const BLOCK_TIME_MS = Number(process.env.SOAK_BLOCK_TIME_MS ?? 250);
const REORG_EVERY_BLOCKS = Number(process.env.SOAK_REORG_EVERY ?? 20);
const CHAIN_ID = 31337;

const [anvil, env, database] = await Promise.all([startAnvil({ chainId: CHAIN_ID }), startTemporal(), createTestDatabase('reorg_soak')]);
const worker = await startIndexerWorker({ env, taskQueue: 'soak', db: database.db, rpcUrls: [anvil.rpcUrl], chainId: CHAIN_ID });
let exitCode = 0;
try {
  const traffic = await generateTraffic(anvil.rpcUrl);
  const input: ChainSyncInput = { chainId: CHAIN_ID, startBlock: 0, batchSize: 5, concurrency: 4, confirmationDepth: 0, finality: 'depth', pollIntervalMs: 100, maxRetries: 0, gapCheckIntervalMs: 5_000 };
  const handle = await env.client.workflow.start('chainSync', { workflowId: chainSyncWorkflowId(CHAIN_ID), taskQueue: 'soak', args: [input] });
  const mining = keepMining(anvil.rpcUrl, { blockTimeMs: BLOCK_TIME_MS, trafficEvery: 2, tokenAddress: traffic.tokenAddress });
  const deadline = Date.now() + SECONDS * 1000;
  let reorgs = 0;
  let lastReorgAt = traffic.toBlock;
  const depths: number[] = [];
  while (Date.now() < deadline) {
    const head = Number(BigInt(await rpc(anvil.rpcUrl, 'eth_blockNumber')));
    if (head - lastReorgAt >= REORG_EVERY_BLOCKS) {
      const depth = 1 + (reorgs % 5);
      await rpc(anvil.rpcUrl, 'anvil_reorg', [depth, []]);
      depths.push(depth);
      reorgs += 1;
      lastReorgAt = head;
    }
    await new Promise((resolve) => setTimeout(resolve, BLOCK_TIME_MS / 2));
  }
  await mining.stop();
  const head = Number(BigInt(await rpc(anvil.rpcUrl, 'eth_blockNumber')));
  const progress = await waitFor('the sync to catch up', async () => {
    const p = await handle.query(syncProgressQuery);
    return p.cursor === head && p.status === 'caught-up' ? p : undefined;
  }, { timeoutMs: 120_000 });
  const report = (await env.client.workflow.execute('verify', { workflowId: verifyWorkflowId(CHAIN_ID, 0, head), taskQueue: 'soak', args: [{ chainId: CHAIN_ID, from: 0, to: head }] })) as VerifyReport;
  const differences = [...report.differences, ...(await diffWithChain(database.db, anvil.rpcUrl, CHAIN_ID, 0, head))];
  const integrity = await findIntegrityProblems(database.db, CHAIN_ID);
  const verdict = { seconds: SECONDS, blocks: head + 1, reorgsInjected: reorgs, reorgDepths: depths.join(','), reorgsHandled: progress.reorgs, verifyCheckedBlocks: report.checkedBlocks, verifyDifferences: report.differenceCount, oracleDifferences: differences.length - report.differences.length, integrityProblems: integrity.length, firstDifferences: [...differences, ...integrity].slice(0, 5) };
  console.log(JSON.stringify(verdict));
  exitCode = differences.length + integrity.length === 0 ? 0 : 1;
} finally {
  await worker.stop();
  await env.teardown();
  await anvil.stop();
  await database.drop();
}
process.exit(exitCode);
