import { describe, expect, it } from 'vitest';
import { limitHeapGrowth } from '../../src/worker.js';

describe('src/worker.ts limitHeapGrowth()', () => {
  it.each([
    ['--heap-growing-percent=20'],
    ['--heap_growing_percent=20'],
    ['--heap-growing_percent=0'],
    ['--heap-growing-percent'],
  ])('leaves the heap growth alone when the process was started with %s', (flag) => {
    expect(limitHeapGrowth(75, ['--enable-source-maps', flag])).toBe(false);
  });

  it('sets it when no such flag was given, even with a flag that only starts alike', () => {
    // 0 is V8's own factor, so this test process keeps its behaviour.
    expect(limitHeapGrowth(0, ['--enable-source-maps', '--heap-growing-percentage=20'])).toBe(true);
  });
});
