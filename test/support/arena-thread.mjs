/**
 * A worker thread for test/unit/decode/arena.test.ts (JavaScript, so Node runs it as the thread's
 * entry; what it requires goes through tsx): places and frees `rounds` answers of one or two pages
 * in the shared arena with the real placeTuples/freeTuples, filling each with its seed and checking
 * it still holds only that before freeing it; posts how many it placed and how many it found
 * overwritten.
 */
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

// Required, not imported: in a thread tsx compiles what `require` loads (Node 20 runs no import hooks there).
const { ARENA_PAGE_BYTES, freeTuples, placeTuples } = createRequire(import.meta.url)('../../src/decode/arena.ts');
const { arena, seed, rounds } = workerData;
let placed = 0;
let overwritten = 0;
for (let i = 0; i < rounds; i++) {
  const length = 1 + ((i * 7919 + seed) % (2 * ARENA_PAGE_BYTES - 1));
  const placement = placeTuples(arena, new Uint8Array(length).fill(seed));
  if (!placement) continue;
  placed++;
  const view = new Uint8Array(arena.memory, placement.start, length);
  for (let spin = 0; spin < 3; spin++) if (view.some((v) => v !== seed)) overwritten++;
  freeTuples(arena, placement);
}
parentPort.postMessage({ placed, overwritten });
