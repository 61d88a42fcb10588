/**
 * `npm run devnet` (`npx tsx scripts/devnet.ts`): a local anvil chain with real traffic for running the
 * indexer by hand. Starts anvil on 127.0.0.1, mines the initial traffic of `generateTraffic`, prints one
 * line `devnet ready at http://127.0.0.1:<port> (chain <chainId>, blocks 0..<n>)`, then mines a block every
 * `DEVNET_BLOCK_TIME_MS` with an ETH and an ERC-20 transfer every few blocks until SIGINT or SIGTERM, and
 * stops anvil. When the port already serves an anvil, it says so and exits 0.
 *
 * | variable               | unit                | default |
 * | ---------------------- | ------------------- | ------- |
 * | `DEVNET_PORT`          | TCP port            | 8545    |
 * | `DEVNET_CHAIN_ID`      | EIP-155 chain ID    | 31337   |
 * | `DEVNET_BLOCK_TIME_MS` | ms between blocks   | 1000    |
 *
 * Exit codes: 0 after a signal or when an anvil already runs; 1 on a bad variable or a failed start.
 * @example DEVNET_PORT=8546 DEVNET_BLOCK_TIME_MS=500 npx tsx scripts/devnet.ts
 */
import { generateTraffic, keepMining, probeNode, startAnvil, type Anvil, type MiningLoop } from '../test/support/devnet.js';

/** Port anvil listens on unless `DEVNET_PORT` says otherwise: the usual local JSON-RPC port. */
const DEFAULT_PORT = 8545;
/** Chain ID unless `DEVNET_CHAIN_ID` says otherwise: anvil's own default. */
const DEFAULT_CHAIN_ID = 31337;
/** Interval between mined blocks unless `DEVNET_BLOCK_TIME_MS` says otherwise, in ms. */
const DEFAULT_BLOCK_TIME_MS = 1000;
/** Largest TCP port number. */
const MAX_PORT = 65_535;

type DevnetConfig = { port: number; chainId: number; blockTimeMs: number };

/** Reads the three DEVNET_* variables; reports every bad one at once. */
function parseDevnetEnv(env: NodeJS.ProcessEnv): DevnetConfig | { problems: string[] } {
  const problems: string[] = [];
  const read = (name: string, fallback: number, min: number, max: number, shape: string): number => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return fallback;
    const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) problems.push(`${name}=${raw}: expected ${shape}`);
    return value;
  };
  const port = read('DEVNET_PORT', DEFAULT_PORT, 1, MAX_PORT, `an integer port 1..${MAX_PORT}`);
  const chainId = read('DEVNET_CHAIN_ID', DEFAULT_CHAIN_ID, 1, Number.MAX_SAFE_INTEGER, 'an integer chain ID ≥ 1');
  const blockTimeMs = read('DEVNET_BLOCK_TIME_MS', DEFAULT_BLOCK_TIME_MS, 1, Number.MAX_SAFE_INTEGER, 'an integer ≥ 1 (ms)');
  return problems.length > 0 ? { problems } : { port, chainId, blockTimeMs };
}

/** How long the mining waits after a failed request before it starts again, in ms. */
const MINING_RETRY_MS = 5_000;

async function main(): Promise<number> {
  const config = parseDevnetEnv(process.env);
  if ('problems' in config) {
    process.stderr.write(`devnet: bad environment:\n  ${config.problems.join('\n  ')}\n`);
    return 1;
  }
  const rpcUrl = `http://127.0.0.1:${config.port}`;
  const running = await probeNode(rpcUrl);
  if (running !== undefined && running.clientVersion.toLowerCase().startsWith('anvil')) {
    console.log(`devnet already running at ${rpcUrl} (chain ${running.chainId}, ${running.clientVersion}); not starting another`);
    return 0;
  }
  let anvil: Anvil | undefined;
  let mining: MiningLoop | undefined;
  let exitCode: number | undefined;
  let release = (_code: number): void => {};
  const released = new Promise<number>((resolve) => { release = resolve; });
  const requestStop = (code: number): void => { exitCode ??= code; release(exitCode); };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => requestStop(0));
  try {
    anvil = await startAnvil({ port: config.port, chainId: config.chainId, quiet: true });
    const summary = exitCode === undefined ? await generateTraffic(anvil.rpcUrl) : undefined;
    if (summary !== undefined && exitCode === undefined) {
      console.log(`devnet ready at ${anvil.rpcUrl} (chain ${config.chainId}, blocks 0..${summary.toBlock})`);
      const url = anvil.rpcUrl;
      // A mining request that fails (anvil stopped with SIGSTOP, or too busy to answer in time) pauses
      // the mining, which starts again MINING_RETRY_MS later: the devnet outlives an endpoint outage
      // a test of the indexer makes on purpose.
      const mine = (): void => {
        mining = keepMining(url, {
          blockTimeMs: config.blockTimeMs,
          tokenAddress: summary.tokenAddress,
          onError: (err) => {
            if (exitCode !== undefined) return;
            const gone = anvil?.exitReason();
            if (gone !== undefined) {
              process.stderr.write(`devnet: anvil ${gone}; stopping\n`);
              requestStop(1);
              return;
            }
            process.stderr.write(`devnet: mining paused: ${errorMessage(err).split("\n")[0]}; trying again in ${MINING_RETRY_MS / 1000} s\n`);
            setTimeout(() => { if (exitCode === undefined) mine(); }, MINING_RETRY_MS);
          },
        });
      };
      mine();
    }
  } catch (err) {
    process.stderr.write(`devnet: ${errorMessage(err)}\n`);
    requestStop(1);
  }
  const code = await released;
  try {
    await mining?.stop();
  } finally {
    await anvil?.stop();
  }
  return code;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

process.exitCode = await main();
