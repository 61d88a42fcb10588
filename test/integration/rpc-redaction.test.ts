/**
 * No API key leaves the RPC layer when a node repeats it: endpoints that echo the key of their
 * URL and the request's path and query (`req.url`) into their JSON-RPC errors, HTML pages and
 * batch refusals, against `checkChainIds`, the pool and `fetchBlocks`, and the worker process at
 * start-up (RPC_URL, and a chains file with `${MYKEY}`). Local node:http servers; no other service.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWorkerOnce } from '../support/processes.js';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { toApplicationFailure } from '../../src/activities/failure.js';
import { ChainMismatchError, RpcBatchTooLargeError, RpcTransientError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import { checkChainIds, createRpcPool, fetchBlocks, type RpcPool } from '../../src/rpc/index.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const KEY = 'SECRETKEY123';
const QUERY_KEY = 'SECRET2';
const SECRETS = [KEY, QUERY_KEY];
const CHAIN_ID = 31337;

/** How the echoing node answers: a JSON-RPC error per call, an HTML page with HTTP 200, or an Erigon-like HTTP 400 batch refusal. */
type Style = 'rpc-error' | 'html' | 'batch-limit';

/**
 * A node that answers every call with an error repeating the key of its URL (the last path
 * segment), its `apikey` query value and the request's path and query; a path that starts with
 * `/healthy` answers `eth_chainId` with CHAIN_ID instead.
 */
async function startEchoNode(style: Style = 'rpc-error'): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://node');
      const calls = JSON.parse(body) as { id: number; method: string }[];
      if (url.pathname.startsWith('/healthy')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(calls.map((c) => ({ jsonrpc: '2.0', id: c.id, result: `0x${CHAIN_ID.toString(16)}` }))));
        return;
      }
      const key = url.pathname.split('/').at(-1);
      const message = `API key ${key} is not valid; apikey=${url.searchParams.get('apikey')}; asked ${req.url}`;
      if (style === 'html') {
        res.writeHead(200, { 'content-type': 'text/html' }).end(`<html><body>${message}</body></html>`);
      } else if (style === 'batch-limit') {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: `batch limit 0 exceeded for key ${key}` } }));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(calls.map((c) => ({ jsonrpc: '2.0', id: c.id, error: { code: -32000, message } }))));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A logger at `debug` whose lines (parsed JSON) land in `lines`. */
function capturingLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug', base: {}, timestamp: false }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

