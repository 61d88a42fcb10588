/**
 * checkChainIds (the worker's start-up check, JSON-RPC `eth_chainId`, EIP-695) against small local
 * nodes that answer a chain id above 2^53 − 1, and something that is not a chain id.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChainMismatchError } from '../../src/errors.js';
import { checkChainIds } from '../../src/rpc/index.js';

/** A node whose every `eth_chainId` result is `result` (batched or not). */
async function nodeAnswering(result: unknown): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const parsed = JSON.parse(body) as { id: number } | { id: number }[];
      const answer = (r: { id: number }) => ({ jsonrpc: '2.0', id: r.id, result });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(Array.isArray(parsed) ? parsed.map(answer) : answer(parsed)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('checkChainIds with odd eth_chainId answers', () => {
  const nodes: Server[] = [];
  let huge: string;
  let text: string;
  beforeAll(async () => {
    const a = await nodeAnswering(`0x${'f'.repeat(64)}`);
    const b = await nodeAnswering('mainnet');
    nodes.push(a.server, b.server);
    [huge, text] = [a.url, b.url];
  });
  afterAll(() => {
    for (const n of nodes) n.close();
  });

  it('prints a chain id above 2^53 − 1 whole, and calls a node that answered something else "answered badly", not unreachable', async () => {
    const log = pino({ level: 'silent' });
    const err = await checkChainIds({ urls: [huge, text], chainId: 1, timeoutMs: 5_000, log }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChainMismatchError);
    const [hugeLabel, textLabel] = [`${new URL(huge).host}#1`, `${new URL(text).host}#2`];
    expect((err as Error).message).toBe(`no RPC endpoint serves CHAIN_ID 1: ${hugeLabel} serves chain ${BigInt(`0x${'f'.repeat(64)}`).toString()}; ${textLabel} answered badly: eth_chainId answered "mainnet", not a hex quantity (EIP-695)`);
  });
});
