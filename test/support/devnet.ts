/**
 * Local EVM devnet for integration tests and `npm run devnet`: starts anvil from `node_modules`, sends
 * real, mined traffic (legacy, EIP-2930 and EIP-1559 transfers, an ERC-20 with Transfer and Approval
 * logs, a reverted transaction, a block with several transactions, empty blocks) and keeps a chain growing.
 * Test support only: it may spawn processes and talk JSON-RPC; `src/` never imports it.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { connect, createServer } from 'node:net';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  createPublicClient, createTestClient, defineChain, getContractAddress, http, parseAbi, parseEther,
  parseUnits, publicActions, walletActions, zeroHash,
  type Address, type Hash, type Hex, type TransactionReceipt,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';

/** EIP-155 chain ID anvil uses unless told otherwise. */
const DEFAULT_CHAIN_ID = 31337;
/** How long startAnvil waits for `eth_chainId` to answer, in ms; a cold anvil needs well under 2 s. */
const STARTUP_TIMEOUT_MS = 20_000;
/** Delay between `eth_chainId` probes while anvil starts, in ms. */
const STARTUP_POLL_INTERVAL_MS = 100;
/** Timeout of one JSON-RPC probe, in ms. */
const PROBE_TIMEOUT_MS = 1_000;
/** How long stop() waits for anvil to exit and free its port after SIGTERM before SIGKILL, in ms. */
const STOP_GRACE_MS = 5_000;
/** Delay between exit checks while stopping, in ms. */
const STOP_POLL_INTERVAL_MS = 25;
/** Lines of anvil output kept for error messages. */
const OUTPUT_TAIL_LINES = 20;
/** viem polling interval, in ms: anvil mines on submission, so short polls keep tests fast. */
const POLLING_INTERVAL_MS = 50;
/** How long to wait for one receipt, in ms. */
const RECEIPT_TIMEOUT_MS = 10_000;
/** Gas limit of the transfer meant to revert, in gas; set so the node does not estimate (and refuse) it. */
const REVERT_GAS = 100_000n;
/** Token sent by the reverting transfer, in wei of the token: above the whole supply. */
const REVERT_AMOUNT = parseUnits('1000000000', 18);
/** ERC-20 name and symbol of the devnet token. */
const TOKEN_NAME = 'Devnet Token';
const TOKEN_SYMBOL = 'DEV';
/** Supply minted to the owner by the ERC-20 constructor, in wei of the token (1e6 tokens). */
const TOKEN_SUPPLY = parseUnits('1000000', 18);
/** Default number of single-transaction ERC-20 transfers generateTraffic sends. */
const DEFAULT_TOKEN_TRANSFER_COUNT = 3;
/** Default number of empty blocks generateTraffic mines at the end. */
const DEFAULT_EMPTY_BLOCK_COUNT = 3;
/** Default number of mined blocks between two rounds of keepMining traffic. */
const DEFAULT_TRAFFIC_EVERY_BLOCKS = 3;

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ANVIL_BIN = fileURLToPath(new URL('../../node_modules/.bin/anvil', import.meta.url));

/** Private keys of anvil's first dev accounts (mnemonic `test test … junk`); public knowledge, devnet only. */
const DEV_PRIVATE_KEYS = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
  '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a',
  '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba',
  '0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e',
] as const satisfies readonly Hex[];

/** Anvil's dev accounts 0..6, each funded with 10 000 ETH at genesis. Account 0 owns the ERC-20. */
export const DEV_ACCOUNTS = DEV_PRIVATE_KEYS.map((key) => privateKeyToAccount(key));
const [A0, A1, A2, A3, A4, A5, A6] = DEV_ACCOUNTS as [
  (typeof DEV_ACCOUNTS)[number], (typeof DEV_ACCOUNTS)[number], (typeof DEV_ACCOUNTS)[number],
  (typeof DEV_ACCOUNTS)[number], (typeof DEV_ACCOUNTS)[number], (typeof DEV_ACCOUNTS)[number],
  (typeof DEV_ACCOUNTS)[number],
];

/** ABI of OpenZeppelin 4.9.6 `ERC20PresetFixedSupply`, restricted to what the devnet calls and decodes. */
export const TOKEN_ABI = parseAbi([
  'constructor(string name, string symbol, uint256 initialSupply, address owner)',
  'function transfer(address to, uint256 amount) returns (bool)',
  'function transferFrom(address from, address to, uint256 amount) returns (bool)',
  'function approve(address spender, uint256 amount) returns (bool)',
  'function balanceOf(address account) view returns (uint256)',
  'event Transfer(address indexed from, address indexed to, uint256 value)',
  'event Approval(address indexed owner, address indexed spender, uint256 value)',
]);
const TOKEN_BYTECODE = loadTokenBytecode();

