import { describe, expect, it } from 'vitest';
import { formatCount, formatCountOr } from '../../../src/domain/format-count.js';

describe('src/domain/format-count.ts', () => {
  const cases: [number, string][] = [
    [0, '0'],
    [999, '999'],
    [1000, '1,000'],
    [1_234_567, '1,234,567'],
    [18_000_099, '18,000,099'],
    [Number.MAX_SAFE_INTEGER, '9,007,199,254,740,991'],
    [-1, '-1'],
    [-12_345, '-12,345'],
    [1234.9, '1,234'],
  ];
  for (const [n, want] of cases) {
    it(`formatCount() prints ${n} as '${want}'`, () => {
      expect(formatCount(n)).toBe(want);
    });
  }

  it("formatCount() prints every integer as toLocaleString('en-US') does (what the CLI printed before)", () => {
    const integers = cases.map(([n]) => n).filter(Number.isInteger);
    expect(integers.map(formatCount)).toEqual(integers.map((n) => n.toLocaleString('en-US')));
  });

  const orCases: [number | null | undefined, string, string][] = [
    [null, '-', '-'],
    [undefined, '-', '-'],
    [null, '–', '–'],
    [0, '-', '0'],
    [-3, '–', '-3'],
    [1_000_000, '-', '1,000,000'],
  ];
  for (const [n, missing, want] of orCases) {
    it(`formatCountOr(${n}, '${missing}') prints '${want}'`, () => {
      expect(formatCountOr(n, missing)).toBe(want);
    });
  }
});
