import type { ChainHead } from '../domain/finality.js';
import { RpcBadResponseError, RpcTransientError } from '../errors.js';
import type { RpcPool } from './pool.js';
import { unwrap } from './pool.js';
import type { RpcOutcome, RpcRequest } from './types.js';

type HeaderLike = { number?: string; hash?: string } | null;

/**
 * Reads the head (`latest`) and the `safe` and `finalized` tags with one JSON-RPC batch of
 * `eth_getBlockByNumber(tag, false)` (execution-apis; tags since the Merge) sent to every usable
 * endpoint, and returns the highest head seen (never lower than one this pool returned before:
 * a lagging endpoint does not move it back). A tag the chain does not know is reported as null.
 * @throws RpcTransientError when no endpoint answered.
 */
export async function fetchChainHead(pool: RpcPool, signal?: AbortSignal): Promise<ChainHead> {
  const whyNot: string[] = [];
  const answers = await pool.broadcast(
    ['latest', 'safe', 'finalized'].map((tag) => ({ method: 'eth_getBlockByNumber', params: [tag, false] })),
    (outcomes, label): ChainHead => {
      const latest = unwrap(outcomes[0]!, label, 'eth_getBlockByNumber(latest)') as HeaderLike;
      if (!latest?.number || !latest.hash) throw new RpcBadResponseError(`${label}: no latest block`);
      const tag = (i: number): number | null => {
        const outcome = outcomes[i]!;
        const header = outcome.ok ? (outcome.result as HeaderLike) : null;
        return header?.number ? Number(BigInt(header.number)) : null;
      };
      return {
        head: Number(BigInt(latest.number)),
        headHash: latest.hash.toLowerCase(),
        safeBlockNumber: tag(1),
        finalizedBlockNumber: tag(2),
      };
    },
    signal,
    whyNot,
  );
  if (answers.length === 0) throw noAnswer(pool, 'the head', whyNot);
  const best = answers.reduce((a, b) => (b.head > a.head ? b : a));
  const highest = highestHeads.get(pool);
  if (highest && highest.head > best.head) {
    // A head that goes backwards is ignored, not followed, unless every endpoint keeps saying so
    // for HEAD_REGRESSION_ACCEPT_MS (the chain really got shorter, e.g. a devnet reverted).
    const since = backwardsSince.get(pool) ?? Date.now();
    backwardsSince.set(pool, since);
    if (Date.now() - since < HEAD_REGRESSION_ACCEPT_MS) return highest;
  }
  backwardsSince.delete(pool);
  const merged: ChainHead = {
    ...best,
    safeBlockNumber: maxOrNull(answers.map((a) => a.safeBlockNumber)),
    finalizedBlockNumber: maxOrNull(answers.map((a) => a.finalizedBlockNumber)),
  };
  highestHeads.set(pool, merged);
  return merged;
}

/** How long every endpoint must report a lower head before the pool follows it, in ms. */
const HEAD_REGRESSION_ACCEPT_MS = 30_000;
const backwardsSince = new WeakMap<RpcPool, number>();

/** The highest head each pool has reported, so a lagging endpoint never moves the head backwards. */
const highestHeads = new WeakMap<RpcPool, ChainHead>();

function maxOrNull(values: (number | null)[]): number | null {
  const present = values.filter((v): v is number => v !== null);
  return present.length === 0 ? null : Math.max(...present);
}

/** One endpoint's answer to {@link headsAndHashes}: its label, its head and the hashes it has. */
type HeadAndHashes = { label: string; head: number; hashes: Map<number, string> };

/**
 * Asks every usable endpoint at once, in one JSON-RPC batch, `eth_blockNumber` and
 * `eth_getBlockByNumber(n, false)` for each of `numbers`; returns each answer (a block an endpoint
 * does not have is absent from its map; hashes lower-case).
 * @throws RpcTransientError when no endpoint answered (naming each and why).
 */
async function headsAndHashes(pool: RpcPool, numbers: readonly number[], signal?: AbortSignal): Promise<HeadAndHashes[]> {
  const whyNot: string[] = [];
  const answers = await pool.broadcast(headAndHashRequests(numbers), (outcomes, label) => parseHeadAndHashes(outcomes, label, numbers), signal, whyNot);
  if (answers.length === 0) throw noAnswer(pool, `blocks ${Math.min(...numbers)}–${Math.max(...numbers)}`, whyNot);
  return answers;
}

/** The batch {@link parseHeadAndHashes} reads: `eth_blockNumber`, then `eth_getBlockByNumber(n, false)` for each of `numbers`. Pure. */
function headAndHashRequests(numbers: readonly number[]): RpcRequest[] {
  return [{ method: 'eth_blockNumber', params: [] }, ...numbers.map((n) => ({ method: 'eth_getBlockByNumber', params: [`0x${n.toString(16)}`, false] }))];
}

