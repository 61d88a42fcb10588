import { describe, expect, it } from 'vitest';
import { toRpcBundle, type StoredBlockRows } from '../../../src/db/export-block.js';
import { rowsWithBuffers, toBatchRows, type BatchRows } from '../../../src/db/rows.js';
import { RECORDED_BLOCKS, diffWithRecording, loadRecorded, type RecordedBlock } from '../../fixtures/recorded-blocks.js';

/** Parses JSON text as pg parses a jsonb column. */
const parsed = (value: string | null | undefined): unknown => (typeof value === 'string' ? JSON.parse(value) : null);

/**
 * The rows of `toBatchRows` as Postgres would give them back: bytea as Buffers, jsonb columns
 * parsed (every other column already has its read type: decimal string, number, boolean).
 */
function asStored(batch: BatchRows): StoredBlockRows {
  const rows = {
    blocks: rowsWithBuffers(batch.blocks), transactions: rowsWithBuffers(batch.transactions),
    logs: rowsWithBuffers(batch.logs), withdrawals: rowsWithBuffers(batch.withdrawals),
  };
  return {
    block: { ...rows.blocks[0]!, extra: parsed(rows.blocks[0]!.extra) } as StoredBlockRows['block'],
    transactions: rows.transactions.map((t) => ({
      ...t, extra: parsed(t.extra), receipt_extra: parsed(t.receipt_extra), access_list: parsed(t.access_list), authorization_list: parsed(t.authorization_list),
    })) as StoredBlockRows['transactions'],
    logs: rows.logs.map((l) => ({ ...l, extra: parsed(l.extra) })) as StoredBlockRows['logs'],
    withdrawals: rows.withdrawals.map((w) => ({ ...w, extra: parsed(w.extra) })) as StoredBlockRows['withdrawals'],
  };
}

/** Stores `recorded` as rows (no database) and exports it again; receipts [] when none were recorded. */
function roundTrip(recorded: RecordedBlock) {
  const { block, receipts } = loadRecorded(recorded);
  const exported = toRpcBundle(asStored(toBatchRows(recorded.chainId, [{ block, receipts: receipts ?? [] }])));
  const diffs = [...diffWithRecording(block, exported.block, 'block'), ...(receipts ? diffWithRecording(receipts, exported.receipts, 'receipts') : [])];
  return { block, receipts, exported, diffs };
}

const byName = (name: string): RecordedBlock => RECORDED_BLOCKS.find((b) => b.name === name)!;
const table = (blocks: readonly RecordedBlock[]) => blocks.map((b) => [b.name, b] as const);

describe('src/db/export-block.ts', () => {
  it.each(table(RECORDED_BLOCKS.filter((b) => b.receiptsFile !== null)))(
    'toRpcBundle() rebuilds %s and its receipts from toBatchRows rows exactly as recorded, absent fields included',
    (_, recorded) => {
      expect(roundTrip(recorded).diffs).toEqual([]);
    },
  );

  // Recorded without receipts: only the block and its transactions can be compared.
  it.each(table(RECORDED_BLOCKS.filter((b) => b.receiptsFile === null)))(
    'toRpcBundle() rebuilds block-only %s exactly as recorded, with no receipts',
    (_, recorded) => {
      const { diffs, exported } = roundTrip(recorded);
      expect(diffs).toEqual([]);
      expect(exported.receipts).toEqual([]);
    },
  );

  it('toRpcBundle() leaves out what ethereum/483920 (Parity) left out: receipt from/to and log removed; keeps chainId/status sent as null', () => {
    const { exported } = roundTrip(byName('ethereum/483920'));
    expect(exported.receipts.map((r) => ['from' in r, 'to' in r, r.status])).toEqual(exported.receipts.map(() => [false, false, null]));
    expect(exported.receipts.flatMap((r) => r.logs.map((l) => 'removed' in l))).toEqual(exported.receipts.flatMap((r) => r.logs.map(() => false)));
    expect(exported.block.transactions.map((t) => t.chainId)).toEqual([null, null, null, null]);
  });

  it('toRpcBundle() leaves out the `to` of tempo/17708868\'s 0x76 transactions and keeps their receipts\' own `to`', () => {
    const { exported } = roundTrip(byName('tempo/17708868'));
    expect(exported.block.transactions.map((t) => [t.type, 'to' in t])).toEqual([['0x76', false], ['0x76', false], ['0x0', true]]);
    expect(exported.receipts[0]!.to).toBe('0x20c000000000000000000000b9537d11c60e8b50');
  });

  it('toRpcBundle() gives hedera/97395350 8 transactions and 9 receipts: the receipt listed twice (index 0xc) only among receipts', () => {
    const { exported } = roundTrip(byName('hedera/97395350'));
    expect(exported.block.transactions.map((t) => t.transactionIndex)).toEqual(['0x0', '0x1', '0x2', '0x3', '0x7', '0x8', '0x9', '0xe']);
    expect(exported.receipts.map((r) => r.transactionIndex)).toEqual(['0x0', '0x1', '0x2', '0x3', '0x7', '0x8', '0x9', '0xc', '0xe']);
    expect(exported.receipts[7]!.transactionHash).toBe(exported.receipts[5]!.transactionHash);
  });

  it('toRpcBundle() writes withdrawals: [] where a withdrawalsRoot is stored (zora) and no withdrawals field before Shanghai (polygon)', () => {
    expect(roundTrip(byName('zora/49513698')).exported.block.withdrawals).toEqual([]);
    expect('withdrawals' in roundTrip(byName('polygon/50000000')).exported.block).toBe(false);
  });

  describe('refuses rows that contradict each other with DbIntegrityError', () => {
    const ethereum = () => {
      const { block, receipts } = loadRecorded(byName('ethereum/18000000'));
      return asStored(toBatchRows(1, [{ block, receipts: receipts! }]));
    };

    it('toRpcBundle() throws when transaction_count differs from the stored transaction rows', () => {
      const rows = ethereum();
      rows.transactions.pop();
      expect(() => toRpcBundle(rows, 'chain 1 block 18000000')).toThrow(expect.objectContaining({
        name: 'DbIntegrityError', message: 'chain 1 block 18000000: transaction_count is 94 but 93 transaction rows are stored',
      }));
    });

    it('toRpcBundle() throws when a log has no stored receipt', () => {
      const rows = ethereum();
      rows.logs[0] = { ...rows.logs[0]!, transaction_hash: Buffer.alloc(32, 0xab), transaction_index: 500 };
      expect(() => toRpcBundle(rows)).toThrow(expect.objectContaining({
        name: 'DbIntegrityError', message: `block 18000000: log 0 of transaction 0x${'ab'.repeat(32)} has no stored receipt`,
      }));
    });

    it('toRpcBundle() throws when a receipt\'s log_count differs from its stored logs', () => {
      const rows = ethereum();
      const withLogs = rows.transactions.findIndex((t) => t.log_count > 0);
      rows.transactions[withLogs] = { ...rows.transactions[withLogs]!, log_count: rows.transactions[withLogs]!.log_count + 1 };
      expect(() => toRpcBundle(rows)).toThrow(expect.objectContaining({
        name: 'DbIntegrityError', message: expect.stringMatching(/^block 18000000: receipt 0x[0-9a-f]{64} has log_count \d+ but \d+ logs are stored$/),
      }));
    });
  });
});
