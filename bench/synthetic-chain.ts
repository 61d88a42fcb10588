/**
 * The synthetic chain server as a process: serves a deterministic chain of `--blocks` blocks of a
 * profile over JSON-RPC (see chain/server.ts), prints one JSON line `{"url": …}` when it listens,
 * and serves `GET /stats` (requests, calls, its own CPU time) until SIGTERM/SIGINT.
 *
 * Run: `npx tsx bench/synthetic-chain.ts --profile mainnet --blocks 2000 --latency-ms 100`
 * Options: --profile mainnet|light, --blocks <n>, --latency-ms <ms per HTTP request>,
 * --rate-limit <requests/s per URL path, 0 = none>, --chain-id <EIP-155 id>, --port <port, 0 = free>,
 * --max-in-flight <HTTP requests served at once per URL path, 0 = no cap>, --cache-mb <MiB of
 * serialized blocks kept; default half the free memory>, --prewarm (serialize them before listening).
 */
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { createSyntheticChain, PROFILES } from './chain/generate.js';
import { startSyntheticServer } from './chain/server.js';

export { createSyntheticChain, PROFILES, type ChainProfile, type SyntheticChain, type SyntheticBundle } from './chain/generate.js';
export { startSyntheticServer, type SyntheticServer, type ServerStats } from './chain/server.js';

/** A parser of an integer option of at least `min`. @throws InvalidArgumentError naming the value. */
function integerAtLeast(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer ≥ ${min}, got ${value}`);
    return n;
  };
}

/** Parses a non-negative integer option. @throws InvalidArgumentError naming the value. */
export const nonNegativeInteger = integerAtLeast(0);

/** Parses a positive integer option. @throws InvalidArgumentError naming the value. */
export const positiveInteger = integerAtLeast(1);

/** Parses a profile name. @throws InvalidArgumentError listing the profiles. */
export function profileName(value: string): string {
  if (!(value in PROFILES)) throw new InvalidArgumentError(`expected one of ${Object.keys(PROFILES).join(', ')}, got ${value}`);
  return value;
}

async function main(): Promise<void> {
  const opts = new Command('synthetic-chain')
    .option('--profile <name>', 'mainnet or light', profileName, 'mainnet')
    .option('--blocks <n>', 'blocks served (0..n−1)', nonNegativeInteger, 1_000)
    .option('--latency-ms <ms>', 'round trip added to every HTTP request', nonNegativeInteger, 100)
    .option('--rate-limit <n>', 'requests per second per URL path (0 = none)', nonNegativeInteger, 0)
    .option('--chain-id <id>', 'EIP-155 chain id', nonNegativeInteger, 1)
    .option('--port <port>', 'port (0 = a free one)', nonNegativeInteger, 0)
    .option('--max-in-flight <n>', 'HTTP requests served at once per URL path, others wait (0 = no cap)', nonNegativeInteger, 0)
    .option('--cache-mb <mb>', 'serialized blocks kept in memory (default: half the free memory)', nonNegativeInteger)
    .option('--prewarm', 'serialize blocks into the cache before listening')
    .parse()
    .opts<{ profile: string; blocks: number; latencyMs: number; rateLimit: number; chainId: number; port: number; cacheMb?: number; prewarm?: boolean; maxInFlight: number }>();
  const chain = createSyntheticChain(PROFILES[opts.profile]!, opts.chainId);
  const server = await startSyntheticServer({ chain, blocks: opts.blocks, latencyMs: opts.latencyMs, rateLimit: opts.rateLimit, port: opts.port, ...(opts.cacheMb === undefined ? {} : { cacheMb: opts.cacheMb }), prewarm: opts.prewarm === true, maxInFlight: opts.maxInFlight });
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
  const stop = () => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
