/**
 * Reorg tooling for integration tests on anvil: `anvil_reorg` with a check that exactly the
 * last `depth` blocks changed, `anvil_mine`, `evm_snapshot`/`evm_revert`; a JSON-RPC gate (an HTTP
 * proxy in front of anvil) that holds the worker's block fetches so a reorg lands while a batch is
 * provably in flight; and a reader of the activity calls in a workflow's history.
 * Test support only: `src/` never imports it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultPayloadConverter } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import { rpc } from './chain-oracle.js';

const toQuantity = (n: number): string => `0x${n.toString(16)}`;

/** The chain's head block number. */
export async function headNumber(rpcUrl: string): Promise<number> {
  return Number(BigInt(await rpc<string>(rpcUrl, 'eth_blockNumber')));
}

/** Hash of block `n` (lower-case hex). @throws Error when the node has no block `n`. */
export async function blockHash(rpcUrl: string, n: number): Promise<string> {
  const block = await rpc<{ hash: string } | null>(rpcUrl, 'eth_getBlockByNumber', [toQuantity(n), false]);
  if (!block) throw new Error(`block ${n} is not on the chain`);
  return block.hash.toLowerCase();
}

/** Mines `blocks` empty blocks (`anvil_mine`); returns the new head. */
export async function mine(rpcUrl: string, blocks: number): Promise<number> {
  await rpc(rpcUrl, 'anvil_mine', [toQuantity(blocks)]);
  return headNumber(rpcUrl);
}

/**
 * A transaction for `anvil_reorg`: a signed raw transaction (hex) or a request anvil signs for
 * one of its dev accounts (`{ from, to, value }`), and the offset of the new block it goes into
 * (0 = the first replaced block, `depth − 1` = the new head).
 */
export type ReorgTx = [rawTxOrRequest: string | Record<string, string>, blockOffset: number];

/** What {@link reorg} did: the head (unchanged), the first replaced block, and the block hashes before and after. */
export type ReorgResult = { head: number; depth: number; replacedFrom: number; oldHashes: string[]; newHashes: string[] };

/**
 * Replaces the last `depth` blocks with new ones (`anvil_reorg`), holding `txs` at their offsets;
 * the replaced blocks' own transactions are dropped. Checks what anvil did: same head, the block
 * below the replaced ones unchanged, every replaced block with a new hash.
 * @throws Error when anvil refuses or the chain did not change exactly so.
 */
export async function reorg(rpcUrl: string, depth: number, txs: ReorgTx[] = []): Promise<ReorgResult> {
  const head = await headNumber(rpcUrl);
  if (depth < 1 || depth > head) throw new Error(`reorg depth ${depth} is not within 1..head (${head})`);
  const numbers = Array.from({ length: depth + 1 }, (_, i) => head - depth + i);
  const before = await Promise.all(numbers.map((n) => blockHash(rpcUrl, n)));
  await rpc(rpcUrl, 'anvil_reorg', [depth, txs]);
  const after = await Promise.all(numbers.map((n) => blockHash(rpcUrl, n)));
  const newHead = await headNumber(rpcUrl);
  const changed = numbers.filter((_, i) => before[i] !== after[i]);
  const expected = numbers.slice(1);
  if (newHead !== head || JSON.stringify(changed) !== JSON.stringify(expected)) {
    throw new Error(`anvil_reorg(${depth}) at head ${head}: head became ${newHead}, changed blocks ${changed.join(',')} (expected ${expected.join(',')}); was another block mined meanwhile?`);
  }
  return { head, depth, replacedFrom: head - depth + 1, oldHashes: before.slice(1), newHashes: after.slice(1) };
}

/** `evm_snapshot`: returns the snapshot id for {@link revertTo}. */
export async function snapshot(rpcUrl: string): Promise<string> {
  return rpc<string>(rpcUrl, 'evm_snapshot');
}

/** `evm_revert` to `id`: the chain goes back to the snapshot's head. @throws Error when anvil refuses. */
export async function revertTo(rpcUrl: string, id: string): Promise<void> {
  if ((await rpc<boolean>(rpcUrl, 'evm_revert', [id])) !== true) throw new Error(`evm_revert(${id}) returned false`);
}

// ----------------------------------------------------------------------------------------- the gate

/** One JSON-RPC call as the gate sees it in a request body. */
export type JsonRpcCall = { method: string; params?: unknown[] };

/** A held HTTP request: its calls, and the block numbers it fetches with full bodies. */
export type HeldRequest = { calls: JsonRpcCall[]; blocks: number[] };

/** One hold set with {@link RpcGate.hold}; `release` lets its requests go (unless another hold still matches them). */
export type Hold = { release(): void };

