import { describe, expect, it } from 'vitest';
import { RpcBadResponseError } from '../../../src/errors.js';
import { verifyRoots, type RootsVerdict } from '../../../src/rpc/verify-roots.js';
import { RECORDED_BLOCKS, loadRecorded } from '../../fixtures/recorded-blocks.js';

const LABEL = 'rpc.example.com#1';
const ALL = ['transactionsRoot', 'receiptsRoot', 'withdrawalsRoot'] as const;
const OP_ISTHMUS = 'withdrawalsRoot: on OP Stack chains since Isthmus it is the L2ToL1MessagePasser storage root';
const CRONOS = 'Cronos (Ethermint): the header roots are not Ethereum tries of the returned transactions and receipts';

/**
 * The header proof of every recorded block with full transactions (test/fixtures, PROVENANCE.md),
 * with the recorded receipts where there are any (blocks without them: receiptsRoot unchecked).
 */
const EXPECTED: Record<string, RootsVerdict> = {
  'ethereum/18000000': { status: 'verified', roots: [...ALL] },
  'ethereum/4369999': { status: 'verified', roots: ['transactionsRoot', 'receiptsRoot'] }, // pre-Byzantium receipts: `root`
  'ethereum/483920': { status: 'verified', roots: ['transactionsRoot', 'receiptsRoot'] }, // Parity shapes: no type, null chainId/status
  'polygon/50000000': { status: 'verified', roots: ['transactionsRoot', 'receiptsRoot'] },
  'arbitrum-one/150000000': { status: 'not-verifiable', reason: 'transactionsRoot: transaction type 0x6a has no known encoding', roots: ['receiptsRoot'] },
  'optimism/154497277': { status: 'not-verifiable', reason: OP_ISTHMUS, roots: ['transactionsRoot', 'receiptsRoot'] }, // deposit 0x7e + receipts with depositNonce
  'optimism-legacy/14930491': { status: 'verified', roots: ['transactionsRoot', 'receiptsRoot'] }, // legacy OVM
  'optimism-sepolia/4089330': { status: 'verified', roots: [...ALL] }, // Ecotone: withdrawals [] and the empty root
  'hyperliquid/50000': { status: 'verified', roots: [...ALL] },
  'tempo/17708868': { status: 'not-verifiable', reason: 'transactionsRoot: transaction type 0x76 has no known encoding', roots: ['receiptsRoot', 'withdrawalsRoot'] },
  'hedera/97395350': { status: 'not-verifiable', reason: 'Hedera (JSON-RPC relay): the header roots are not Ethereum tries of the returned transactions and receipts', roots: [] },
  'cronos/11446765': { status: 'not-verifiable', reason: CRONOS, roots: [] },
  'cronos/6541': { status: 'not-verifiable', reason: CRONOS, roots: [] },
  'cronos/6542': { status: 'not-verifiable', reason: CRONOS, roots: [] },
  'ethereum/19900000': { status: 'verified', roots: ['transactionsRoot', 'withdrawalsRoot'] }, // blob type 3
  'ethereum/22780451': { status: 'verified', roots: ['transactionsRoot', 'withdrawalsRoot'] }, // types 0-4
  'ethereum/25139942': { status: 'verified', roots: ['transactionsRoot', 'withdrawalsRoot'] }, // seven EIP-7702
  'gnosis/20000000': { status: 'verified', roots: ['transactionsRoot'] },
  'gnosis/40000000': { status: 'verified', roots: ['transactionsRoot', 'withdrawalsRoot'] },
  'zora/49513698': { status: 'not-verifiable', reason: OP_ISTHMUS, roots: ['transactionsRoot'] },
  'stable/14692806': { status: 'verified', roots: ['transactionsRoot', 'withdrawalsRoot'] },
  'polygon/135808': { status: 'verified', roots: ['transactionsRoot'] }, // the state-sync transaction is not in the trie
};

const load = (name: string) => {
  const recorded = RECORDED_BLOCKS.find((b) => b.name === name)!;
  return { chainId: recorded.chainId, ...loadRecorded(recorded) };
};

