import { toHex } from 'viem';
import { RpcBadResponseError, RpcBatchTooLargeError, RpcTransientError, RpcUnsupportedError } from '../errors.js';
import type { BlockRange } from '../domain/block-range.js';
import { anchorContradicted, behindOnOtherFork, fetchForkAnchor, otherForkText, type ForkAnchor } from './chain-head.js';
import { DecodedBlock, type BodyDecoder } from './decoded.js';
import { fixedFetchSlots, type FetchSlots } from './fetch-slots.js';
import type { RpcPool } from './pool.js';
import { unwrap } from './pool.js';
import type { BlockBundle, RpcOutcome } from './types.js';
import { lc, validateBlock, validateLinks, validateReceipts } from './validate.js';

/**
 * Blocks per JSON-RPC batch (the most, see FetchSlots.blocksPerBatch): each block is 2 calls, so
 * 50 blocks = 100 calls per HTTP request, Erigon's default `--rpc.batch.limit` (go-ethereum's is
 * 1,000, Nethermind's and Besu's 1,024). An endpoint that refuses a batch gets smaller ones (the
 * pool halves its batch size). Light blocks fill a batch; heavy ones are fewer per batch (the
 * worker aims at about 4 MiB of JSON: 5 Ethereum mainnet blocks). Was 10 until session 13: light
 * chains were bound by the round trip (README, Performance).
 */
export const BLOCKS_PER_RPC_BATCH = 50;
/** JSON-RPC batches of one range in flight at once. */
const RPC_BATCHES_IN_FLIGHT = 4;
/** Rounds of whole-pool attempts for one JSON-RPC batch that keeps failing (lagging or flaky endpoints). */
const FETCH_ROUNDS = 4;
/** Pause before round k is k × this, in ms. */
const ROUND_PAUSE_MS = 200;
/**
 * Pause before asking again for calls that failed alone inside an answer, × the round (at most
 * PARTIAL_RETRY_PAUSE_ROUNDS), in ms. They are asked again while each answer brings at least one
 * of their blocks (an answer that brings none fails, and the pool asks another endpoint), at most
 * PARTIAL_RETRY_ROUNDS times: a batch of 50 blocks whose every 3rd call goes missing needs about
 * 10 (5 was the limit when batches held 10 blocks).
 */
const PARTIAL_RETRY_PAUSE_MS = 100;
const PARTIAL_RETRY_PAUSE_ROUNDS = 5;
const PARTIAL_RETRY_ROUNDS = 16;

/**
 * Fetches blocks `range.from..range.to` (inclusive) with full transactions and their receipts,
 * using JSON-RPC batches of `eth_getBlockByNumber(n, true)` and `eth_getBlockReceipts(n)` over the
 * pool, validates each (number, receipts belong to the block, logs bloom) and the parent-hash links
 * inside the range, and returns them in block-number order. `onProgress` is called after each
 * JSON-RPC batch (the activity heartbeats there). `check`, when given, runs on each block of an
 * answer before it is taken (header proofs): a throw refuses the endpoint's answer like a failed
 * validation, so the pool asks another endpoint at once and ranks this one down.
 * Holds the whole range in memory; {@link streamBlocks} hands each JSON-RPC batch on instead.
 * @throws RpcTransientError or RpcBadResponseError when no endpoint served a valid answer (retried
 *   by Temporal); RpcUnsupportedError when every endpoint refuses a method.
 */
export async function fetchBlocks(
  pool: RpcPool,
  range: BlockRange,
  options: { signal?: AbortSignal; onProgress?: (fetchedBlocks: number) => void; check?: BundleCheck } = {},
): Promise<BlockBundle[]> {
  const byNumber = new Map<number, BlockBundle>();
  await streamBlocks(pool, range, {
    ...options,
    onBundles: (bundles) => {
      for (const bundle of bundles) {
        if (bundle instanceof DecodedBlock) throw new Error('fetchBlocks got a decoded block: it passes no decoder'); // a bug
        byNumber.set(Number(BigInt(bundle.block.number)), bundle);
      }
    },
  });
  const bundles: BlockBundle[] = [];
  for (let n = range.from; n <= range.to; n++) bundles.push(byNumber.get(n)!);
  return bundles;
}

/** A block's place in the chain: its number and hash, and its parent's hash (hex strings as the node sent them). */
export type BlockLink = { number: number; hash: string; parentHash: string };