/**
 * Endpoint `label`'s answer to {@link headAndHashRequests}: its head and the hash of each block
 * of `numbers` it has (lower-case; absent when it answered null). Pure.
 * @throws RpcBadResponseError when the head is not a hex quantity; the classified error of a failed call.
 */
function parseHeadAndHashes(outcomes: readonly RpcOutcome[], label: string, numbers: readonly number[]): HeadAndHashes {
  const head = unwrap(outcomes[0]!, label, 'eth_blockNumber');
  if (typeof head !== 'string' || !/^0x[0-9a-f]+$/i.test(head)) throw new RpcBadResponseError(`${label}: eth_blockNumber answered ${JSON.stringify(head)}, not a quantity`);
  const hashes = new Map<number, string>();
  numbers.forEach((n, i) => {
    const header = unwrap(outcomes[i + 1]!, label, `eth_getBlockByNumber(${n})`) as HeaderLike;
    if (header?.hash) hashes.set(n, header.hash.toLowerCase());
  });
  return { label, head: Number(BigInt(head)), hashes };
}

/** The answer of the endpoint with the highest head (the first such in the pool's order). */
function highest(answers: readonly HeadAndHashes[]): HeadAndHashes {
  return answers.reduce((a, b) => (b.head > a.head ? b : a));
}

/**
 * Reads the hashes of blocks `numbers` with one JSON-RPC batch of `eth_blockNumber` and
 * `eth_getBlockByNumber(n, false)` sent to every usable endpoint, and returns those of the
 * endpoint with the highest head: a map block number → lower-case hash; a block it does not have
 * is absent. So an endpoint far behind (fast to say it has none of them, and so often the pool's
 * first choice) never hides blocks another one serves.
 * @throws RpcTransientError when no endpoint answered (naming each and why).
 */
export async function fetchBlockHashes(pool: RpcPool, numbers: readonly number[], signal?: AbortSignal): Promise<Map<number, string>> {
  return highest(await headsAndHashes(pool, numbers, signal)).hashes;
}

/**
 * Block `number`'s hash on the canonical chain as the endpoint with the highest head serves it:
 * what a range ending at `number` must end with, whichever endpoints served its blocks.
 */
export type ForkAnchor = {
  number: number;
  /** Lower-case hex. */
  hash: string;
  /** The endpoint it comes from, and that endpoint's head (block number). */
  label: string;
  head: number;
  /**
   * The head of each endpoint that answered the anchor's batch, and the hash of the block each
   * has (lower-case; absent: it lacks the block), by label; answers that come after the anchor
   * was settled are added as they come.
   */
  heads: ReadonlyMap<string, number>;
  hashes: ReadonlyMap<string, string>;
  /** Resolves once every endpoint asked has answered or failed (never rejects). */
  answered: Promise<void>;
};

/**
 * Whether endpoint `label`, found serving block `number` (default: the anchor's block) with
 * another hash than the anchor's chain has, is benched as a node on another fork: it answered the
 * anchor's batch with a head below the anchor's and above that block, so it has built on (or
 * taken a child of) a block the canonical chain does not have. Not the anchor's own endpoint (its
 * chain reorganized since), nor one whose head is that block (a node a moment behind a reorg at
 * the tip), nor one at the anchor's head (a competing block), nor one that did not answer: their
 * answer is only refused, and counted against them (`pool.refute`). Pure.
 */
export function behindOnOtherFork(label: string, anchor: ForkAnchor, number = anchor.number): boolean {
  const head = anchor.heads.get(label);
  return label !== anchor.label && head !== undefined && head < anchor.head && head > number;
}

/**
 * Reads block `number`'s hash from every usable endpoint at once ({@link fetchBlockHashes}'s
 * batch) and settles on the one of the endpoint with the highest head: as soon as an endpoint at
 * or above the highest head this pool has read ({@link fetchChainHead}) answers with the block (so
 * on a tie at that head, whichever answers first), or else once every endpoint answered (on a tie,
 * the first in the pool's order). Answers keep
 * coming into the anchor's `heads` and `hashes` after it settled: {@link anchorContradicted} looks
 * at them again before a range is committed. Endpoints that answer another hash and are behind it
 * ({@link behindOnOtherFork}) are benched (`pool.benchOtherFork`) as their answers come.
 * An incomplete answer (an endpoint failed and none answered at the highest head read: the one
 * that failed may have been the canonical one) is read once more. Null, and nothing benched, when
 * there is nothing to hold a range to, or nothing sure: fewer than two usable endpoints, the
 * endpoint with the highest head lacking the block, or an answer still incomplete. Never rejects.
 */
export async function fetchForkAnchor(pool: RpcPool, number: number, signal?: AbortSignal): Promise<ForkAnchor | null> {
  const first = await readForkAnchor(pool, number, signal);
  if (first !== INCOMPLETE) return first;
  const second = signal?.aborted ? INCOMPLETE : await readForkAnchor(pool, number, signal);
  return second === INCOMPLETE ? null : second;
}