describe('src/rpc/verify-roots.ts', () => {
  it('covers every recorded block with full transactions', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(RECORDED_BLOCKS.map((b) => b.name).sort());
  });

  it.each(Object.entries(EXPECTED))('verifyRoots() on recorded %s gives the expected verdict', async (name, expected) => {
    const { chainId, block, receipts } = load(name);
    expect(await verifyRoots(chainId, block, receipts, LABEL)).toEqual(expected);
  });

  it('verifyRoots() refuses ethereum block 18000000 with one transaction value changed, naming the block and transactionsRoot', async () => {
    const { block, receipts } = load('ethereum/18000000');
    block.transactions[5]!.value = '0x1';
    const run = verifyRoots(1, block, receipts, LABEL);
    await expect(run).rejects.toBeInstanceOf(RpcBadResponseError);
    await expect(run).rejects.toThrow(
      `${LABEL}: block 18000000: transactionsRoot mismatch: the header has ${block.transactionsRoot}, the 94 transactions give 0x`,
    );
  });

  it('verifyRoots() refuses ethereum block 18000000 with one log topic changed, naming the block and receiptsRoot', async () => {
    const { block, receipts } = load('ethereum/18000000');
    const log = receipts!.find((r) => r.logs.length > 0)!.logs[0]!;
    log.topics[0] = `0x${'00'.repeat(32)}`;
    await expect(verifyRoots(1, block, receipts, LABEL)).rejects.toThrow(
      `${LABEL}: block 18000000: receiptsRoot mismatch: the header has ${block.receiptsRoot}, the 94 receipts give 0x`,
    );
  });

  it('verifyRoots() refuses ethereum block 18000000 with a withdrawal amount changed, or its withdrawals left out, naming withdrawalsRoot', async () => {
    const changed = load('ethereum/18000000');
    changed.block.withdrawals![3]!.amount = '0x1';
    await expect(verifyRoots(1, changed.block, changed.receipts, LABEL)).rejects.toThrow(`${LABEL}: block 18000000: withdrawalsRoot mismatch: the header has ${changed.block.withdrawalsRoot}, the 16 withdrawals give 0x`);
    const dropped = load('ethereum/18000000');
    delete dropped.block.withdrawals;
    await expect(verifyRoots(1, dropped.block, dropped.receipts, LABEL)).rejects.toThrow(`${LABEL}: block 18000000: withdrawalsRoot mismatch: the header has ${dropped.block.withdrawalsRoot}, the 0 withdrawals give 0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421`);
  });

  it('verifyRoots() refuses a missing receipt, an extra receipt, a changed type 4 authorization and an unknown type on Ethereum', async () => {
    const missing = load('ethereum/18000000');
    const gone = missing.receipts!.pop()!;
    await expect(verifyRoots(1, missing.block, missing.receipts, LABEL)).rejects.toThrow(`${LABEL}: block 18000000: receiptsRoot cannot be recomputed: no receipt for transaction ${gone.transactionHash}`);
    const extra = load('ethereum/18000000');
    extra.receipts!.push({ ...extra.receipts![0]!, transactionHash: `0x${'ab'.repeat(32)}` });
    await expect(verifyRoots(1, extra.block, extra.receipts, LABEL)).rejects.toThrow(`${LABEL}: block 18000000: receiptsRoot cannot hold receipt 0x${'ab'.repeat(32)}: no transaction of the block has it`);
    const auth = load('ethereum/25139942');
    const tx = auth.block.transactions.find((t) => t.type === '0x4')!;
    (tx.authorizationList as { nonce: string }[])[0]!.nonce = '0x7';
    await expect(verifyRoots(1, auth.block, null, LABEL)).rejects.toThrow(`${LABEL}: block 25139942: transactionsRoot mismatch`);
    const unknown = load('ethereum/18000000');
    unknown.block.transactions[0]!.type = '0x6a';
    await expect(verifyRoots(1, unknown.block, unknown.receipts, LABEL)).rejects.toThrow(`${LABEL}: block 18000000: transactionsRoot cannot hold transaction type 0x6a on chain 1`);
  });

  it('verifyRoots() refuses a transaction field that is not hex, naming the block and root', async () => {
    const { block, receipts } = load('ethereum/18000000');
    block.transactions[0]!.nonce = '12' as `0x${string}`;
    await expect(verifyRoots(1, block, receipts, LABEL)).rejects.toThrow(`${LABEL}: block 18000000: transactionsRoot cannot be recomputed: not a hex quantity: "12"`);
  });

  it('verifyRoots() refuses a tampered OP deposit (mint changed) on OP Mainnet block 154497277', async () => {
    const { chainId, block, receipts } = load('optimism/154497277');
    block.transactions[0]!.mint = '0x5';
    await expect(verifyRoots(chainId, block, receipts, LABEL)).rejects.toThrow(`${LABEL}: block 154497277: transactionsRoot mismatch`);
  });

  it('verifyRoots() calls receipts with an unknown type whose root differs not verifiable (their encoding may differ), not a bad response', async () => {
    const { chainId, block, receipts } = load('arbitrum-one/150000000');
    const standard = receipts!.find((r) => r.type === '0x2')!;
    standard.status = standard.status === '0x1' ? '0x0' : '0x1';
    expect(await verifyRoots(chainId, block, receipts, LABEL)).toEqual({
      status: 'not-verifiable',
      reason: 'transactionsRoot: transaction type 0x6a has no known encoding; receiptsRoot: receipts of type 0x6a are encoded differently',
      roots: [],
    });
  });

  it('verifyRoots() calls a root the header sends as zeros not verifiable', async () => {
    const { block, receipts } = load('hyperliquid/50000');
    block.receiptsRoot = `0x${'00'.repeat(32)}`;
    expect(await verifyRoots(999, block, receipts, LABEL)).toEqual({
      status: 'not-verifiable',
      reason: 'receiptsRoot: the header has none (missing or all zeros)',
      roots: ['transactionsRoot', 'withdrawalsRoot'],
    });
  });
});