/** A fetched and validated block: its parsed bundle, or what a BodyDecoder made of it. */
export type FetchedBlock = BlockBundle | DecodedBlock;

/** The link of a fetched block. */
function linkOf(fetched: FetchedBlock): BlockLink {
  if (fetched instanceof DecodedBlock) return { number: fetched.number, hash: fetched.hash, parentHash: fetched.parentHash };
  return { number: Number(BigInt(fetched.block.number)), hash: fetched.block.hash, parentHash: fetched.block.parentHash };
}

/**
 * Like {@link fetchBlocks}, but hands each JSON-RPC batch's validated bundles (consecutive blocks,
 * in block order; batches in arrival order) to `onBundles` and keeps only their links, so memory
 * holds a few JSON-RPC batches, not the range. A JSON-RPC batch keeps its slot in `slots` until
 * `onBundles` has resolved (backpressure: a slow consumer slows fetching). `slots` limits the
 * batches in flight, gives the blocks per batch, and is told what each answer weighs
 * (`adaptiveFetchSlots` sizes both on it); share one between ranges to bound a whole process
 * (default: a fresh fixed limit of RPC_BATCHES_IN_FLIGHT batches of BLOCKS_PER_RPC_BATCH per call). The parent-hash links inside the range are checked once
 * every block arrived, so a consumer that writes must not commit before this resolves.
 * After the first failure no further JSON-RPC batch of the range starts; those in flight finish and
 * still reach `onBundles`, which must refuse them once it knows the range failed.
 * With `decoder` (and no `check`, which needs the parsed blocks), answers are parsed, validated and
 * converted by it, and `onBundles` gets its DecodedBlocks for the blocks it could (a block and its
 * receipts in one HTTP answer, both answered), bundles for the others.
 * With two usable endpoints or more the range is also held to the canonical chain of the
 * endpoint with the highest head (its fork anchor, {@link fetchForkAnchor}, read at once beside
 * the first JSON-RPC batch): an answer whose `range.to` has another hash is asked again of the
 * other endpoints ({@link holdToAnchor}), and when the links inside the range break below a top
 * that matches, the range fails; endpoints behind on another fork are benched on the way
 * ({@link behindOnOtherFork}). Since each block's hash covers its parent's hash, a range whose
 * links hold and whose last block matches the anchor is wholly on that chain.
 * @returns the links of `range.from..range.to`, in block order.
 * @throws like fetchBlocks; whatever `onBundles` throws.
 */
export async function streamBlocks(
  pool: RpcPool,
  range: BlockRange,
  options: {
    signal?: AbortSignal;
    onProgress?: (fetchedBlocks: number) => void;
    check?: BundleCheck;
    slots?: FetchSlots;
    decoder?: BodyDecoder;
    onBundles: (bundles: FetchedBlock[]) => Promise<void> | void;
  },
): Promise<BlockLink[]> {
  const slots = options.slots ?? fixedFetchSlots(RPC_BATCHES_IN_FLIGHT, BLOCKS_PER_RPC_BATCH);
  // Nothing to compare with one endpoint (fetchForkAnchor says null then, and when nothing is sure).
  const top: TopCheck | undefined = pool.labels.length > 1 ? { number: range.to, anchor: fetchForkAnchor(pool, range.to, options.signal) } : undefined;
  // The range is split as it goes: each admitted JSON-RPC batch takes the next blocks, as many as
  // the slots say at that moment, and queues the batch after it while blocks remain. Earlier
  // ranges go first (priority: the first block number), so ranges finish in order.
  const links: (BlockLink & { label: string })[] = [];
  const batches: Promise<void>[] = [];
  let next = range.from;
  let fetched = 0;
  let failed = false;
  let fail: (err: unknown) => void = () => {};
  const failure = new Promise<never>((_, reject) => { fail = reject; });
  failure.catch(() => {}); // raced below; this only keeps it from being unhandled when nothing fails
  const queueBatch = () => {
    const batch = slots.run(async (take) => {
      if (failed || next > range.to) return; // the range failed already: leave the slot to other ranges
      const chunk: number[] = [];
      for (; chunk.length < take && next <= range.to; next++) chunk.push(next);
      if (next <= range.to) queueBatch();
      try {
        const decoder = options.check ? undefined : options.decoder;
        const fetch = (avoid?: ReadonlySet<string>) => fetchChunk(pool, chunk, options.signal, options.check, (bytes, blocks) => slots.observe(bytes, blocks), decoder, avoid);
        const answered = await holdToAnchor(pool, top, await fetch(), fetch);
        for (const { fetched: bundle, label } of answered) links.push({ ...linkOf(bundle), label });
        await options.onBundles(answered.map((a) => a.fetched));
      } catch (err) {
        failed = true; // batches in flight finish (an abort would count against their endpoints); queued ones never start
        fail(err);
        throw err;
      }
      fetched += chunk.length;
      options.onProgress?.(fetched);
    }, range.from);
    batch.catch(() => {}); // awaited below; this only keeps a later rejection from being unhandled
    batches.push(batch);
  };
  queueBatch();
  // `batches` grows while it runs; the first failure ends the wait at once (its batch rejects `failure`).
  for (let i = 0; i < batches.length; i++) await Promise.race([batches[i], failure]);
  links.sort((a, b) => a.number - b.number);
  const anchor = top ? await top.anchor : null;
  if (anchor) benchUnderBreak(pool, links, anchor);
  validateLinks(links);
  // An endpoint above the anchor's head that answered since with another last block: a reorg at the tip the anchor had not seen. Retried, nobody blamed.
  const contradicted = anchor && anchorContradicted(anchor);
  if (contradicted) throw new RpcBadResponseError(`block ${range.to}: the endpoints disagree on the range's last block: ${contradicted} (a reorg at the tip); the range is fetched again`);
  return links.map(({ number, hash, parentHash }) => ({ number, hash, parentHash }));
}

