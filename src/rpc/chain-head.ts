import type { ChainHead } from '../domain/finality.js';
import { RpcBadResponseError, RpcTransientError } from '../errors.js';
import type { RpcPool } from './pool.js';
import { unwrap } from './pool.js';

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
  const answers = await pool.broadcast(
    [{ method: 'eth_blockNumber', params: [] }, ...numbers.map((n) => ({ method: 'eth_getBlockByNumber', params: [`0x${n.toString(16)}`, false] }))],
    (outcomes, label): HeadAndHashes => {
      const head = unwrap(outcomes[0]!, label, 'eth_blockNumber');
      if (typeof head !== 'string' || !/^0x[0-9a-f]+$/i.test(head)) throw new RpcBadResponseError(`${label}: eth_blockNumber answered ${JSON.stringify(head)}, not a quantity`);
      const hashes = new Map<number, string>();
      numbers.forEach((n, i) => {
        const header = unwrap(outcomes[i + 1]!, label, `eth_getBlockByNumber(${n})`) as HeaderLike;
        if (header?.hash) hashes.set(n, header.hash.toLowerCase());
      });
      return { label, head: Number(BigInt(head)), hashes };
    },
    signal,
    whyNot,
  );
  if (answers.length === 0) throw noAnswer(pool, `blocks ${Math.min(...numbers)}–${Math.max(...numbers)}`, whyNot);
  return answers;
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
  /** The head of each endpoint that answered, by label. */
  heads: ReadonlyMap<string, number>;
};

/**
 * Whether endpoint `label`, found with another hash than `anchor` for a block, is behind the
 * endpoint with the highest head and so benched as a node on another fork: true when it answered
 * the anchor's batch with a lower head. Not the anchor's own endpoint (its chain reorganized
 * since), nor one at the same head (a competing block at the tip), nor one that did not answer:
 * their answer is refused without a bench. Pure.
 */
export function behindOnOtherFork(label: string, anchor: ForkAnchor): boolean {
  const head = anchor.heads.get(label);
  return label !== anchor.label && head !== undefined && head < anchor.head;
}

/**
 * Reads block `number`'s hash from every usable endpoint at once ({@link fetchBlockHashes}'s
 * batch) and returns the one of the endpoint with the highest head, after benching
 * (`pool.benchOtherFork`) every endpoint behind it that answered another hash for it: a node on
 * another fork ({@link behindOnOtherFork}). Null when the endpoint with the highest head does not
 * have the block.
 * @throws RpcTransientError when no endpoint answered.
 */
export async function fetchForkAnchor(pool: RpcPool, number: number, signal?: AbortSignal): Promise<ForkAnchor | null> {
  const answers = await headsAndHashes(pool, [number], signal);
  const best = highest(answers);
  const hash = best.hashes.get(number);
  if (hash === undefined) return null;
  const anchor: ForkAnchor = { number, hash, label: best.label, head: best.head, heads: new Map(answers.map((a) => [a.label, a.head])) };
  for (const answer of answers) {
    const theirs = answer.hashes.get(number);
    if (theirs !== undefined && theirs !== hash && behindOnOtherFork(answer.label, anchor)) pool.benchOtherFork(answer.label, otherForkText(answer.label, number, theirs, anchor));
  }
  return anchor;
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