describe('RPC errors of a node that repeats its API key and the request URL', () => {
  let node: { port: number; close(): Promise<void> };
  let url: string;
  let label: string;
  /** What the node's error message becomes once redacted. */
  let said: string;
  let pool: RpcPool | undefined;
  const closers: (() => Promise<void>)[] = [];
  /** Starts an echo node of `style` (closed after the test), points a fresh pool at it with both keys in its URL, and returns its port and what `eth_blockNumber` rejected with. */
  const callEchoNode = async (style: Style): Promise<{ port: number; err: unknown }> => {
    const node = await startEchoNode(style);
    closers.push(node.close);
    pool = createRpcPool({ urls: [`http://127.0.0.1:${node.port}/echokey/v2/${KEY}?apikey=${QUERY_KEY}`], timeoutMs: 5_000, log: capturingLogger().log });
    return { port: node.port, err: await pool.call('eth_blockNumber', []).catch((e: unknown) => e) };
  };
  beforeAll(async () => {
    node = await startEchoNode();
    url = `http://127.0.0.1:${node.port}/echokey/v2/${KEY}?apikey=${QUERY_KEY}`;
    label = `127.0.0.1:${node.port}#1`;
    said = 'API key <redacted> is not valid; apikey=<redacted>; asked /<redacted>';
  });
  afterEach(async () => {
    pool?.close();
    pool = undefined;
    for (const close of closers.splice(0)) await close();
  });
  afterAll(async () => {
    await node?.close();
  });

  it('checkChainIds() with only that node throws a ChainMismatchError without the key', async () => {
    const { log, lines } = capturingLogger();
    const err = await checkChainIds({ urls: [url], chainId: CHAIN_ID, timeoutMs: 5_000, log }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChainMismatchError);
    expect((err as Error).message).toBe(`no RPC endpoint serves CHAIN_ID ${CHAIN_ID}: ${label} unreachable: eth_chainId failed: ${said} (code -32000)`);
    expect(lines).toEqual([]);
  });

  it('checkChainIds() with a healthy endpoint beside it keeps both and warns endpoint-unreachable without the key', async () => {
    const { log, lines } = capturingLogger();
    const healthy = `http://127.0.0.1:${node.port}/healthy/v2/${KEY}`;
    const checked = await checkChainIds({ urls: [url, healthy], chainId: CHAIN_ID, timeoutMs: 5_000, log });
    expect(checked).toEqual({ urls: [url, healthy], labels: [label, `127.0.0.1:${node.port}#2`], unreachable: new Map([[label, `eth_chainId failed: ${said} (code -32000)`]]) });
    expect(lines).toEqual([{ level: 40, endpoint: label, err: `eth_chainId failed: ${said} (code -32000)`, msg: 'endpoint-unreachable' }]);
  });

  it('pool.call() rejects with an RpcTransientError without the key, and logs rpc-failover without it', async () => {
    const { log, lines } = capturingLogger();
    pool = createRpcPool({ urls: [url], timeoutMs: 5_000, log });
    const err = await pool.call('eth_getBlockByNumber', ['0x1', false]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcTransientError);
    expect((err as Error).message).toBe(`${label}: eth_getBlockByNumber failed: ${said} (code -32000)`);
    expect((err as Error).stack!.split('\n')[0]).toBe(`RpcTransientError: ${label}: eth_getBlockByNumber failed: ${said} (code -32000)`);
    expect(lines).toEqual([{ level: 20, endpoint: label, err: `${label}: eth_getBlockByNumber failed: ${said} (code -32000)`, msg: 'rpc-failover' }]);
  });

  it('pool.batch() hands accept the failed calls\' messages without the key (calls it keeps to ask again)', async () => {
    pool = createRpcPool({ urls: [url], timeoutMs: 5_000, log: capturingLogger().log });
    const outcomes = await pool.batch([{ method: 'eth_getBlockByNumber', params: ['0x1', true] }, { method: 'eth_getBlockReceipts', params: ['0x1'] }], (o) => o);
    expect(outcomes).toEqual([
      { ok: false, error: { code: -32000, message: said, data: undefined } },
      { ok: false, error: { code: -32000, message: said, data: undefined } },
    ]);
  });

  it('fetchBlocks() fails without the key, and so does the activity failure Temporal records', async () => {
    pool = createRpcPool({ urls: [url], timeoutMs: 5_000, log: capturingLogger().log });
    const err = await fetchBlocks(pool, { from: 1, to: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcTransientError);
    expect((err as Error).message).toBe(`${label}: eth_getBlockByNumber(1) failed: ${said} (code -32000)`);
    const failure = toApplicationFailure(err);
    expect([failure.message, failure.type, failure.nonRetryable]).toEqual([`${label}: eth_getBlockByNumber(1) failed: ${said} (code -32000)`, 'RpcTransientError', false]);
  });

  it('pool.call() against a node answering an HTML page that repeats the key rejects without it', async () => {
    const { err, port } = await callEchoNode('html');
    expect(err).toBeInstanceOf(RpcTransientError);
    // The page's first 60 characters end inside SECRET2: that word (apikey=SECRET2, `=` may be part of a key) is left out, not quoted in part.
    expect((err as Error).message).toBe(`127.0.0.1:${port}#1: answered with a body that is not JSON (<html><body>API key <redacted> is not valid; …)`);
  });

  it('pool.call() against a node refusing the batch with HTTP 400 and the key rejects without it', async () => {
    const { err, port } = await callEchoNode('batch-limit');
    expect(err).toBeInstanceOf(RpcBatchTooLargeError);
    expect((err as Error).message).toBe(`127.0.0.1:${port}#1: HTTP 400, a batch of 1 calls refused: batch limit 0 exceeded for key <redacted> (code -32000)`);
  });

  describe('the worker process', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'rpc-redaction-'));
    });
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('exits 1 with one start-up line without the key when RPC_URL\'s only node repeats it', async () => {
      const { code, stdout, stderr } = await runWorkerOnce({ CHAIN_ID: String(CHAIN_ID), RPC_URL: url });
      expect([code, stdout, stderr.trim().split('\n')]).toEqual([1, '', [
        `startup error: no RPC endpoint serves CHAIN_ID ${CHAIN_ID}: ${label} unreachable: eth_chainId failed: ${said} (code -32000)`,
      ]]);
      for (const secret of SECRETS) expect(stdout + stderr).not.toContain(secret);
    });

    it('exits 1 with one start-up line without the key a chains file took from ${MYKEY}', async () => {
      const chainsFile = join(dir, 'chains.json');
      writeFileSync(chainsFile, JSON.stringify([{ chainId: CHAIN_ID, rpcUrl: `http://127.0.0.1:${node.port}/echokey/v2/\${MYKEY}?apikey=${QUERY_KEY}` }]));
      const { code, stdout, stderr } = await runWorkerOnce({ CHAINS_FILE: chainsFile, MYKEY: KEY });
      expect([code, stdout, stderr.trim().split('\n')]).toEqual([1, '', [
        `startup error: CHAINS_FILE chain ${CHAIN_ID}: no RPC endpoint serves CHAIN_ID ${CHAIN_ID}: ${label} unreachable: eth_chainId failed: ${said} (code -32000)`,
      ]]);
      for (const secret of SECRETS) expect(stdout + stderr).not.toContain(secret);
    });
  });
});