/** The last block of a range and its fork anchor (never rejects: null when it could not be read). */
type TopCheck = { number: number; anchor: Promise<ForkAnchor | null> };

/**
 * When the links of a range (in block order, each with the endpoint that served it) break below a
 * top that matches `anchor`, the block under the highest break is not on the anchor's chain (the
 * block over it is, and names another parent): benches the endpoint that served it when it is
 * behind ({@link behindOnOtherFork}), else counts the answer against it (`pool.refute`), so the
 * range's retry asks the others. The caller's `validateLinks` then throws for the break.
 */
function benchUnderBreak(pool: RpcPool, links: readonly (BlockLink & { label: string })[], anchor: ForkAnchor): void {
  const last = links.at(-1);
  if (!last || last.number !== anchor.number || lc(last.hash) !== anchor.hash) return;
  for (let i = links.length - 1; i > 0; i--) {
    const below = links[i - 1]!;
    if (lc(links[i]!.parentHash) === lc(below.hash)) continue;
    const why = `${below.label}: block ${below.number} has hash ${below.hash}, but block ${links[i]!.number} of the chain of ${anchor.label} (head ${anchor.head}, the highest) names parent ${links[i]!.parentHash}: ${below.label} serves another fork`;
    if (behindOnOtherFork(below.label, anchor, below.number)) pool.benchOtherFork(below.label, why);
    else pool.refute(below.label, why); // so a node stuck on the replaced block ranks down instead of serving it to every retry
    return;
  }
}

/** A check of one validated block from endpoint `label`; throws RpcBadResponseError to refuse the answer. */
export type BundleCheck = (bundle: BlockBundle, label: string) => Promise<void>;

/** Blocks of one JSON-RPC answer (with the endpoint that served each), and the ones whose calls failed alone (missing, rate-limited, -32603). */
type PartialChunk = { got: Map<number, FetchedBlock>; labels: Map<number, string>; retry: number[]; firstError: unknown };

/** A fetched block and the label of the endpoint that served it. */
type Answered = { fetched: FetchedBlock; label: string };

/**
 * `answered` (a JSON-RPC batch's blocks, each with its endpoint), or, when it holds the range's
 * last block (`top.number`) with another hash than the range's fork anchor, the same blocks asked
 * again of the other endpoints (`fetch` with those whose answer was refused in `avoid`), until
 * one answers with the anchor's hash. An endpoint refused so is benched when it is behind on
 * another fork ({@link behindOnOtherFork}), else left out for this batch and the refusal counted
 * against it (`pool.refute`). The anchor is
 * awaited here, after the pool took the answer, so the wait is not counted as the endpoint's
 * latency. Before the blocks are handed on, so a refused answer is never written.
 * @throws RpcBadResponseError naming the block and both hashes when every endpoint was refused.
 */
