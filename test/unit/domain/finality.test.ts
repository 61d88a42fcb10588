import { describe, it, expect } from 'vitest';
import { confirmedHead, syncTarget, type ChainHead, type Finality } from '../../../src/domain/finality.js';

describe('src/domain/finality.ts', () => {
  const cases: { head: number; depth: number; want: number }[] = [
    { head: 100, depth: 12, want: 88 },
    { head: 100, depth: 0, want: 100 },
    { head: 12, depth: 12, want: 0 },
    { head: 11, depth: 12, want: -1 },
    { head: 0, depth: 12, want: -1 },
    { head: 0, depth: 0, want: 0 },
  ];
  for (const c of cases) {
    it(`confirmedHead() returns ${c.want} for head ${c.head} and depth ${c.depth}`, () => {
      expect(confirmedHead(c.head, c.depth)).toBe(c.want);
    });
  }
});

describe('src/domain/finality.ts', () => {
  const head = (safe: number | null, finalized: number | null, latest = 1000): ChainHead => ({
    head: latest,
    headHash: '0x' + 'ab'.repeat(32),
    safeBlockNumber: safe,
    finalizedBlockNumber: finalized,
  });
  const cases: {
    name: string;
    chainHead: ChainHead;
    finality: Finality;
    depth: number;
    want: { target: number; usedFallback: boolean };
  }[] = [
    { name: 'uses head − depth for depth finality', chainHead: head(990, 950), finality: 'depth', depth: 12, want: { target: 988, usedFallback: false } },
    { name: 'ignores reported tags for depth finality', chainHead: head(null, null), finality: 'depth', depth: 12, want: { target: 988, usedFallback: false } },
    { name: 'returns -1 for depth finality when the chain is shorter than the depth', chainHead: head(null, null, 5), finality: 'depth', depth: 12, want: { target: -1, usedFallback: false } },
    { name: 'uses the finalized tag for finalized finality', chainHead: head(990, 950), finality: 'finalized', depth: 12, want: { target: 950, usedFallback: false } },
    { name: 'uses the safe tag for safe finality', chainHead: head(990, 950), finality: 'safe', depth: 12, want: { target: 990, usedFallback: false } },
    { name: 'accepts a finalized tag of 0', chainHead: head(0, 0), finality: 'finalized', depth: 12, want: { target: 0, usedFallback: false } },
    { name: 'falls back to head − depth when finalized is null', chainHead: head(990, null), finality: 'finalized', depth: 12, want: { target: 988, usedFallback: true } },
    { name: 'falls back to head − depth when safe is null', chainHead: head(null, 950), finality: 'safe', depth: 12, want: { target: 988, usedFallback: true } },
    { name: 'falls back to -1 when the tag is null and the chain is shorter than the depth', chainHead: head(null, null, 3), finality: 'safe', depth: 12, want: { target: -1, usedFallback: true } },
    { name: 'clamps a finalized tag above head to head', chainHead: head(990, 1005), finality: 'finalized', depth: 12, want: { target: 1000, usedFallback: false } },
    { name: 'clamps a safe tag above head to head', chainHead: head(1002, 950), finality: 'safe', depth: 12, want: { target: 1000, usedFallback: false } },
  ];
  for (const c of cases) {
    it(`syncTarget() ${c.name}`, () => {
      expect(syncTarget(c.chainHead, c.finality, c.depth)).toEqual(c.want);
    });
  }
});
