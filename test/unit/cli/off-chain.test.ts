/**
 * The note `start` prints when the stored cursor is not on the chain the endpoints serve (pure).
 */
import { describe, expect, it } from 'vitest';
import { offChainNote } from '../../../src/cli/off-chain.js';

const STORED = '0xc0e8000000000000000000000000000000000000000000000000000000000001';
const THEIRS = '0x9c91000000000000000000000000000000000000000000000000000000000002';
const ROLLS_BACK = "if the workers' endpoints serve the same, the sync first rolls back the stored blocks above the common ancestor";

describe('offChainNote()', () => {
  it('says nothing when the chain has the stored block, when it is unknown, or when no hash is stored', () => {
    expect(offChainNote({ blockNumber: 1_234, blockHash: STORED }, STORED)).toBe('');
    expect(offChainNote({ blockNumber: 1_234, blockHash: STORED.toUpperCase().replace('0X', '0x') }, STORED)).toBe('');
    expect(offChainNote({ blockNumber: 1_234, blockHash: STORED }, undefined)).toBe('');
    expect(offChainNote({ blockNumber: 1_234, blockHash: null }, THEIRS)).toBe('');
  });

  it('a chain without the block: a reset chain or an endpoint behind, which the sync waits for', () => {
    expect(offChainNote({ blockNumber: 1_234, blockHash: STORED }, null))
      .toBe("note: the stored cursor 1,234 is not on the chain the endpoints serve (it has no block 1,234 yet: a reset chain, such as a new devnet, or an endpoint behind it): if the workers' endpoints serve the same, the sync waits for them to reach block 1,234, and rolls back the stored blocks above the common ancestor as soon as one they serve has another hash");
  });

  it('another block at that number: both hashes, a reset chain or a reorg deeper than the confirmation depth', () => {
    expect(offChainNote({ blockNumber: 1_234, blockHash: STORED }, THEIRS))
      .toBe(`note: the stored cursor 1,234 is not on the chain the endpoints serve (its block 1,234 is ${THEIRS}, stored ${STORED}: a reset chain, such as a new devnet, or a reorg deeper than the confirmation depth): ${ROLLS_BACK}`);
  });
});
