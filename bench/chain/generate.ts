/**
 * A deterministic synthetic EVM chain for the throughput bench: block n is a pure function of n
 * and the profile, blocks link through `parentHash`, every transaction has exactly one receipt in
 * its block, logs carry their block's hash and a per-block `logIndex`. Hashes are not keccak of
 * RLP, but unique and consistent: a hash's last 10 bytes say what it names (kind, block number,
 * index), its first 22 bytes look random (so index inserts land anywhere, as with real hashes).
 * Shapes (calldata sizes, log topics and data sizes, type mix, field sets) come from recorded
 * mainnet blocks (see shapes.ts). Bench support only: `src/` never imports it.
 */
import { recordedShapes } from './shapes.js';

/** How busy blocks are. `transactions` and `logsPerTransaction` are means per block / per transaction. */
export type ChainProfile = { name: string; transactions: number; logsPerTransaction: number; withdrawals: number };

/** `mainnet`: ≈150 transactions of types 0/2/3/4 and ≈300 logs per block; `light`: ≈10 and ≈20. */
export const PROFILES: Readonly<Record<string, ChainProfile>> = {
  mainnet: { name: 'mainnet', transactions: 150, logsPerTransaction: 2, withdrawals: 16 },
  light: { name: 'light', transactions: 10, logsPerTransaction: 2, withdrawals: 0 },
};

/** Share of each transaction type (EIP-2718), close to recorded mainnet blocks (mostly EIP-1559). */
const TYPE_MIX: readonly (readonly [number, number])[] = [[0, 0.1], [2, 0.84], [3, 0.02], [4, 0.04]];
/** Logs per transaction, drawn uniformly from this list (mean 2, like recorded blocks: many none, a few swaps with 4–6). */
const LOG_COUNTS = [0, 0, 0, 1, 1, 1, 2, 2, 3, 4, 4, 6];
/** Distinct senders/contracts; logs concentrate on a few of them, as on mainnet. */
const ADDRESS_COUNT = 4_096;
/** Event signatures used as topic0 (Transfer, Approval, Swap, Sync, Deposit, …): a few hot topic0 values. */
const TOPIC0_COUNT = 24;
/** Random hex the generator slices from, in hex characters (512 KiB of bytes). */
const POOL_CHARS = 1 << 20;
const GENESIS_TIMESTAMP_S = 1_700_000_000;
const BLOCK_TIME_S = 12;

type Json = Record<string, unknown>;
/** One block as `eth_getBlockByNumber(n, true)` and `eth_getBlockReceipts(n)` return it. */
export type SyntheticBundle = { block: Json & { transactions: Json[] }; receipts: (Json & { logs: Json[] })[] };

/** A synthetic chain: blocks by number, hashes, and the block of a transaction hash. */
export type SyntheticChain = {
  readonly profile: ChainProfile;
  readonly chainId: number;
  /** Block `blockNumber` with full transactions and its receipts. Pure and deterministic. */
  bundle(blockNumber: number): SyntheticBundle;
  /** Hash of block `blockNumber` (0x, 32 bytes). */
  blockHash(blockNumber: number): string;
  /** Block number and transaction index a transaction hash of this chain names, or null. */
  locateTransaction(hash: string): { blockNumber: number; transactionIndex: number } | null;
};

const pool = makePool();

/** Creates the chain of `profile` for chain id `chainId` (EIP-155). */
export function createSyntheticChain(profile: ChainProfile, chainId: number): SyntheticChain {
  const shapes = recordedShapes();
  const blockHash = (n: number) => hash(1, n, 0);
  const chainIdHex = hex(chainId);
  return {
    profile,
    chainId,
    blockHash,
    locateTransaction: (h) => {
      const tail = h.slice(-20);
      if (h.length !== 66 || tail.slice(0, 2) !== '02') return null;
      return { blockNumber: parseInt(tail.slice(2, 14), 16), transactionIndex: parseInt(tail.slice(14), 16) };
    },
    bundle: (n) => makeBundle(n, profile, chainIdHex, shapes, blockHash),
  };
}