async function holdToAnchor(pool: RpcPool, top: TopCheck | undefined, answered: Answered[], fetch: (avoid: ReadonlySet<string>) => Promise<Answered[]>): Promise<Answered[]> {
  const avoid = new Set<string>();
  for (;;) {
    const last = top && answered.find((a) => linkOf(a.fetched).number === top.number);
    if (!top || !last) return answered;
    const anchor = await top.anchor;
    const hash = lc(linkOf(last.fetched).hash);
    if (!anchor || hash === anchor.hash) return answered;
    // An endpoint that has not answered the anchor's batch yet may be ahead of the anchor (a reorg
    // at the tip it saw first): hear it out before blaming it; then the range is fetched again.
    if (!anchor.heads.has(last.label)) await anchor.answered;
    const contradicted = anchorContradicted(anchor);
    if (contradicted) throw new RpcBadResponseError(`block ${top.number}: the endpoints disagree on the range's last block: ${contradicted} (a reorg at the tip); the range is fetched again`);
    const why = otherForkText(last.label, top.number, hash, anchor);
    if (behindOnOtherFork(last.label, anchor)) pool.benchOtherFork(last.label, why);
    else pool.refute(last.label, why);
    avoid.add(last.label);
    if (pool.labels.every((label) => avoid.has(label))) throw new RpcBadResponseError(why);
    answered = await fetch(avoid);
  }
}

/** What an answer of `bytes` of JSON carrying `blocks` blocks weighs, for the fetch slots. */
type Weigh = (bytes: number, blocks: number) => void;

async function fetchChunk(pool: RpcPool, numbers: number[], signal?: AbortSignal, check?: BundleCheck, weigh?: Weigh, decoder?: BodyDecoder, avoid?: ReadonlySet<string>, depth = 0): Promise<Answered[]> {
  const requests = numbers.flatMap((n) => [
    { method: 'eth_getBlockByNumber', params: [toHex(n), true] },
    { method: 'eth_getBlockReceipts', params: [toHex(n)] },
  ]);
  // A bad or lagging answer (null block, failed validation) rejects the whole answer: another
  // endpoint is asked. A call that failed alone (missing from the batch, rate-limited, -32603) is
  // asked again alone, keeping the blocks that did arrive.
  const accept = async (outcomes: RpcOutcome[], label: string, bodyBytes: number): Promise<PartialChunk> => {
    const part: PartialChunk = { got: new Map(), labels: new Map(), retry: [], firstError: undefined };
    numbers.forEach((n, i) => {
      try {
        const block = unwrap(outcomes[2 * i]!, label, `eth_getBlockByNumber(${n})`);
        if (block instanceof DecodedBlock) {
          if (block.invalid !== undefined) throw new RpcBadResponseError(block.invalid);
          part.got.set(n, block);
          part.labels.set(n, label);
          return;
        }
        if (block === null) throw new RpcBadResponseError(`${label}: block ${n} not found (beyond its head: the node lags or the block is not mined yet)`);
        validateBlock(block, n, label);
        const receipts = unwrap(outcomes[2 * i + 1]!, label, `eth_getBlockReceipts(${n})`);
        validateReceipts(block, receipts, label);
        part.got.set(n, { block, receipts });
        part.labels.set(n, label);
      } catch (err) {
        if (!(err instanceof RpcTransientError)) throw err;
        part.retry.push(n);
        part.firstError ??= err;
      }
    });
    if (part.got.size === 0) throw part.firstError;
    weigh?.(bodyBytes, part.got.size); // only blocks that arrived: a lagging node's nulls or a partial answer would make blocks look light
    if (check) for (const bundle of part.got.values()) await check(bundle as BlockBundle, label); // no decoder with a check
    return part;
  };
  const part = await withRounds(async () => {
    try {
      return await pool.batch(requests, accept, signal, decoder, avoid);
    } catch (err) {
      if (!(err instanceof RpcUnsupportedError)) throw err;
      const { bundles, label } = await fetchChunkWithoutBlockReceipts(pool, numbers, signal, check, avoid);
      const got = new Map<number, FetchedBlock>(bundles.map((b) => [Number(BigInt(b.block.number)), b]));
      return { got, labels: new Map([...got.keys()].map((n) => [n, label])), retry: [], firstError: undefined };
    }
  }, signal);
  if (part.retry.length > 0) {
    // `accept` threw unless a block arrived, so `retry` is shorter than `numbers` in each round.
    if (depth >= PARTIAL_RETRY_ROUNDS) throw part.firstError;
    await pause(PARTIAL_RETRY_PAUSE_MS * Math.min(depth + 1, PARTIAL_RETRY_PAUSE_ROUNDS), signal);
    for (const { fetched, label } of await fetchChunk(pool, part.retry, signal, check, weigh, decoder, avoid, depth + 1)) {
      part.got.set(linkOf(fetched).number, fetched);
      part.labels.set(linkOf(fetched).number, label);
    }
  }
  return numbers.map((n) => ({ fetched: part.got.get(n)!, label: part.labels.get(n)! }));
}

