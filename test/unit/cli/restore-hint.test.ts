/**
 * The backfill `verify` suggests for the differences it found (pure).
 */
import { describe, expect, it } from 'vitest';
import { restoreHint } from '../../../src/client.js';

const CLIENT = 'npx tsx src/client.ts';

describe('restoreHint()', () => {
  it('nothing when verify found no difference', () => {
    expect(restoreHint({ chainId: 1, from: 0, to: 9, differenceCount: 0, differences: [] }, CLIENT)).toBeNull();
  });

  it('the blocks the listed differences name, lowest to highest (numbers with thousands separators too)', () => {
    expect(restoreHint({ chainId: 31337, from: 0, to: 2_000, differenceCount: 3, differences: ['block 1,205: 0 transactions in the database, 2 on the chain', 'block 202: 0 logs in the database, 1 on the chain', 'block 4: missing in the database'] }, CLIENT))
      .toBe('to re-store them: npx tsx src/client.ts backfill --chain-id 31337 --from 4 --to 1205');
  });

  it('the whole verified range when some differences were not listed, or one names no block', () => {
    expect(restoreHint({ chainId: 10, from: 100, to: 900, differenceCount: 30, differences: ['block 200: missing in the database'] }, CLIENT))
      .toBe('to re-store them: npx tsx src/client.ts backfill --chain-id 10 --from 100 --to 900');
    expect(restoreHint({ chainId: 10, from: 100, to: 900, differenceCount: 1, differences: ['something else'] }, 'evm-indexer'))
      .toBe('to re-store them: evm-indexer backfill --chain-id 10 --from 100 --to 900');
  });
});