function loadTokenBytecode(): Hex {
  const require = createRequire(import.meta.url);
  const artifact: unknown = require('@openzeppelin/contracts/build/contracts/ERC20PresetFixedSupply.json');
  const bytecode = (artifact as { bytecode?: unknown }).bytecode;
  if (typeof bytecode !== 'string' || !/^0x[0-9a-f]+$/i.test(bytecode)) {
    throw new Error('ERC20PresetFixedSupply.json has no creation bytecode (expected 0x-prefixed hex)');
  }
  return bytecode as Hex;
}

// ---------------------------------------------------------------------------------------------- anvil

/** A running anvil. `rpcUrl` is `http://127.0.0.1:<port>`; stop() is idempotent. */
export type Anvil = {
  rpcUrl: string; port: number; stop(): Promise<void>;
  /** Why anvil's process ended (`exited with SIGKILL`, `exited with code 1`), or undefined while it runs. */
  exitReason(): string | undefined;
};

/** Options of {@link startAnvil}. `quiet` (default true) drops anvil's output instead of copying it to stderr. */
export type StartAnvilOptions = { port?: number; chainId?: number; blockTimeSeconds?: number; quiet?: boolean };

/**
 * Spawns `node_modules/.bin/anvil` on 127.0.0.1 in its own process group and waits until `eth_chainId`
 * answers with `chainId` (default 31337). `port` defaults to a free TCP port; `blockTimeSeconds` (s) turns
 * on interval mining, otherwise anvil automines one block per transaction. stop() sends SIGTERM to the
 * group, waits until the wrapper has exited and the port is closed (at most 5 s), then SIGKILLs what is left;
 * the group also gets SIGKILL when this process exits.
 * Without `port`, a start whose port another process took first is tried again on a new one (at most 5 times).
 * @throws Error when an explicit `port` is already in use, or anvil exits early or does not answer within
 * 20 s; the message ends with anvil's last output lines.
 * @example const anvil = await startAnvil({}); try { … anvil.rpcUrl … } finally { await anvil.stop(); }
 */
export async function startAnvil(opts: StartAnvilOptions = {}): Promise<Anvil> {
  if (opts.port !== undefined) {
    if (await isPortOpen(opts.port)) throw new Error(`port ${opts.port} on 127.0.0.1 is already in use`);
    return startAnvilOn(opts.port, opts);
  }
  return retryOnPortTaken(async () => startAnvilOn(await freePort(), opts));
}

/** How many free ports a start tries when another process takes the one freePort gave before the server binds it. */
const PORT_ATTEMPTS = 5;

/**
 * Calls `start` until it does not fail with "address already in use" (any case), at most {@link PORT_ATTEMPTS}
 * times. freePort() closes its listener before the server binds the port, so a process started in between
 * (another test file's server, an outgoing connection's ephemeral port) can take it; a new port is then the cure.
 * @throws the last error of `start`, or the first one that is not about a port in use.
 */
export async function retryOnPortTaken<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= PORT_ATTEMPTS || !/address already in use/i.test(String((err as Error).message))) throw err;
    }
  }
}

async function startAnvilOn(port: number, opts: StartAnvilOptions): Promise<Anvil> {
  const chainId = opts.chainId ?? DEFAULT_CHAIN_ID;
  const args = ['--host', '127.0.0.1', '--port', String(port), '--chain-id', String(chainId)];
  if (opts.blockTimeSeconds !== undefined) args.push('--block-time', String(opts.blockTimeSeconds));
  const child = spawn(ANVIL_BIN, args, {
    cwd: REPO_ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TARGET_TOOL: 'anvil' },
  });
  const tail: string[] = [];
  keepTail(child.stdout, tail, opts.quiet === false);
  keepTail(child.stderr, tail, opts.quiet === false);
  let exitReason: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('error', (err) => { exitReason ??= `failed to spawn ${ANVIL_BIN}: ${err.message}`; resolve(); });
    child.once('exit', (code, signal) => { exitReason ??= `exited with ${signal ?? `code ${code}`}`; resolve(); });
  });
  const pid = child.pid;
  const killOnExit = (): void => { if (pid !== undefined) killGroup(pid, 'SIGKILL'); };
  process.once('exit', killOnExit);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= (async () => {
    process.off('exit', killOnExit);
    if (pid === undefined) return;
    killGroup(pid, 'SIGTERM');
    const deadline = Date.now() + STOP_GRACE_MS;
    while ((exitReason === undefined || (await isPortOpen(port))) && Date.now() < deadline) await delay(STOP_POLL_INTERVAL_MS);
    killGroup(pid, 'SIGKILL');
    await exited;
  })());
  const rpcUrl = `http://127.0.0.1:${port}`;
  try {
    // Probed only once anvil said it listens on the port: another test file's anvil may hold it (freePort's race), and answer.
    const listening = `Listening on 127.0.0.1:${port}`;
    await waitForChainId(rpcUrl, chainId, () => exitReason, tail, () => tail.some((line) => line.includes(listening)));
  } catch (err) {
    await stop();
    throw err;
  }
  return { rpcUrl, port, stop, exitReason: () => exitReason };
}

