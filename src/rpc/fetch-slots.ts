/**
 * The JSON-RPC batches of blocks a worker fetches and holds unwritten at once for one chain (see
 * `streamBlocks`). A batch is admitted before its request is sent, is told then how many blocks it
 * may take (the size of the moment), and holds that share until its consumer is done with them
 * (`writeBatch` has encoded their rows for COPY: about 1 MiB per range is held beyond this limit),
 * so the limit bounds the worker's memory while keeping requests in flight to hide the round trip. Batches are
 * admitted by `priority` (lower first; the streaming of a range passes its first block number, so
 * earlier ranges finish first), then in the order they asked.
 */
export type FetchSlots = {
  /** Runs `task` once admitted with the blocks it may take (≥ 1); holds that share until `task` settles. `priority`: lower goes first (default 0). */
  run<T>(task: (blocks: number) => Promise<T>, priority?: number): Promise<T>;
  /** Records an answer of `bodyBytes` bytes of JSON for `blocks` blocks (adaptive slots resize on it). */
  observe(bodyBytes: number, blocks: number): void;
  /** Blocks that may be in flight (and unwritten) at once now. */
  readonly capacityBlocks: number;
  /** Blocks per JSON-RPC batch for a range that starts now. */
  readonly blocksPerBatch: number;
};

/**
 * A fixed number of batches of a fixed size, whatever the answers weigh.
 * @throws RangeError when `slots` or `blocksPerBatch` is not an integer ≥ 1.
 */
export function fixedFetchSlots(slots: number, blocksPerBatch: number): FetchSlots {
  if (!Number.isInteger(slots) || slots < 1 || !Number.isInteger(blocksPerBatch) || blocksPerBatch < 1) {
    throw new RangeError(`fetch slots need integers ≥ 1, got ${slots} slots of ${blocksPerBatch} blocks`);
  }
  const admit = admission(slots, () => slots * blocksPerBatch, () => blocksPerBatch);
  return { run: admit, observe: () => {}, blocksPerBatch, capacityBlocks: slots * blocksPerBatch };
}

/** Weight of the newest answer in the running mean of bytes per block. */
const MEAN_WEIGHT = 0.2;

/**
 * Slots and batches sized by what the chain's blocks weigh, by the running mean of the bytes per
 * block of the answers so far:
 * - a JSON-RPC batch carries as many blocks as make about `batchBytes` of JSON, at least 1 and at
 *   most `maxBlocksPerBatch` (a smaller answer is less to parse and hold at once);
 * - batches are admitted while the blocks in flight fit in `budgetBytes` of JSON, at most `max`
 *   batches, and always at least `min` batches of the current size (one alone is always admitted).
 * Before the first answer the blocks are assumed to weigh `assumedBytesPerBlock` (a heavy chain's,
 * so the first requests stay within the budget; the first answer replaces it). With 32 MiB,
 * 4 MiB and at most 10 blocks, Ethereum mainnet (≈0.8 MB of JSON per block with receipts) gets
 * batches of 5 blocks, 8 in flight; light blocks (≈30 kB) batches of 10, 8 in flight (the worker
 * allows 50 blocks a batch, `BLOCKS_PER_RPC_BATCH`). The parsed
 * blocks take 2–3× their JSON.
 * @throws RangeError when the bounds are not integers with 1 ≤ min ≤ max and 1 ≤ maxBlocksPerBatch, or a size is not positive.
 */
export function adaptiveFetchSlots(options: { budgetBytes: number; batchBytes: number; maxBlocksPerBatch: number; min: number; max: number; assumedBytesPerBlock: number }): FetchSlots {
  const { budgetBytes, batchBytes, maxBlocksPerBatch, min, max, assumedBytesPerBlock } = options;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max < min) throw new RangeError(`fetch slots need integers 1 ≤ min ≤ max, got min=${min} max=${max}`);
  if (!Number.isInteger(maxBlocksPerBatch) || maxBlocksPerBatch < 1) throw new RangeError(`fetch slots need an integer maxBlocksPerBatch ≥ 1, got ${maxBlocksPerBatch}`);
  if (!(budgetBytes > 0) || !(batchBytes > 0) || !(assumedBytesPerBlock > 0)) {
    throw new RangeError(`fetch slots need positive sizes in bytes, got budget ${budgetBytes}, batch ${batchBytes}, assumed block ${assumedBytesPerBlock}`);
  }
  let bytesPerBlock = assumedBytesPerBlock;
  let observed = false;
  let blocksPerBatch = 0;
  let capacityBlocks = 0;
  const resize = () => {
    const perBlock = Math.max(1, bytesPerBlock);
    blocksPerBatch = Math.min(maxBlocksPerBatch, Math.max(1, Math.floor(batchBytes / perBlock)));
    capacityBlocks = Math.max(min * blocksPerBatch, Math.floor(budgetBytes / perBlock));
  };
  resize();
  const admit = admission(max, () => capacityBlocks, () => blocksPerBatch);
  return {
    run: admit,
    observe(bodyBytes, blocks) {
      if (!(blocks > 0) || !(bodyBytes >= 0)) return;
      const sample = bodyBytes / blocks;
      bytesPerBlock = observed ? bytesPerBlock + MEAN_WEIGHT * (sample - bytesPerBlock) : sample;
      observed = true;
      resize();
      admit.pump();
    },
    get capacityBlocks() {
      return capacityBlocks;
    },
    get blocksPerBatch() {
      return blocksPerBatch;
    },
  };
}

/**
 * An admission of tasks that each take `size()` blocks, by priority (lower first), then first in,
 * first out: the head task starts when nothing runs, or when fewer than `maxTasks` run and its
 * blocks fit beside the running ones in `capacity()`. `pump()` admits again after the sizes changed.
 */
function admission(maxTasks: number, capacity: () => number, size: () => number): (<T>(task: (blocks: number) => Promise<T>, priority?: number) => Promise<T>) & { pump(): void } {
  const waiting: { priority: number; start: (blocks: number) => void }[] = [];
  let running = 0;
  let held = 0;
  const pump = () => {
    for (let head = waiting[0]; head; head = waiting[0]) {
      const blocks = size();
      if (running > 0 && (running >= maxTasks || held + blocks > capacity())) return;
      waiting.shift();
      running += 1;
      held += blocks;
      head.start(blocks);
    }
  };
  const run = <T>(task: (blocks: number) => Promise<T>, priority = 0): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const at = waiting.findIndex((w) => w.priority > priority);
      waiting.splice(at === -1 ? waiting.length : at, 0, { priority, start: (blocks) => {
        void (async () => {
          try {
            resolve(await task(blocks));
          } catch (err) {
            reject(err);
          } finally {
            running -= 1;
            held -= blocks;
            pump();
          }
        })();
      } });
      pump();
    });
  return Object.assign(run, { pump });
}