function makeBundle(
  n: number,
  profile: ChainProfile,
  chainIdHex: string,
  shapes: ReturnType<typeof recordedShapes>,
  blockHash: (n: number) => string,
): SyntheticBundle {
  const rand = mulberry32(n * 2_654_435_761 + 17);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const number = hex(n);
  const bh = blockHash(n);
  const count = Math.max(0, Math.round(profile.transactions * (0.8 + 0.4 * rand())));
  const baseFee = 5_000_000_000 + Math.floor(rand() * 20_000_000_000);
  const transactions: Json[] = [];
  const receipts: (Json & { logs: Json[] })[] = [];
  let cumulativeGas = 0;
  let logIndex = 0;
  for (let i = 0; i < count; i++) {
    const type = pickType(rand());
    const txHash = hash(2, n, i);
    const from = address(Math.floor(rand() * ADDRESS_COUNT));
    const to = address(Math.floor(rand() * ADDRESS_COUNT));
    const calldata = pick(shapes.calldataBytes);
    const tip = 1_000_000 + Math.floor(rand() * 2_000_000_000);
    const tx: Json = {
      blockHash: bh, blockNumber: number, from, gas: hex(21_000 + calldata * 20 + Math.floor(rand() * 200_000)),
      gasPrice: hex(baseFee + tip), hash: txHash, input: `0x${slice(rand(), calldata * 2)}`, nonce: hex(Math.floor(rand() * 100_000)),
      to, transactionIndex: hex(i), value: rand() < 0.5 ? '0x0' : hex(Math.floor(rand() * 2 ** 52)), type: hex(type), chainId: chainIdHex,
    };
    if (type === 0) tx.v = hex(37 + (i & 1));
    else {
      tx.maxPriorityFeePerGas = hex(tip);
      tx.maxFeePerGas = hex(baseFee * 2 + tip);
      tx.accessList = [];
    }
    if (type === 3) {
      tx.maxFeePerBlobGas = hex(1_000_000_000);
      tx.blobVersionedHashes = Array.from({ length: 1 + (i % 6) }, (_, k) => `0x01${hash(3, n, i * 8 + k).slice(4)}`);
    }
    if (type === 4) {
      tx.authorizationList = [{ chainId: chainIdHex, address: address(i), nonce: hex(i), yParity: '0x1', r: word(rand()), s: word(rand()) }];
    }
    if (type !== 0) {
      tx.v = hex(i & 1);
      tx.yParity = hex(i & 1);
    }
    tx.r = word(rand());
    tx.s = word(rand());
    transactions.push(tx);

    const logs: Json[] = [];
    const logCount = Math.round(pick(LOG_COUNTS) * (profile.logsPerTransaction / 2));
    for (let k = 0; k < logCount; k++) {
      const [topicCount, dataBytes] = pick(shapes.logShapes);
      const topics = topicCount === 0 ? [] : [topic0(Math.floor(rand() * rand() * TOPIC0_COUNT))];
      for (let t = 1; t < topicCount; t++) topics.push(`0x000000000000000000000000${address(Math.floor(rand() * ADDRESS_COUNT)).slice(2)}`);
      logs.push({
        address: address(Math.floor(rand() * rand() * ADDRESS_COUNT)), topics, data: `0x${slice(rand(), dataBytes * 2)}`,
        blockNumber: number, transactionHash: txHash, transactionIndex: hex(i), blockHash: bh, logIndex: hex(logIndex++),
        removed: false, blockTimestamp: hex(GENESIS_TIMESTAMP_S + n * BLOCK_TIME_S),
      });
    }
    const gasUsed = 21_000 + calldata * 16 + logCount * 3_000;
    cumulativeGas += gasUsed;
    const receipt: Json & { logs: Json[] } = {
      blockHash: bh, blockNumber: number, contractAddress: null, cumulativeGasUsed: hex(cumulativeGas), effectiveGasPrice: hex(baseFee + tip),
      from, gasUsed: hex(gasUsed), logs, logsBloom: bloom(logs.length > 0, rand()), status: rand() < 0.03 ? '0x0' : '0x1', to,
      transactionHash: txHash, transactionIndex: hex(i), type: hex(type),
    };
    if (type === 3) {
      receipt.blobGasUsed = hex(131_072 * (1 + (i % 6)));
      receipt.blobGasPrice = hex(1);
    }
    receipts.push(receipt);
  }
  const block = {
    baseFeePerGas: hex(baseFee), blobGasUsed: '0x0', difficulty: '0x0', excessBlobGas: '0x0', extraData: `0x${slice(rand(), 22)}`,
    gasLimit: hex(36_000_000), gasUsed: hex(cumulativeGas), hash: bh, logsBloom: bloom(logIndex > 0, rand()),
    miner: address(Math.floor(rand() * 64)), mixHash: word(rand()), nonce: '0x0000000000000000', number,
    parentBeaconBlockRoot: word(rand()), parentHash: n === 0 ? `0x${'0'.repeat(64)}` : blockHash(n - 1), receiptsRoot: word(rand()),
    requestsHash: word(rand()), sha3Uncles: '0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347',
    size: hex(1_000 + count * 400), stateRoot: word(rand()), timestamp: hex(GENESIS_TIMESTAMP_S + n * BLOCK_TIME_S), transactions,
    transactionsRoot: word(rand()), uncles: [],
    withdrawals: Array.from({ length: profile.withdrawals }, (_, k) => ({
      index: hex(n * profile.withdrawals + k), validatorIndex: hex(100_000 + ((n * 7 + k) % 900_000)), address: address(k), amount: hex(15_000_000 + k),
    })),
    withdrawalsRoot: word(rand()),
  };
  return { block, receipts };
}

