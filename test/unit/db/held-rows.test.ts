/**
 * HeldRows and SlabPool (src/db/held-rows.ts): appended bytes come back whole and in order across
 * slab boundaries, slabs are reused after `free`, and a pool keeps no more free slabs than it may.
 */
import { describe, expect, it } from 'vitest';
import { HeldRows, SlabPool } from '../../../src/db/held-rows.js';

/** `n` bytes counting up from `from` (mod 256). */
const bytes = (n: number, from = 0): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (from + i) % 256);

describe('HeldRows', () => {
  it('gives back every appended byte in order, chunks split across slabs of 16 bytes', () => {
    const pool = new SlabPool(16, 64);
    const held = new HeldRows(['a', 'b'], pool);
    held.append(bytes(10, 0));
    held.append(bytes(20, 10)); // fills the first slab, the second, and 4 bytes of a third
    held.append(bytes(0));
    expect(held.bytes).toBe(30);
    const chunks = held.chunks();
    expect(chunks.map((c) => c.length)).toEqual([16, 14]);
    expect([...Buffer.concat(chunks)]).toEqual([...bytes(30, 0)]);
    expect(held.columns).toEqual(['a', 'b']);
  });

  it('gives its slabs back on free (twice frees nothing more), and the next holder reuses them', () => {
    const pool = new SlabPool(16, 64);
    const held = new HeldRows(['a'], pool);
    held.append(bytes(40));
    const slabs = held.chunks().map((c) => c.buffer);
    held.free();
    held.free();
    expect(pool.keptNow).toBe(48);
    expect([held.bytes, held.chunks().length]).toEqual([0, 0]);
    const next = new HeldRows(['a'], pool);
    next.append(bytes(40, 7));
    const reused = next.chunks().map((c) => c.buffer);
    expect(reused.map((b) => slabs.indexOf(b)).sort()).toEqual([0, 1, 2]); // the same three slabs (identity)
    expect([...Buffer.concat(next.chunks())]).toEqual([...bytes(40, 7)]);
    expect(pool.keptNow).toBe(0);
  });

  it('a pool keeps at most keptBytes of free slabs', () => {
    const pool = new SlabPool(16, 32);
    const held = new HeldRows(['a'], pool);
    held.append(bytes(16 * 5));
    held.free();
    expect(pool.keptNow).toBe(32);
  });
});
