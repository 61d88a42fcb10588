import pLimit from 'p-limit';

/**
 * The JSON-RPC batches of blocks a worker fetches and holds unwritten at once for one chain (see
 * `streamBlocks`). A batch takes a slot before its request is sent and gives it back once its
 * rows are written, so the slots bound the worker's memory while keeping requests in flight to
 * hide the round trip.
 */
export type FetchSlots = {
  /** Runs `task` once a slot is free and holds the slot until `task` settles. */
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Records an answer of `bodyBytes` bytes of JSON for `blocks` blocks (adaptive slots resize on it). */
  observe(bodyBytes: number, blocks: number): void;
  /** Slots now. */
  readonly size: number;
};

/** A fixed number of slots, whatever the answers weigh. */
export function fixedFetchSlots(slots: number): FetchSlots {
  const limit = pLimit(slots);
  return { run: (task) => limit(task), observe: () => {}, get size() { return limit.concurrency; } };
}

/** Weight of the newest answer in the running mean of bytes per block. */
const MEAN_WEIGHT = 0.2;

/**
 * Slots sized by what the chain's blocks weigh: as many JSON-RPC batches of `blocksPerBatch`
 * blocks as fit in `budgetBytes` of JSON, by the running mean of the bytes per block of the
 * answers so far, between `min` and `max`. Starts at `min` (nothing is known before the first
 * answer) and resizes after each answer; batches already running keep their slots.
 * With 32 MiB and 10 blocks per batch, mainnet (≈0.8 MB of JSON per block with receipts) gets 4
 * slots; a chain of light blocks (≈30 kB) gets `max`. The parsed blocks take 2–3× their JSON.
 * @throws RangeError when the bounds are not integers with 1 ≤ min ≤ max, or the budget or batch size is not positive.
 */
export function adaptiveFetchSlots(options: { budgetBytes: number; blocksPerBatch: number; min: number; max: number }): FetchSlots {
  const { budgetBytes, blocksPerBatch, min, max } = options;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max < min) throw new RangeError(`fetch slots need integers 1 ≤ min ≤ max, got min=${min} max=${max}`);
  if (!(budgetBytes > 0) || !(blocksPerBatch > 0)) throw new RangeError(`fetch slots need a positive budget and batch size, got ${budgetBytes} bytes and ${blocksPerBatch} blocks`);
  const limit = pLimit(min);
  let bytesPerBlock = 0;
  return {
    run: (task) => limit(task),
    observe(bodyBytes, blocks) {
      if (!(blocks > 0) || !(bodyBytes >= 0)) return;
      const sample = bodyBytes / blocks;
      bytesPerBlock = bytesPerBlock === 0 ? sample : bytesPerBlock + MEAN_WEIGHT * (sample - bytesPerBlock);
      const fit = Math.floor(budgetBytes / Math.max(1, bytesPerBlock * blocksPerBatch));
      const size = Math.min(max, Math.max(min, fit));
      if (size !== limit.concurrency) limit.concurrency = size;
    },
    get size() {
      return limit.concurrency;
    },
  };
}
