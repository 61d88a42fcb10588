/**
 * The tuple arena: memory the worker's main thread shares with its decode threads, where a decode
 * thread puts the COPY tuples of an answer it decoded and the main thread writes them to Postgres
 * from, then frees them. Pure memory bookkeeping (no I/O); runs in either thread.
 *
 * Why: an answer's tuples (≈0.3 MB per mainnet block) used to move to the main thread as a fresh
 * ArrayBuffer each. V8 counts fresh ArrayBuffer memory against the heap's growth limit, so the main
 * isolate (≈50 MB of heap) ran a full collection every ≈80 blocks for them. A SharedArrayBuffer
 * that both threads keep is allocated once and not counted again (V8 does not account shared
 * backing stores per isolate).
 *
 * Layout: `memory` is cut into pages of {@link ARENA_PAGE_BYTES}; `pages` (its own
 * SharedArrayBuffer of Int32) holds, at index 0, the last claim token handed out and, at index
 * 1 + p, the token of the placement that holds page p (0: free). A decode thread claims a run of
 * free pages with compare-and-swap (any number of threads may place at once); the main thread
 * frees a placement's pages only while they still hold its token, so freeing twice, or late (the
 * safety net in src/decode/pool.ts), never frees another placement's pages. First fit keeps the
 * touched memory, and so the resident set, as small as the answers in flight need.
 */

/** Bytes of one page of the arena (its unit of placement). */
export const ARENA_PAGE_BYTES = 64 * 1024;
/**
 * Bytes of a worker's arena: room for the tuples of FETCH_BUFFER_MB's default 48 MB of answers in
 * flight (tuples are about half the answer) with margin; an answer that finds no room moves its
 * own buffer as before. Only pages used are resident.
 */
export const ARENA_BYTES = 64 * 2 ** 20;

/** The memory and its page table, as both threads see them. */
export type TupleArena = { readonly memory: SharedArrayBuffer; readonly pages: Int32Array };

/** Where one answer's tuples were put: bytes `start…start + length` of the arena's memory, pages `first…first + count − 1` held with `token`. */
export type ArenaPlacement = { readonly start: number; readonly length: number; readonly first: number; readonly count: number; readonly token: number };

/** A new arena of `bytes` (rounded up to whole pages), every page free. @throws RangeError when `bytes` < 1. */
export function createTupleArena(bytes = ARENA_BYTES): TupleArena {
  if (!(bytes >= 1)) throw new RangeError(`createTupleArena: bytes must be at least 1, got ${bytes}`);
  const count = Math.ceil(bytes / ARENA_PAGE_BYTES);
  return { memory: new SharedArrayBuffer(count * ARENA_PAGE_BYTES), pages: new Int32Array(new SharedArrayBuffer(4 * (count + 1))) };
}

/**
 * Copies `tuples` into the first run of free pages long enough, and returns where; null when no
 * run is (or `tuples` is empty). Safe with other threads placing and freeing at the same time.
 */
export function placeTuples(arena: TupleArena, tuples: Uint8Array): ArenaPlacement | null {
  const placement = reserveTuples(arena, tuples.length);
  if (placement) new Uint8Array(arena.memory, placement.start, tuples.length).set(tuples);
  return placement;
}

/**
 * Takes the first run of free pages that holds `length` bytes, for the caller to write them to
 * (bytes `start…start + length` of the arena's memory), and returns where; null when no run is
 * (or `length` is 0). Safe with other threads placing and freeing at the same time.
 */
export function reserveTuples(arena: TupleArena, length: number): ArenaPlacement | null {
  const { pages } = arena;
  const total = pages.length - 1;
  const count = Math.ceil(length / ARENA_PAGE_BYTES);
  if (count === 0 || count > total) return null;
  // 1…2^30, and round again (the counter wraps): a placement 2^30 placements old is long freed.
  const token = (Atomics.add(pages, 0, 1) & 0x3fffffff) + 1;
  let first = 0;
  while (first + count <= total) {
    let taken = 0;
    while (taken < count && Atomics.compareExchange(pages, 1 + first + taken, 0, token) === 0) taken++;
    if (taken === count) return { start: first * ARENA_PAGE_BYTES, length, first, count, token };
    // Page first + taken is held: give back what this try took and look past it.
    for (let k = 0; k < taken; k++) Atomics.compareExchange(pages, 1 + first + k, token, 0);
    first += taken + 1;
  }
  return null;
}

/** Frees the pages of `placement` that it still holds (a second call, or a call after they were freed and placed again, frees nothing). */
export function freeTuples(arena: TupleArena, placement: ArenaPlacement): void {
  for (let k = 0; k < placement.count; k++) Atomics.compareExchange(arena.pages, 1 + placement.first + k, placement.token, 0);
}

/** Pages held now, of all (for tests and metrics). */
export function arenaPagesHeld(arena: TupleArena): { held: number; total: number } {
  let held = 0;
  for (let p = 1; p < arena.pages.length; p++) if (Atomics.load(arena.pages, p) !== 0) held++;
  return { held, total: arena.pages.length - 1 };
}