/**
 * Asks `rpcUrl` for `eth_chainId` and `web3_clientVersion` (JSON-RPC), each with a 1 s timeout.
 * Returns undefined when nothing answers; never throws. Use it to tell whether a port already serves a node.
 */
export async function probeNode(rpcUrl: string): Promise<{ chainId: number; clientVersion: string } | undefined> {
  const chainId = await probeRpc(rpcUrl, 'eth_chainId');
  if (typeof chainId !== 'string' || !/^0x[0-9a-f]+$/i.test(chainId)) return undefined;
  const clientVersion = await probeRpc(rpcUrl, 'web3_clientVersion');
  return { chainId: Number(chainId), clientVersion: typeof clientVersion === 'string' ? clientVersion : 'unknown' };
}

async function waitForChainId(
  rpcUrl: string, chainId: number, exitReason: () => string | undefined, tail: readonly string[], listening: () => boolean,
): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  const lastLines = (): string => (tail.length > 0 ? `; last output:\n${tail.join('\n')}` : '; no output');
  let heard = false;
  for (;;) {
    const reason = exitReason();
    if (reason !== undefined) throw new Error(`anvil ${reason} before answering eth_chainId at ${rpcUrl}${lastLines()}`);
    heard ||= listening();
    const answer = heard ? await probeRpc(rpcUrl, 'eth_chainId') : undefined;
    if (typeof answer === 'string' && exitReason() === undefined) {
      if (Number(answer) === chainId) return;
      throw new Error(`eth_chainId at ${rpcUrl} answered ${Number(answer)}, expected ${chainId}${lastLines()}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`anvil did not answer eth_chainId at ${rpcUrl} within ${STARTUP_TIMEOUT_MS} ms${lastLines()}`);
    }
    await delay(STARTUP_POLL_INTERVAL_MS);
  }
}

async function probeRpc(rpcUrl: string, method: string): Promise<unknown> {
  try {
    const response = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: [] }),
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    const body = (await response.json()) as { result?: unknown };
    return body.result;
  } catch {
    return undefined;
  }
}

function keepTail(stream: Readable | null, tail: string[], echo: boolean): void {
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    if (echo) process.stderr.write(chunk);
    for (const line of chunk.split('\n')) if (line.trim() !== '') tail.push(line);
    tail.splice(0, Math.max(0, tail.length - OUTPUT_TAIL_LINES));
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago (listen(0), then closed). Also a port nothing listens on. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => (port === undefined ? reject(new Error('listen(0) gave no port')) : resolve(port)));
    });
  });
}

/** Sends `signal` to the process group `pid` leads; a group already gone is fine. */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function isPortOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(PROBE_TIMEOUT_MS);
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('timeout', () => { socket.destroy(); resolve(false); });
    socket.once('error', () => resolve(false));
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// -------------------------------------------------------------------------------------------- traffic

type DevClient = Awaited<ReturnType<typeof createDevClient>>;

/** Wallet, public and anvil test actions on one client for the chain at `rpcUrl`; viem retries off. */
async function createDevClient(rpcUrl: string) {
  const transport = http(rpcUrl, { retryCount: 0 });
  const chainId = await createPublicClient({ transport }).getChainId();
  const chain = defineChain({
    id: chainId, name: `devnet-${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  return createTestClient({ mode: 'anvil', chain, transport, pollingInterval: POLLING_INTERVAL_MS })
    .extend(publicActions)
    .extend(walletActions);
}

/** Options of {@link generateTraffic}: counts of single-transaction ERC-20 transfers and of empty blocks. */
export type TrafficOptions = { tokenTransferCount?: number; emptyBlockCount?: number };

/**
 * What {@link generateTraffic} mined. Block numbers are numbers; `fromBlock..toBlock` is inclusive and
 * holds every block it mined and nothing else (automine mode). Counts are of transactions or logs.
 */
export type TrafficSummary = {
  fromBlock: number;
  toBlock: number;
  /** Transactions mined, the reverted one included. */
  txCount: number;
  txHashes: Hash[];
  /** ETH transfers by EIP-2718 type: 0x0 legacy, 0x1 EIP-2930 (with an access list), 0x2 EIP-1559. */
  typedTransferHashes: { legacy: Hash; eip2930: Hash; eip1559: Hash };
  tokenAddress: Address;
  tokenDeployTxHash: Hash;
  /** ERC-20 Transfer logs emitted: the constructor's mint, the transfers and the transferFrom. */
  tokenTransferLogCount: number;
  /** ERC-20 Approval logs emitted: the approve, and the allowance update of OpenZeppelin 4.x transferFrom. */
  tokenApprovalLogCount: number;
  /** Block holding several transactions from distinct senders, and how many. */
  multiTxBlockNumber: number;
  multiTxCount: number;
  /** Receipt status 0x0: an ERC-20 transfer above the sender's balance, sent with an explicit gas limit. */
  revertedTxHash: Hash;
  emptyBlockNumbers: number[];
};

/**
 * Sends real transactions to the anvil at `rpcUrl` and waits until each is mined, in this order, one block
 * per step unless stated: ETH transfers of type 0x0, 0x1 (EIP-2930 access list) and 0x2 (EIP-1559); the
 * deployment of OpenZeppelin 4.9.6 `ERC20PresetFixedSupply` (1e6 tokens minted to dev account 0);
 * `tokenTransferCount` (default 3) ERC-20 transfers; an approve; one block with 4 transactions (transferFrom,
 * an ERC-20 transfer, a legacy and an EIP-1559 ETH transfer, mined with `evm_mine` while automine is off);
 * a transfer that reverts (status 0x0); `emptyBlockCount` (default 3) empty blocks via `anvil_mine`.
 * On a fresh anvil with the defaults that is blocks 1..13 with 13 transactions.
 * @throws Error when a receipt has the wrong status or the several-transaction block was split.
 */
export async function generateTraffic(rpcUrl: string, opts: TrafficOptions = {}): Promise<TrafficSummary> {
  const client = await createDevClient(rpcUrl);
  const fromBlock = Number(await client.getBlockNumber({ cacheTime: 0 })) + 1;
  const typedTransferHashes = await sendTypedTransfers(client);
  const { tokenAddress, hash: tokenDeployTxHash } = await deployToken(client);
  const transferCount = opts.tokenTransferCount ?? DEFAULT_TOKEN_TRANSFER_COUNT;
  const transferHashes = await sendTokenTransfers(client, tokenAddress, transferCount);
  const approveHash = await sendAndCheck(client, 'approve', await client.writeContract({
    account: A0, address: tokenAddress, abi: TOKEN_ABI, functionName: 'approve', args: [A1.address, parseUnits('500', 18)],
  }));
  const multi = await sendMultiTxBlock(client, tokenAddress);
  const revertedTxHash = await sendRevertingTransfer(client, tokenAddress);
  const emptyBlockNumbers = await mineEmptyBlocks(client, opts.emptyBlockCount ?? DEFAULT_EMPTY_BLOCK_COUNT);
  const txHashes = [
    ...Object.values(typedTransferHashes), tokenDeployTxHash, ...transferHashes, approveHash, ...multi.hashes, revertedTxHash,
  ];
  return {
    fromBlock, toBlock: Number(await client.getBlockNumber({ cacheTime: 0 })), txCount: txHashes.length, txHashes,
    typedTransferHashes, tokenAddress, tokenDeployTxHash,
    tokenTransferLogCount: 1 + transferHashes.length + multi.tokenTransferCount,
    tokenApprovalLogCount: 2,
    multiTxBlockNumber: multi.blockNumber, multiTxCount: multi.hashes.length,
    revertedTxHash, emptyBlockNumbers,
  };
}

async function sendTypedTransfers(client: DevClient): Promise<TrafficSummary['typedTransferHashes']> {
  const value = parseEther('1');
  const legacy = await client.sendTransaction({ account: A0, to: A1.address, value, type: 'legacy' });
  await sendAndCheck(client, 'legacy transfer', legacy);
  const eip2930 = await client.sendTransaction({
    account: A1, to: A2.address, value, type: 'eip2930', accessList: [{ address: A3.address, storageKeys: [zeroHash] }],
  });
  await sendAndCheck(client, 'EIP-2930 transfer', eip2930);
  const eip1559 = await client.sendTransaction({ account: A2, to: A3.address, value, type: 'eip1559' });
  await sendAndCheck(client, 'EIP-1559 transfer', eip1559);
  return { legacy, eip2930, eip1559 };
}

async function deployToken(client: DevClient): Promise<{ tokenAddress: Address; hash: Hash }> {
  const hash = await client.deployContract({
    account: A0, abi: TOKEN_ABI, bytecode: TOKEN_BYTECODE, args: [TOKEN_NAME, TOKEN_SYMBOL, TOKEN_SUPPLY, A0.address],
  });
  const receipt = await waitForReceipt(client, 'token deployment', hash, 'success');
  if (!receipt.contractAddress) throw new Error(`token deployment ${hash} has no contractAddress`);
  return { tokenAddress: receipt.contractAddress, hash };
}

async function sendTokenTransfers(client: DevClient, token: Address, count: number): Promise<Hash[]> {
  const recipients = [A1, A2, A3];
  const hashes: Hash[] = [];
  for (let i = 0; i < count; i += 1) {
    const to = recipients[i % recipients.length] ?? A1;
    const hash = await client.writeContract({
      account: A0, address: token, abi: TOKEN_ABI, functionName: 'transfer',
      args: [to.address, parseUnits(String(100 * (i + 1)), 18)],
    });
    hashes.push(await sendAndCheck(client, `token transfer ${i}`, hash));
  }
  return hashes;
}

/** Four transactions from four senders in one block: automine off, send, `evm_mine`, automine back on. */
async function sendMultiTxBlock(
  client: DevClient, token: Address,
): Promise<{ hashes: Hash[]; blockNumber: number; tokenTransferCount: number }> {
  const hashes: Hash[] = [];
  await client.setAutomine(false);
  try {
    hashes.push(await client.writeContract({
      account: A1, address: token, abi: TOKEN_ABI, functionName: 'transferFrom',
      args: [A0.address, A2.address, parseUnits('50', 18)],
    }));
    hashes.push(await client.writeContract({
      account: A0, address: token, abi: TOKEN_ABI, functionName: 'transfer', args: [A3.address, parseUnits('25', 18)],
    }));
    hashes.push(await client.sendTransaction({ account: A2, to: A0.address, value: parseEther('0.5'), type: 'legacy' }));
    hashes.push(await client.sendTransaction({ account: A3, to: A1.address, value: parseEther('0.5'), type: 'eip1559' }));
    await client.request({ method: 'evm_mine', params: undefined });
  } finally {
    await client.setAutomine(true);
  }
  const receipts = await Promise.all(hashes.map((hash) => waitForReceipt(client, 'batched transaction', hash, 'success')));
  const blockNumbers = new Set(receipts.map((receipt) => Number(receipt.blockNumber)));
  const [blockNumber] = blockNumbers;
  if (blockNumbers.size !== 1 || blockNumber === undefined) {
    throw new Error(`expected ${hashes.length} transactions in one block, got blocks ${[...blockNumbers].join(', ')}`);
  }
  return { hashes, blockNumber, tokenTransferCount: 2 };
}

async function sendRevertingTransfer(client: DevClient, token: Address): Promise<Hash> {
  const hash = await client.writeContract({
    account: A3, address: token, abi: TOKEN_ABI, functionName: 'transfer', args: [A0.address, REVERT_AMOUNT], gas: REVERT_GAS,
  });
  await waitForReceipt(client, 'reverting transfer', hash, 'reverted');
  return hash;
}

async function mineEmptyBlocks(client: DevClient, count: number): Promise<number[]> {
  if (count === 0) return [];
  const before = Number(await client.getBlockNumber({ cacheTime: 0 }));
  await client.mine({ blocks: count, interval: 1 });
  return Array.from({ length: count }, (_, i) => before + 1 + i);
}

async function sendAndCheck(client: DevClient, what: string, hash: Hash): Promise<Hash> {
  await waitForReceipt(client, what, hash, 'success');
  return hash;
}

async function waitForReceipt(
  client: DevClient, what: string, hash: Hash, status: TransactionReceipt['status'],
): Promise<TransactionReceipt> {
  const receipt = await client.waitForTransactionReceipt({
    hash, pollingInterval: POLLING_INTERVAL_MS, timeout: RECEIPT_TIMEOUT_MS,
  });
  if (receipt.status !== status) throw new Error(`${what} ${hash}: receipt status ${receipt.status}, expected ${status}`);
  return receipt;
}

// ------------------------------------------------------------------------------------------ keepMining

/**
 * Options of {@link keepMining}. `blockTimeMs` (ms) is the interval between blocks; every `trafficEvery`
 * blocks (default 3) the block also carries an EIP-1559 ETH transfer and an ERC-20 transfer on `tokenAddress`
 * (deployed on the first traffic round when absent). `onError` receives the error that ended the loop.
 */
export type KeepMiningOptions = {
  blockTimeMs: number; trafficEvery?: number; tokenAddress?: Address; onError?: (err: unknown) => void;
};

/** A running mining loop. stop() waits for the current block, turns automine back on and is idempotent. */
export type MiningLoop = { stop(): Promise<void> };

/**
 * Keeps the anvil at `rpcUrl` growing: turns automine off and mines one block (`evm_mine`) every
 * `blockTimeMs` ms, with traffic every `trafficEvery` blocks so new blocks hold transactions and logs.
 * The loop ends at the first failed request; the error goes to `onError`, or stop() rejects with it.
 * @throws RangeError when `blockTimeMs` is not a positive integer or `trafficEvery` not an integer ≥ 1.
 * @example const mining = keepMining(anvil.rpcUrl, { blockTimeMs: 1000 }); … await mining.stop();
 */
export function keepMining(rpcUrl: string, opts: KeepMiningOptions): MiningLoop {
  const trafficEvery = opts.trafficEvery ?? DEFAULT_TRAFFIC_EVERY_BLOCKS;
  if (!Number.isSafeInteger(opts.blockTimeMs) || opts.blockTimeMs <= 0) {
    throw new RangeError(`blockTimeMs must be an integer > 0 (ms), got ${opts.blockTimeMs}`);
  }
  if (!Number.isSafeInteger(trafficEvery) || trafficEvery < 1) {
    throw new RangeError(`trafficEvery must be an integer ≥ 1 (blocks), got ${trafficEvery}`);
  }
  let stopped = false;
  let failure: { err: unknown } | undefined;
  let wake = (): void => {};
  const pause = (ms: number): Promise<void> => new Promise((resolve) => {
    const timer = setTimeout(resolve, Math.max(0, ms));
    wake = () => { clearTimeout(timer); resolve(); };
  });
  const loop = (async () => {
    const client = await createDevClient(rpcUrl);
    await client.setAutomine(false);
    let token = opts.tokenAddress;
    for (let block = 1; !stopped; block += 1) {
      const startedAt = Date.now();
      if (block % trafficEvery === 0) token = await sendRoundOfTraffic(client, token);
      await client.request({ method: 'evm_mine', params: undefined });
      if (!stopped) await pause(opts.blockTimeMs - (Date.now() - startedAt));
    }
    await client.setAutomine(true);
  })().catch((err: unknown) => {
    stopped = true;
    if (opts.onError) opts.onError(err);
    else failure = { err };
  });
  return {
    async stop() {
      stopped = true;
      wake();
      await loop;
      if (failure) throw failure.err;
    },
  };
}

/** Queues an ETH transfer and an ERC-20 transfer (or the token deployment) for the next block; returns the token. */
async function sendRoundOfTraffic(client: DevClient, token: Address | undefined): Promise<Address> {
  await client.sendTransaction({ account: A4, to: A5.address, value: parseEther('0.01'), type: 'eip1559' });
  if (token !== undefined) {
    await client.writeContract({
      account: A0, address: token, abi: TOKEN_ABI, functionName: 'transfer', args: [A6.address, parseUnits('1', 18)],
    });
    return token;
  }
  const nonce = await client.getTransactionCount({ address: A0.address, blockTag: 'pending' });
  await client.deployContract({
    account: A0, abi: TOKEN_ABI, bytecode: TOKEN_BYTECODE, args: [TOKEN_NAME, TOKEN_SYMBOL, TOKEN_SUPPLY, A0.address], nonce,
  });
  return getContractAddress({ from: A0.address, nonce: BigInt(nonce) });
}
