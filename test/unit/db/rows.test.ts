import { describe, it, expect } from 'vitest';
import { toBatchRows } from '../../../src/db/rows.js';
import type { BlockBundle, RpcBlock, RpcReceipt } from '../../../src/rpc/types.js';
import { fixture } from '../fixture.js';
import { RECORDED_BLOCKS, loadRecorded } from '../../fixtures/recorded-blocks.js';


const ethBundle = (): BlockBundle => ({
  block: fixture<RpcBlock>('ethereum/block-18000000-shanghai-full-txs.json'),
  receipts: fixture<RpcReceipt[]>('ethereum/receipts-18000000-eth_getBlockReceipts.json'),
});
const hederaBundle = (): BlockBundle => ({
  block: fixture<RpcBlock>('hedera/block-97395350-full-txs.json'),
  receipts: fixture<RpcReceipt[]>('hedera/receipts-97395350-more-receipts-than-txs.json'),
});

const ETH_HASH = '0x95b198e154acbfc64109dfd22d8224fe927fd8dfdedfae01587674482ba4baf3';
const TX5_HASH = '0xc6b97ff1b5f5e3c6c8265371f59685e49b19aece2ae16ccf4ecec0b92a5882bd';

describe('src/db/rows.ts', () => {
  it('toBatchRows() turns ethereum 18000000 into 1 block, 94 transactions, 291 logs and 16 withdrawals', () => {
    const bundle = ethBundle();
    const rows = toBatchRows(1, [bundle]);
    const logsInReceipts = bundle.receipts.reduce((sum, r) => sum + r.logs.length, 0);
    expect(logsInReceipts).toBe(291);
    expect({
      blocks: rows.blocks.length,
      transactions: rows.transactions.length,
      logs: rows.logs.length,
      withdrawals: rows.withdrawals.length,
    }).toEqual({ blocks: 1, transactions: 94, logs: logsInReceipts, withdrawals: 16 });
  });

  it('toBatchRows() gives ethereum 18000000 log rows log_index 0..290 in order and transaction rows index 0..93', () => {
    const rows = toBatchRows(1, [ethBundle()]);
    expect(rows.logs.map((l) => l.log_index)).toEqual(Array.from({ length: 291 }, (_, i) => i));
    expect(rows.transactions.map((t) => t.transaction_index)).toEqual(Array.from({ length: 94 }, (_, i) => i));
    expect(rows.transactions.every((t) => t.in_block_list)).toBe(true);
  });

  it('toBatchRows() sums receipt logs into each transaction row\'s log_count', () => {
    const bundle = ethBundle();
    const rows = toBatchRows(1, [bundle]);
    expect(rows.transactions.map((t) => t.log_count)).toEqual(bundle.receipts.map((r) => r.logs.length));
  });

  it('toBatchRows() fills the block row of ethereum 18000000 with the recorded values', () => {
    const [block] = toBatchRows(1, [ethBundle()]).blocks;
    expect(block).toMatchObject({
      chain_id: 1,
      number: 18_000_000,
      hash: ETH_HASH,
      parent_hash: '0x198723e0ddf20153951c6304093cbd97fd306c5db03287c5586c0430a986080d',
      timestamp: 1_693_066_895,
      gas_limit: '30000000',
      gas_used: '16247211',
      base_fee_per_gas: '21721091641',
      difficulty: '0',
      total_difficulty: null,
      size: 289_190,
      nonce: '0x0000000000000000',
      blob_gas_used: null,
      excess_blob_gas: null,
      parent_beacon_block_root: null,
      uncles: [],
      transaction_count: 94,
      extra: null,
    });
    expect(block!.logs_bloom).toHaveLength(2 + 2 * 256); // 256 bytes as 0x hex
  });

  it('toBatchRows() converts transaction 5 of ethereum 18000000 and its receipt column by column', () => {
    const rows = toBatchRows(1, [ethBundle()]);
    expect(rows.transactions[5]).toEqual({
      chain_id: 1,
      block_number: 18_000_000,
      block_hash: ETH_HASH,
      transaction_index: 5,
      hash: TX5_HASH,
      type: 2,
      nonce: '7315847',
      from_address: '0x21a31ee1afc51d94c2efccaa2092ad1028285549',
      to_address: '0x45b480e4d5781f3ecc331b459f58422590195b38',
      value: '834688970000000000',
      gas: '207128',
      gas_price: '23721091641',
      max_fee_per_gas: '102000000000',
      max_priority_fee_per_gas: '2000000000',
      max_fee_per_blob_gas: null,
      blob_versioned_hashes: null,
      input: '0x',
      signed_chain_id: '1',
      v: '1',
      r: '84516114477879140585807611227029025565267171227808527928605442866754542469204',
      s: '21540916007542597541419891697689468351552335559083094487028770614414811392321',
      y_parity: 1,
      access_list: '[]',
      authorization_list: null,
      extra: null,
      status: 1,
      root: null,
      gas_used: '21000',
      cumulative_gas_used: '2997537',
      effective_gas_price: '23721091641',
      contract_address: null,
      receipt_logs_bloom: `0x${'00'.repeat(256)}`,
      blob_gas_used: null,
      blob_gas_price: null,
      receipt_type: 2,
      receipt_extra: null,
      log_count: 0,
      in_block_list: true,
    });
  });

  it('toBatchRows() converts the first log of ethereum 18000000, keeping the unknown blockTimestamp in extra', () => {
    const rows = toBatchRows(1, [ethBundle()]);
    expect(rows.logs[0]).toEqual({
      chain_id: 1,
      block_number: 18_000_000,
      block_hash: ETH_HASH,
      log_index: 0,
      transaction_hash: '0x16e199673891df518e25db2ef5320155da82a3dd71a677e7d84363251885d133',
      transaction_index: 0,
      address: '0xfd14567eaf9ba941cb8c8a94eec14831ca7fd1b4',
      topic0: '0xb8b9c39aeba1cfd98c38dfeebe11c2f7e02b334cbe9f05f22b442a5d9c1ea0c5',
      topic1: null,
      topic2: null,
      topic3: null,
      data: '0x01e14e6ce75f248c88ee1187bcf6c75f8aea18fbd3d927fe2d63947fcd8cb18c641569e8ee18f93c861576fe0c882e5c61a310ae8e400be6629561160d2a901f0619e35040579fa202bc3f84077a72266b2a4e744baa92b433497bc23d6aeda4',
      extra: '{"blockTimestamp":"0x64ea268f"}',
    });
    expect(rows.logs.every((l) => l.extra === '{"blockTimestamp":"0x64ea268f"}')).toBe(true);
  });

  it('toBatchRows() converts the first withdrawal of ethereum 18000000 (amount in gwei as a decimal string)', () => {
    const rows = toBatchRows(1, [ethBundle()]);
    expect(rows.withdrawals[0]).toEqual({
      chain_id: 1,
      block_number: 18_000_000,
      block_hash: ETH_HASH,
      position: 0,
      index: '15440780',
      validator_index: '673611',
      address: '0xd7a0b38496064412a8d6b1f77bc30ada93e7b7a5',
      amount: '15404368',
      extra: null,
    });
    expect(rows.withdrawals.map((w) => w.position)).toEqual(Array.from({ length: 16 }, (_, i) => i));
  });

  it('toBatchRows() puts unknown block, transaction and receipt fields in extra / receipt_extra', () => {
    const bundle = ethBundle();
    bundle.block.l1BlockNumber = '0x12d6875';
    bundle.block.transactions[5]!.sourceHash = `0x${'ab'.repeat(32)}`;
    bundle.receipts[5]!.gasUsedForL1 = '0x0';
    bundle.receipts[5]!.l1Fee = null;
    const rows = toBatchRows(1, [bundle]);
    expect(rows.blocks[0]!.extra).toBe('{"l1BlockNumber":"0x12d6875"}');
    expect(rows.transactions[5]!.extra).toBe(`{"sourceHash":"0x${'ab'.repeat(32)}"}`);
    expect(rows.transactions[5]!.receipt_extra).toBe('{"gasUsedForL1":"0x0","l1Fee":null}');
    expect(rows.transactions[4]!.extra).toBe(null);
  });

  it('toBatchRows() keeps a "__proto__" field as any unknown field (it set the prototype of extra, and was lost)', () => {
    const bundle: BlockBundle = JSON.parse(JSON.stringify(ethBundle()).replace('"logIndex":"0x0",', '"logIndex":"0x0","__proto__":{"x":1},'));
    const rows = toBatchRows(1, [bundle]);
    expect(rows.logs[0]!.extra).toBe('{"__proto__":{"x":1},"blockTimestamp":"0x64ea268f"}');
    expect(rows.logs[1]!.extra).toBe('{"blockTimestamp":"0x64ea268f"}');
  });

  it('toBatchRows() keeps a standard quantity that is not hex (value "1000") in extra and leaves the column null', () => {
    const bundle = ethBundle();
    bundle.block.transactions[5]!.value = '1000' as `0x${string}`;
    const row = toBatchRows(1, [bundle]).transactions[5]!;
    expect(row.value).toBe(null);
    expect(row.extra).toBe('{"value":"1000"}');
  });

  it('toBatchRows() reads hex quantities of every length and case exactly, and keeps malformed ones verbatim in extra', () => {
    const cases: [string, string | null][] = [
      ['0x0', '0'], ['0x00ff', '255'], ['0xAbC', '2748'], ['0xfffffffffffff', '4503599627370495'], // 13 digits: below 2^52
      ['0x10000000000000', '4503599627370496'], ['0x1fffffffffffff', '9007199254740991'], ['0x20000000000001', '9007199254740993'],
      [`0x${'f'.repeat(64)}`, (2n ** 256n - 1n).toString()],
      ['0x', null], ['0X10', null], ['0x1g', null], ['10', null], ['0x-1', null], [`0x${'f'.repeat(63)}g`, null],
    ];
    for (const [value, decimal] of cases) {
      const bundle = ethBundle();
      bundle.block.transactions[5]!.value = value as `0x${string}`;
      const row = toBatchRows(1, [bundle]).transactions[5]!;
      expect([value, row.value, row.extra]).toEqual([value, decimal, decimal === null ? JSON.stringify({ value }) : null]);
    }
    // Narrow columns: a value over the column's range is kept in extra (type is an integer column).
    for (const [type, stored] of [['0x2', 2], ['0x7fffffff', 2_147_483_647], ['0x80000000', null], ['0x2g', null]] as const) {
      const bundle = ethBundle();
      bundle.block.transactions[4]!.type = type as `0x${string}`;
      const row = toBatchRows(1, [bundle]).transactions[4]!;
      expect([type, row.type, row.extra]).toEqual([type, stored, stored === null ? JSON.stringify({ type }) : null]);
    }
  });

  it('toBatchRows() gives a listed transaction without a receipt null receipt columns and log_count 0', () => {
    const bundle = ethBundle();
    bundle.receipts.splice(5, 1);
    const row = toBatchRows(1, [bundle]).transactions[5]!;
    expect(row).toMatchObject({
      status: null, gas_used: null, cumulative_gas_used: null, effective_gas_price: null, receipt_logs_bloom: null,
      receipt_type: null, receipt_extra: null, log_count: 0, in_block_list: true,
    });
  });

  it('toBatchRows() stores a receipt whose transaction is not in the block list (Polygon state-sync) with in_block_list=false', () => {
    const receipt = fixture<{ result: RpcReceipt }>('polygon/receipt-67836608-state-sync-eth_getTransactionReceipt.json').result;
    const block = {
      number: receipt.blockNumber,
      hash: receipt.blockHash,
      parentHash: `0x${'00'.repeat(32)}`,
      timestamp: '0x0',
      logsBloom: receipt.logsBloom,
      transactions: [],
    } as unknown as RpcBlock;
    const rows = toBatchRows(137, [{ block, receipts: [receipt] }]);
    expect(rows.transactions).toHaveLength(1);
    expect(rows.transactions[0]).toMatchObject({
      chain_id: 137,
      block_number: 67_836_608,
      block_hash: '0xbaa03f17ce34d98fc687ea64b2be18d1e1d8028574823a73a9a4f1809808f085',
      transaction_index: 87,
      hash: '0xe4733eb7834d1e62a2ff484065f1fd07bbb8905c41c1ed963fa139a25cd683dd',
      from_address: '0x0000000000000000000000000000000000000000',
      nonce: null,
      value: null,
      input: null,
      gas_used: '0',
      status: 1,
      log_count: 2,
      in_block_list: false,
    });
    expect(rows.logs.map((l) => l.log_index)).toEqual([0x1f6, 0x1f7]);
  });

  it('toBatchRows() stores cronos 6541\'s phantom transaction with null receipt columns, the 6542 receipt verbatim in receipt_extra, and no logs', () => {
    const block = fixture<RpcBlock>('cronos/block-6541-phantom-tx.json');
    const receipts = fixture<RpcReceipt[]>('cronos/receipts-6541-as-captured-points-to-6542.json');
    const rows = toBatchRows(25, [{ block, receipts }]);
    expect(rows.logs).toEqual([]);
    expect(rows.transactions).toHaveLength(1);
    expect(rows.transactions[0]).toMatchObject({
      block_number: 6541, transaction_index: 0, hash: '0x5395ae4b9ee2816929fa0076f14e51a1f7d3c1427d0552d7d8792a84034c9442',
      status: null, gas_used: null, cumulative_gas_used: null, receipt_type: null, log_count: 0, in_block_list: true,
    });
    expect(JSON.parse(rows.transactions[0]!.receipt_extra!)).toEqual({ laterBlockReceipt: receipts[0] });
  });

  it('toBatchRows() lists the standard fields a Parity-era node left out under $absent (receipt from/to, log removed)', () => {
    const { block, receipts } = loadRecorded(RECORDED_BLOCKS.find((b) => b.name === 'ethereum/483920')!);
    const rows = toBatchRows(1, [{ block, receipts: receipts! }]);
    expect(rows.transactions.map((t) => JSON.parse(t.receipt_extra!))).toEqual(receipts!.map(() => ({ status: null, $absent: ['from', 'to'] })));
    expect(rows.logs.map((l) => JSON.parse(l.extra!))).toEqual([
      { transactionLogIndex: '0x0', type: 'mined', $absent: ['removed'] },
      { transactionLogIndex: '0x0', type: 'mined', $absent: ['removed'] },
    ]);
    expect(rows.transactions.map((t) => JSON.parse(t.extra!).$absent)).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('toBatchRows() keeps values too large for their column verbatim in extra and leaves the column null', () => {
    const bundle = ethBundle();
    const tx = bundle.block.transactions[5]!;
    tx.type = '0x80000000'; // 2^31: over `integer`
    tx.yParity = '0x8000'; // 2^15: over `smallint`
    tx.transactionIndex = '0x20000000000000'; // 2^53: over a JS safe integer
    bundle.receipts[5]!.transactionIndex = '0x20000000000000';
    bundle.receipts[5]!.status = '0x10000';
    bundle.receipts[5]!.type = '0xffffffffffffffffffff';
    bundle.block.size = '0x20000000000001';
    const rows = toBatchRows(1, [bundle]);
    const row = rows.transactions[5]!;
    expect([row.type, row.y_parity, row.transaction_index, row.status, row.receipt_type]).toEqual([null, null, 5, null, null]);
    expect(JSON.parse(row.extra!)).toEqual({ type: '0x80000000', yParity: '0x8000', transactionIndex: '0x20000000000000' });
    expect(JSON.parse(row.receipt_extra!)).toEqual({ status: '0x10000', type: '0xffffffffffffffffffff' });
    expect([rows.blocks[0]!.size, rows.blocks[0]!.extra]).toEqual([null, '{"size":"0x20000000000001"}']);
  });

  it('toBatchRows() keeps the largest values that fit in their columns: type 2^31−1, status and yParity 2^15−1, size 2^53−1', () => {
    const bundle = ethBundle();
    bundle.block.transactions[5]!.type = '0x7fffffff';
    bundle.block.transactions[5]!.yParity = '0x7fff';
    bundle.receipts[5]!.status = '0x7fff';
    bundle.receipts[5]!.type = '0x7fffffff';
    bundle.block.size = '0x1fffffffffffff';
    const rows = toBatchRows(1, [bundle]);
    const row = rows.transactions[5]!;
    expect([row.type, row.y_parity, row.status, row.receipt_type, row.extra, row.receipt_extra]).toEqual([2_147_483_647, 32_767, 32_767, 2_147_483_647, null, null]);
    expect([rows.blocks[0]!.size, rows.blocks[0]!.extra]).toEqual([9_007_199_254_740_991, null]);
  });

  describe('hedera 97395350: 9 receipts for 8 listed transactions, two receipts share hash 0xe305d666…', () => {
    const DUP = '0xe305d66622976449c160ac5c4322a62b11cadcbb0a07dd42186b965221a35d74';

    it('the hedera fixture holds the receipts of 0xe305d666… at transactionIndex 0x8 (status 0, WRONG_NONCE) and 0xc (status 1)', () => {
      const { block, receipts } = hederaBundle();
      expect(block.transactions.filter((t) => t.hash === DUP).map((t) => t.transactionIndex)).toEqual(['0x8']);
      expect(receipts.filter((r) => r.transactionHash === DUP).map((r) => [r.transactionIndex, r.status, r.gasUsed, r.revertReason])).toEqual([
        ['0x8', '0x0', '0x0', '0x57524f4e475f4e4f4e4345'],
        ['0xc', '0x1', '0x9459', undefined],
      ]);
    });

    it('toBatchRows() gives each of the 8 listed hedera transactions a row with in_block_list=true', () => {
      const rows = toBatchRows(295, [hederaBundle()]);
      const listed = rows.transactions.filter((t) => t.in_block_list);
      expect(listed.map((t) => t.transaction_index)).toEqual([0, 1, 2, 3, 7, 8, 9, 14]);
      expect(rows.logs).toEqual([]);
    });

    // Regression test (fixed bug; src/db/rows.ts:38-48): receipts are keyed by transactionHash only, so of two receipts with
    // the same hash the last one (transactionIndex 0xc) is joined to the listed tx and the other
    // is dropped; no receipt-only row is produced. Expected 9 transaction rows, the 9th with
    // in_block_list=false at transaction_index 12 (status 1, gas_used '37977'); actual 8 rows.
    it('toBatchRows() keeps the 9th hedera receipt (0xe305d666… at index 0xc) as a row with in_block_list=false', () => {
      const rows = toBatchRows(295, [hederaBundle()]);
      expect(rows.transactions).toHaveLength(9);
      expect(rows.transactions.find((t) => !t.in_block_list)).toMatchObject({
        transaction_index: 12,
        hash: DUP,
        status: 1,
        gas_used: '37977',
        in_block_list: false,
      });
    });

    // Regression test (fixed bug; same place): the listed tx 0xe305d666… (transactionIndex 0x8) gets the receipt recorded at
    // 0xc (status 1, gas_used '37977') instead of its own (status 0, gas_used '0'), and that
    // receipt's revertReason (WRONG_NONCE) is lost although rows.ts promises nothing is lost.
    it('toBatchRows() joins the listed hedera tx at index 8 with the receipt at transactionIndex 0x8', () => {
      const row = toBatchRows(295, [hederaBundle()]).transactions.find((t) => t.transaction_index === 8);
      expect(row).toMatchObject({
        hash: DUP,
        status: 0,
        gas_used: '0',
        receipt_extra: '{"revertReason":"0x57524f4e475f4e4f4e4345"}',
        in_block_list: true,
      });
    });
  });
});