/**
 * An HTTP JSON-RPC proxy in front of a node. Point the worker at `url`. While a hold is active,
 * every request with a call matching its predicate waits (not answered, not forwarded) until no
 * active hold matches it any more; then it is forwarded, so its answer reflects the chain at
 * release time.
 */
export type RpcGate = {
  url: string;
  /** Starts holding the requests that have a call matching `predicate`. */
  hold(predicate: (call: JsonRpcCall) => boolean): Hold;
  /** Ends every hold and forwards every held request. */
  release(): void;
  /** Requests held right now. */
  held(): HeldRequest[];
  stop(): Promise<void>;
};

/**
 * The block number a call fetches with its full body: `eth_getBlockByNumber(n, true)` or
 * `eth_getBlockReceipts(n)` — what `indexRange` sends and nothing else does. Null otherwise.
 */
export function fullBlockFetched(call: JsonRpcCall): number | null {
  const [tag, full] = call.params ?? [];
  if (typeof tag !== 'string' || !tag.startsWith('0x')) return null;
  if ((call.method === 'eth_getBlockByNumber' && full === true) || call.method === 'eth_getBlockReceipts') return Number(BigInt(tag));
  return null;
}

/** Predicate for {@link RpcGate.hold}: `indexRange` fetches of blocks `from..to` inclusive. */
export function fetchesBlocks(from: number, to = Number.MAX_SAFE_INTEGER): (call: JsonRpcCall) => boolean {
  return (call) => {
    const n = fullBlockFetched(call);
    return n !== null && n >= from && n <= to;
  };
}

/** Starts an {@link RpcGate} on a free 127.0.0.1 port in front of `targetUrl`. */
export async function startRpcGate(targetUrl: string): Promise<RpcGate> {
  const holds = new Set<(call: JsonRpcCall) => boolean>();
  let waiting: { request: HeldRequest; go: () => void }[] = [];
  const isHeld = (calls: JsonRpcCall[]) => [...holds].some((predicate) => calls.some(predicate));
  const forwardUnheld = () => {
    const go = waiting.filter((w) => !isHeld(w.request.calls));
    waiting = waiting.filter((w) => isHeld(w.request.calls));
    for (const w of go) w.go();
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let calls: JsonRpcCall[] = [];
      try {
        const parsed = JSON.parse(body.toString('utf8')) as JsonRpcCall | JsonRpcCall[];
        calls = Array.isArray(parsed) ? parsed : [parsed];
      } catch {
        /* not JSON: forwarded as is */
      }
      const forward = async () => {
        try {
          const upstream = await fetch(targetUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
          const answer = Buffer.from(await upstream.arrayBuffer());
          res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
          res.end(answer);
        } catch (err) {
          if (!res.headersSent) res.writeHead(502);
          res.end(String(err));
        }
      };
      if (isHeld(calls)) {
        const blocks = [...new Set(calls.map(fullBlockFetched).filter((n): n is number => n !== null))].sort((a, b) => a - b);
        waiting.push({ request: { calls, blocks }, go: () => void forward() });
      } else {
        void forward();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const release = () => {
    holds.clear();
    forwardUnheld();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    hold: (predicate) => {
      const own = (call: JsonRpcCall) => predicate(call);
      holds.add(own);
      return {
        release: () => {
          holds.delete(own);
          forwardUnheld();
        },
      };
    },
    release,
    held: () => waiting.map((w) => w.request),
    stop: async () => {
      release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// -------------------------------------------------------------------------------------- history

/** One activity call read from a workflow's history: its input and, once completed, its result. */
export type ActivityCall<I = any, R = any> = { input: I; result?: R };

/**
 * The calls of activity `activityType` in the current run of the workflow behind `handle`, in
 * schedule order, with their decoded inputs and results (plain JSON payloads).
 */
export async function activityCalls<I = any, R = any>(handle: WorkflowHandle, activityType: string): Promise<ActivityCall<I, R>[]> {
  const history = await handle.fetchHistory();
  const byEventId = new Map<string, ActivityCall<I, R>>();
  const calls: ActivityCall<I, R>[] = [];
  for (const event of history.events ?? []) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name === activityType) {
      const call: ActivityCall<I, R> = { input: defaultPayloadConverter.fromPayload<I>(scheduled.input!.payloads![0]!) };
      byEventId.set(String(event.eventId), call);
      calls.push(call);
    }
    const completed = event.activityTaskCompletedEventAttributes;
    const call = completed ? byEventId.get(String(completed.scheduledEventId)) : undefined;
    if (call && completed?.result?.payloads?.[0]) call.result = defaultPayloadConverter.fromPayload<R>(completed.result.payloads[0]);
  }
  return calls;
}