function pickType(r: number): number {
  let acc = 0;
  for (const [type, share] of TYPE_MIX) {
    acc += share;
    if (r < acc) return type;
  }
  return 2;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** 32 bytes naming (kind, blockNumber, index): 22 random-looking bytes, then kind (1 byte), number (6), index (3). */
function hash(kind: number, blockNumber: number, index: number): string {
  const seed = mix(kind * 1_000_003 + blockNumber * 7_919 + index * 104_729);
  return `0x${pool.slice(seed % (POOL_CHARS - 44), (seed % (POOL_CHARS - 44)) + 44)}${kind.toString(16).padStart(2, '0')}${blockNumber.toString(16).padStart(12, '0')}${index.toString(16).padStart(6, '0')}`;
}

function address(i: number): string {
  const at = mix(i + 77) % (POOL_CHARS - 32);
  return `0x${pool.slice(at, at + 32)}${i.toString(16).padStart(8, '0')}`;
}

function topic0(i: number): string {
  const at = mix(i + 991) % (POOL_CHARS - 64);
  return `0x${pool.slice(at, at + 64)}`;
}

function word(r: number): string {
  return `0x${slice(r, 64)}`;
}

function bloom(nonZero: boolean, r: number): string {
  return nonZero ? `0x${slice(r, 512)}` : `0x${'0'.repeat(512)}`;
}

/** `chars` hex characters from the pool starting at a position chosen by `r` ∈ [0, 1). */
function slice(r: number, chars: number): string {
  if (chars <= POOL_CHARS) {
    const at = Math.floor(r * (POOL_CHARS - chars));
    return pool.slice(at, at + chars);
  }
  return pool.repeat(Math.ceil(chars / POOL_CHARS)).slice(0, chars);
}

function makePool(): string {
  const rand = mulberry32(42);
  const bytes = Buffer.alloc(POOL_CHARS / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rand() * 256);
  return bytes.toString('hex');
}

/** A 32-bit integer hash (murmur3's finaliser), non-negative. */
function mix(x: number): number {
  let h = Math.imul((x ^ (x >>> 16)) >>> 0, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Small fast seeded PRNG (mulberry32), values in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
