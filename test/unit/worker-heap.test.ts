import { describe, expect, it } from 'vitest';
import { HEAP_GROWING_PERCENT, limitHeapGrowth } from '../../src/worker.js';

describe('src/worker.ts limitHeapGrowth()', () => {
  it('leaves the heap growth alone when the process was started with --heap-growing-percent', () => {
    expect(limitHeapGrowth(HEAP_GROWING_PERCENT, ['--enable-source-maps', '--heap-growing-percent=20'])).toBe(false);
  });

  it('sets it otherwise (0 here: V8 default, so this test process keeps its own behaviour)', () => {
    expect(limitHeapGrowth(0, ['--enable-source-maps'])).toBe(true);
  });

  it('the worker default is 75 %', () => {
    expect(HEAP_GROWING_PERCENT).toBe(75);
  });
});
