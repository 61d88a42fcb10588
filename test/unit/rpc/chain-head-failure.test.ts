/**
 * Why `fetchChainHead` got no head: each endpoint's own reason, on real sockets (one that accepts
 * and never answers, one where nothing listens), then the open circuit breakers.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchChainHead } from '../../../src/rpc/chain-head.js';
import { createRpcPool } from '../../../src/rpc/index.js';
import { createLogger } from '../../../src/log.js';
import { closedPort } from '../../support/stack.js';

let silent: Server;
const sockets = new Set<Socket>();
let silentPort: number;
let deadPort: number;

beforeAll(async () => {
  silent = createServer((socket) => { // accepts, never answers
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentPort = (silent.address() as { port: number }).port;
  deadPort = await closedPort();
});
afterAll(() => new Promise<void>((resolve) => {
  for (const socket of sockets) socket.destroy();
  silent.close(() => resolve());
}));

describe('fetchChainHead() when no endpoint answers', () => {
  it('names each endpoint (by its label, without the URL\'s secret) and why; once their breakers open, that they were not asked', async () => {
    const pool = createRpcPool({ urls: [`http://127.0.0.1:${silentPort}/v2/SECRETKEY`, `http://127.0.0.1:${deadPort}`], timeoutMs: 200, log: createLogger({ level: 'fatal', pretty: false }) });
    try {
      const messages: string[] = [];
      for (let i = 0; i < 6; i++) messages.push(await fetchChainHead(pool).then(() => 'answered', (err: Error) => `${err.name}: ${err.message}`));
      const failed = `RpcTransientError: no RPC endpoint answered the head (127.0.0.1:${silentPort}#1: no answer within 200 ms; 127.0.0.1:${deadPort}#2: connection failed (ECONNREFUSED))`;
      const open = 'not asked: its circuit breaker is open after 5 failures in a row (probed again within 5 s)';
      expect(messages).toEqual([failed, failed, failed, failed, failed,
        `RpcTransientError: no RPC endpoint answered the head (127.0.0.1:${silentPort}#1: ${open}; 127.0.0.1:${deadPort}#2: ${open})`]);
    } finally {
      pool.close();
    }
  });
});