/** What {@link readForkAnchor} settles on when an endpoint failed and none answered at the head last read. */
const INCOMPLETE = Symbol('incomplete');

/** One read of {@link fetchForkAnchor}'s batch; {@link INCOMPLETE} when it should be read again. Never rejects. */
async function readForkAnchor(pool: RpcPool, number: number, signal?: AbortSignal): Promise<ForkAnchor | null | typeof INCOMPLETE> {
  const known = highestHeads.get(pool);
  const asked = pool.usableCount(); // the endpoints the broadcast below asks
  // Not skipped below the finalized tag: the stale node may claim its own head final, and a devnet (anvil) calls every block final.
  if (asked < 2) return null;
  const heads = new Map<string, number>();
  const hashes = new Map<string, string>();
  let settled: ForkAnchor | null | typeof INCOMPLETE | undefined;
  let settle: (anchor: ForkAnchor | null | typeof INCOMPLETE) => void = () => undefined;
  let allAnswered: () => void = () => undefined;
  const answered = new Promise<void>((resolve) => { allAnswered = resolve; });
  const anchorOf = (label: string): ForkAnchor | null => {
    const hash = hashes.get(label);
    return hash === undefined ? null : { number, hash, label, head: heads.get(label)!, heads, hashes, answered };
  };
  const benchIfBehind = (label: string) => {
    const theirs = hashes.get(label);
    if (settled && settled !== INCOMPLETE && theirs !== undefined && theirs !== settled.hash && behindOnOtherFork(label, settled)) pool.benchOtherFork(label, otherForkText(label, number, theirs, settled));
  };
  const result = new Promise<ForkAnchor | null | typeof INCOMPLETE>((resolve) => {
    settle = (anchor) => {
      if (settled !== undefined) return;
      settled = anchor;
      resolve(anchor);
      for (const label of hashes.keys()) benchIfBehind(label);
    };
  });
  void pool.broadcast(
    headAndHashRequests([number]),
    (outcomes, label) => {
      const answer = parseHeadAndHashes(outcomes, label, [number]);
      heads.set(label, answer.head);
      const hash = answer.hashes.get(number);
      if (hash !== undefined) hashes.set(label, hash);
      if (known !== undefined && heads.get(label)! >= known.head && hashes.has(label)) settle(anchorOf(label));
      else benchIfBehind(label);
    },
    signal,
  ).finally(allAnswered).then(() => {
    if (heads.size === 0) return settle(INCOMPLETE);
    // The highest head; on a tie, the first in the pool's order (not the first to answer): the same anchor every time.
    const best = pool.labels.filter((label) => heads.has(label)).reduce((a, b) => (heads.get(b)! > heads.get(a)! ? b : a));
    // Every usable endpoint answered, or the best one is at the highest head read: else the canonical one may be among those that failed.
    settle(heads.size >= asked || (known !== undefined && heads.get(best)! >= known.head) ? anchorOf(best) : INCOMPLETE);
  }, () => settle(INCOMPLETE));
  return result;
}

/**
 * Why `anchor` no longer holds, from the answers its batch got after it settled: an endpoint with
 * a higher head than the anchor's has another hash for the block (a reorg at the tip the anchor's
 * endpoint had not seen yet): `b#2 (head 21) has block 20 with hash 0xaa…, not 0xbb… as a#1
 * (head 20) had it`. Null when none does. Pure (reads the anchor's maps as they stand).
 */
export function anchorContradicted(anchor: ForkAnchor): string | null {
  for (const [label, head] of anchor.heads) {
    const theirs = anchor.hashes.get(label);
    if (head > anchor.head && theirs !== undefined && theirs !== anchor.hash) {
      return `${label} (head ${head}) has block ${anchor.number} with hash ${theirs}, not ${anchor.hash} as ${anchor.label} (head ${anchor.head}) had it`;
    }
  }
  return null;
}

/**
 * Why endpoint `label` is on another fork: `a#2: block 20 has hash 0xaa…, but b#1 (head 22, the
 * highest) has 0xbb…: a#2 serves another fork`. Pure.
 */
export function otherForkText(label: string, number: number, hash: string, anchor: ForkAnchor): string {
  return `${label}: block ${number} has hash ${hash}, but ${anchor.label} (head ${anchor.head}, the highest) has ${anchor.hash}: ${label} serves another fork`;
}

/** The error of a broadcast no endpoint answered: each endpoint and why (`whyNot`), else their labels. */
function noAnswer(pool: RpcPool, what: string, whyNot: readonly string[]): RpcTransientError {
  return new RpcTransientError(`no RPC endpoint answered ${what} (${whyNot.length > 0 ? whyNot.join('; ') : pool.labels.join(', ')})`);
}
