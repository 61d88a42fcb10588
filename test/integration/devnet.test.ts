/**
 * Integration test of `test/support/devnet.ts` against a real anvil: generateTraffic() mines exactly the
 * blocks, transaction types, logs, reverted receipt and empty blocks it promises, read back through viem.
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublicClient, http, parseUnits, zeroAddress, type Hex, type PublicClient } from 'viem';
import { DEV_ACCOUNTS, TOKEN_ABI, generateTraffic, startAnvil, type Anvil, type TrafficSummary } from '../support/devnet.js';

/** Budget for starting anvil and mining the traffic, in ms; both take about a second. */
const SETUP_TIMEOUT_MS = 60_000;
/** ERC-20 transfers sent one per block; the test pins it so every count below is exact. */
const TOKEN_TRANSFER_COUNT = 3;
/** Empty blocks mined at the end. */
const EMPTY_BLOCK_COUNT = 3;

const require = createRequire(import.meta.url);
const artifact = require('@openzeppelin/contracts/build/contracts/ERC20PresetFixedSupply.json') as { deployedBytecode: Hex };
const [owner, alice, bob, carol] = DEV_ACCOUNTS.map((account) => account.address);

describe('generateTraffic() on a fresh anvil', () => {
  let anvil: Anvil | undefined;
  let client: PublicClient;
  let summary: TrafficSummary;

  beforeAll(async () => {
    anvil = await startAnvil({});
    client = createPublicClient({ transport: http(anvil.rpcUrl, { retryCount: 0 }) });
    summary = await generateTraffic(anvil.rpcUrl, { tokenTransferCount: TOKEN_TRANSFER_COUNT, emptyBlockCount: EMPTY_BLOCK_COUNT });
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await anvil?.stop();
  });

  const blocksInRange = () => Promise.all(
    Array.from({ length: summary.toBlock - summary.fromBlock + 1 }, (_, i) =>
      client.getBlock({ blockNumber: BigInt(summary.fromBlock + i), includeTransactions: true })),
  );

  it('mines blocks 1..13 with 13 transactions and the head at 13', async () => {
    expect([summary.fromBlock, summary.toBlock, summary.txCount]).toEqual([1, 13, 13]);
    expect(await client.getBlockNumber({ cacheTime: 0 })).toBe(13n);
    const blocks = await blocksInRange();
    expect(blocks.map((block) => block.transactions.length)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 4, 1, 0, 0, 0]);
    expect(blocks.flatMap((block) => block.transactions.map((tx) => tx.hash)).sort()).toEqual([...summary.txHashes].sort());
  });

  it('sends transaction types 0x0, 0x1 with an access list and 0x2', async () => {
    const blocks = await blocksInRange();
    const types = new Set(blocks.flatMap((block) => block.transactions.map((tx) => tx.typeHex)));
    expect([...types].sort()).toEqual(['0x0', '0x1', '0x2']);
    const { legacy, eip2930, eip1559 } = summary.typedTransferHashes;
    expect((await client.getTransaction({ hash: legacy })).typeHex).toBe('0x0');
    const accessListTx = await client.getTransaction({ hash: eip2930 });
    expect([accessListTx.typeHex, accessListTx.accessList?.length]).toEqual(['0x1', 1]);
    expect((await client.getTransaction({ hash: eip1559 })).typeHex).toBe('0x2');
  });

  it('deploys the OpenZeppelin 4.9.6 ERC20PresetFixedSupply runtime code in block 4', async () => {
    expect(await client.getCode({ address: summary.tokenAddress })).toBe(artifact.deployedBytecode);
    const receipt = await client.getTransactionReceipt({ hash: summary.tokenDeployTxHash });
    expect([receipt.blockNumber, receipt.contractAddress]).toEqual([4n, summary.tokenAddress]);
  });

  it('mines the reverting transfer in block 10 with status reverted and no logs', async () => {
    const receipt = await client.getTransactionReceipt({ hash: summary.revertedTxHash });
    expect([receipt.status, receipt.blockNumber, receipt.logs.length]).toEqual(['reverted', 10n, 0]);
  });

  it('emits 6 Transfer logs (mint, 3 transfers, transferFrom and transfer in block 9) and 2 Approval logs', async () => {
    const range = { address: summary.tokenAddress, fromBlock: BigInt(summary.fromBlock), toBlock: BigInt(summary.toBlock) };
    const transfers = await client.getContractEvents({ ...range, abi: TOKEN_ABI, eventName: 'Transfer' });
    expect(transfers).toHaveLength(1 + TOKEN_TRANSFER_COUNT + 2);
    expect(transfers.length).toBe(summary.tokenTransferLogCount);
    expect(transfers.map((log) => [log.blockNumber, log.args.from, log.args.to, log.args.value])).toEqual([
      [4n, zeroAddress, owner, parseUnits('1000000', 18)],
      [5n, owner, alice, parseUnits('100', 18)],
      [6n, owner, bob, parseUnits('200', 18)],
      [7n, owner, carol, parseUnits('300', 18)],
      [9n, owner, bob, parseUnits('50', 18)],
      [9n, owner, carol, parseUnits('25', 18)],
    ]);
    const approvals = await client.getContractEvents({ ...range, abi: TOKEN_ABI, eventName: 'Approval' });
    expect(approvals.map((log) => [log.blockNumber, log.args.value])).toEqual([
      [8n, parseUnits('500', 18)],
      [9n, parseUnits('450', 18)],
    ]);
    expect(approvals.length).toBe(summary.tokenApprovalLogCount);
  });

  it('mines 4 transactions from 4 senders in block 9', async () => {
    const block = await client.getBlock({ blockNumber: BigInt(summary.multiTxBlockNumber), includeTransactions: true });
    expect([summary.multiTxBlockNumber, summary.multiTxCount]).toEqual([9, 4]);
    expect(block.transactions.map((tx) => tx.from).sort()).toEqual([owner, alice, bob, carol].map((a) => a?.toLowerCase()).sort());
  });

  it('mines blocks 11..13 with 0 transactions', async () => {
    expect(summary.emptyBlockNumbers).toEqual([11, 12, 13]);
    for (const blockNumber of summary.emptyBlockNumbers) {
      expect((await client.getBlock({ blockNumber: BigInt(blockNumber) })).transactions).toHaveLength(0);
    }
  });
});