/** Waits `ms`, or until `signal` aborts; its abort listener goes when the wait ends (a range's many pauses share its activity's signal). */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * The fallback for endpoints that refuse `eth_getBlockReceipts` (-32601/-32004): the blocks in one
 * JSON-RPC batch, then `eth_getTransactionReceipt` for every transaction in a second one, which
 * the pool may send to another endpoint: a receipt of a later block (`isLaterBlockReceipt`) is
 * then refused, since it may be that endpoint's receipt of the transaction on another fork.
 * Receipts that only `eth_getBlockReceipts` returns (Polygon state-sync) cannot be seen this way.
 * @returns the bundles and the label of the endpoint that served the blocks.
 */
async function fetchChunkWithoutBlockReceipts(pool: RpcPool, numbers: number[], signal?: AbortSignal, check?: BundleCheck, avoid?: ReadonlySet<string>): Promise<{ bundles: BlockBundle[]; label: string }> {
  const { blocks, label: blocksLabel } = await pool.batch(
    numbers.map((n) => ({ method: 'eth_getBlockByNumber', params: [toHex(n), true] })),
    (outcomes, label) => {
      const got = numbers.map((n, i) => {
        const block = unwrap(outcomes[i]!, label, `eth_getBlockByNumber(${n})`);
        if (block === null) throw new RpcBadResponseError(`${label}: block ${n} not found (beyond its head: the node lags or the block is not mined yet)`);
        validateBlock(block, n, label);
        return block;
      });
      return { blocks: got, label };
    },
    signal,
    undefined,
    avoid,
  );
  const hashes = blocks.flatMap((b) => b.transactions.map((t) => t.hash));
  if (hashes.length === 0) return { bundles: blocks.map((block) => ({ block, receipts: [] })), label: blocksLabel };
  const bundles = await pool.batch(
    hashes.map((hash) => ({ method: 'eth_getTransactionReceipt', params: [hash] })),
    async (outcomes, label) => {
      let next = 0;
      const bundles = blocks.map((block) => {
        const receipts = block.transactions.map((tx) => {
          const receipt = unwrap(outcomes[next++]!, label, `eth_getTransactionReceipt(${tx.hash})`);
          if (receipt === null) throw new RpcBadResponseError(`${label}: no receipt for transaction ${tx.hash} of block ${Number(BigInt(block.number))}`);
          return receipt;
        });
        validateReceipts(block, receipts, label, { laterBlockReceipts: label === blocksLabel });
        return { block, receipts };
      });
      for (const bundle of bundles) await check?.(bundle, label);
      return bundles;
    },
    signal,
    undefined,
    avoid,
  );
  return { bundles, label: blocksLabel };
}

/**
 * Runs `fetch` up to FETCH_ROUNDS times while it fails with a retryable RPC error (a lagging node,
 * a flaky endpoint), pausing a little longer each round, so one failed JSON-RPC batch does not
 * throw away the range's other batches. Temporal's retry stays the outer layer.
 */
async function withRounds<T>(fetch: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  let lastError: unknown;
  for (let round = 0; round < FETCH_ROUNDS; round++) {
    if (round > 0) await pause(ROUND_PAUSE_MS * round, signal);
    try {
      return await fetch();
    } catch (err) {
      lastError = err;
      const retryable = err instanceof RpcBadResponseError || err instanceof RpcTransientError || err instanceof RpcBatchTooLargeError;
      if (!retryable || signal?.aborted) throw err;
    }
  }
  throw lastError;
}
