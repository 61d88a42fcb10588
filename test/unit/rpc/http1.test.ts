import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { getEventListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { http1Post, Http1Error } from '../../../src/rpc/http1.js';

/**
 * A TCP server that answers each request with what `script` writes, byte for byte (pieces written
 * apart, so the client reads them in separate reads). It counts connections and requests.
 */
type Scripted = { url: URL; connections: number; requests: string[]; close(): Promise<void> };
type Script = (socket: Socket, request: string, index: number) => unknown;

const servers: Scripted[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function scripted(script: Script, host = '127.0.0.1'): Promise<Scripted> {
  const state: Scripted = { url: new URL('http://127.0.0.1/'), connections: 0, requests: [], close: async () => {} };
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = '';
    socket.on('data', (data) => {
      pending += data.toString('latin1');
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(pending.slice(0, end))?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        const request = pending.slice(0, end + 4 + length);
        pending = pending.slice(end + 4 + length);
        state.requests.push(request);
        void script(socket, request, state.requests.length - 1);
      }
    });
  });
  servers.push(state);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  state.url = new URL(`http://${host.includes(':') ? `[${host}]` : host}:${(server.address() as AddressInfo).port}/rpc?key=1`);
  let closed: Promise<unknown> | undefined;
  state.close = () => {
    for (const socket of sockets) socket.destroy();
    closed ??= new Promise((resolve) => server.close(resolve));
    return closed.then(() => {});
  };
  return state;
}

/** Writes `pieces` one at a time, 5 ms apart, so each is its own read on the other side. */
async function writeApart(socket: Socket, pieces: (string | Buffer)[]): Promise<void> {
  for (const piece of pieces) {
    socket.write(piece);
    await sleep(5);
  }
}

const post = (url: URL, options: { timeoutMs?: number; signal?: AbortSignal } = {}) =>
  http1Post(url, { 'content-type': 'application/json' }, '{"jsonrpc":"2.0","id":0,"method":"eth_chainId"}', { timeoutMs: options.timeoutMs ?? 2_000, ...(options.signal ? { signal: options.signal } : {}) });

describe('src/rpc/http1.ts', () => {
  it('sends one POST with host, user-agent, content-length, accept-encoding identity and the headers given, to the path and query', async () => {
    const server = await scripted((socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}'));
    const answer = await post(server.url);
    expect(answer.status).toBe(200);
    expect(answer.body.toString()).toBe('{}');
    const body = '{"jsonrpc":"2.0","id":0,"method":"eth_chainId"}';
    expect(server.requests).toEqual([
      `POST /rpc?key=1 HTTP/1.1\r\nhost: ${server.url.host}\r\nuser-agent: evm-temporal-indexer\r\naccept-encoding: identity\r\ncontent-length: ${body.length}\r\ncontent-type: application/json\r\n\r\n${body}`,
    ]);
  });

  it('reads a content-length answer whose status line, headers and body arrive in pieces, and gives its headers by lower-case name', async () => {
    const server = await scripted((socket) => writeApart(socket, ['HTTP/1.1 429 Too Many', ' Requests\r\nRetry-After: 7\r\nContent-Le', 'ngth: 11\r\n\r', '\nhello', ' world']));
    const answer = await post(server.url);
    expect(answer.status).toBe(429);
    expect(answer.header('retry-after')).toBe('7');
    expect(answer.header('x-missing')).toBeNull();
    expect(answer.body.toString()).toBe('hello world');
  });

  it('reads a chunked answer with sizes, CRLFs and data split across reads, a chunk extension and trailers', async () => {
    const server = await scripted((socket) =>
      writeApart(socket, ['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r', '\nhello\r\n', '9;name=value\r\n wor', 'ld!!!\r', '\n0', '\r\nx-trailer: 1\r\n', '\r\n']),
    );
    const answer = await post(server.url);
    expect(answer.body.toString()).toBe('hello world!!!');
  });

  it('skips a 100 Continue and reads the final answer', async () => {
    const server = await scripted((socket) => socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc'));
    const answer = await post(server.url);
    expect([answer.status, answer.body.toString()]).toEqual([200, 'abc']);
  });

  it('reads an HTTP/1.0 answer without content-length until the server closes, and does not reuse that connection', async () => {
    const server = await scripted(async (socket) => {
      await writeApart(socket, ['HTTP/1.0 200 OK\r\n\r\nuntil', ' close']);
      socket.end();
    });
    expect((await post(server.url)).body.toString()).toBe('until close');
    expect((await post(server.url)).body.toString()).toBe('until close');
    expect(server.connections).toBe(2);
  });

  it('keeps a connection alive between requests, and closes it when the answer says connection: close', async () => {
    const server = await scripted((socket, _request, index) => socket.write(`HTTP/1.1 200 OK\r\ncontent-length: 1\r\n${index === 1 ? 'connection: close\r\n' : ''}\r\n${index}`));
    const bodies = [];
    for (let i = 0; i < 3; i++) bodies.push((await post(server.url)).body.toString());
    expect(bodies).toEqual(['0', '1', '2']);
    expect(server.connections).toBe(2);
  });

  it('sends a request again on a new connection once when a kept-alive one was closed by the server without answering', async () => {
    const server = await scripted((socket, _request, index) => {
      if (index === 1) socket.destroy(); // the stale keep-alive race: the request reached a closing connection
      else socket.write(`HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n${index}`);
    });
    expect((await post(server.url)).body.toString()).toBe('0');
    expect((await post(server.url)).body.toString()).toBe('2');
    expect([server.connections, server.requests.length]).toEqual([2, 3]);
  });

  it('fails with ECONNRESET, without sending again, when a new connection closes before answering', async () => {
    const server = await scripted((socket) => socket.destroy());
    await expect(post(server.url)).rejects.toMatchObject({ name: 'Http1Error', code: 'ECONNRESET' });
    expect([server.connections, server.requests.length]).toEqual([1, 1]);
  });

  it('fails with ECONNRESET when the connection closes in the middle of a body', async () => {
    const server = await scripted(async (socket) => {
      await writeApart(socket, ['HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc']);
      socket.destroy();
    });
    await expect(post(server.url)).rejects.toMatchObject({ code: 'ECONNRESET', message: 'the server closed the connection before the answer was complete' });
  });

  it('reads an IPv6 literal endpoint (the brackets are not part of the host it connects to)', async () => {
    const server = await scripted((socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nv6'), '::1');
    expect(server.url.hostname).toBe('[::1]');
    expect((await post(server.url)).body.toString()).toBe('v6');
  });

  it('keeps an answer followed by stray bytes in the same read, and does not use that connection again', async () => {
    const server = await scripted((socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}\r\n'));
    expect((await post(server.url)).body.toString()).toBe('{}');
    expect((await post(server.url)).body.toString()).toBe('{}');
    expect(server.connections).toBe(2);
  });

  it('takes transfer-encoding over content-length when an answer has both, and does not use that connection again (RFC 9112 § 6.3)', async () => {
    const server = await scripted((socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'));
    expect((await post(server.url)).body.toString()).toBe('hello');
    expect((await post(server.url)).body.toString()).toBe('hello');
    expect(server.connections).toBe(2);
  });

  it('reads a header ended by bare LFs, a folded header line, and an empty content-encoding', async () => {
    const server = await scripted((socket) => socket.write('HTTP/1.1 429 Slow down\nretry-after: 7,\n  8\ncontent-encoding:\ncontent-length: 2\n\nok'));
    const answer = await post(server.url);
    expect([answer.status, answer.header('retry-after'), answer.body.toString()]).toEqual([429, '7, 8', 'ok']);
  });

  it('listens once on a signal many requests share (no MaxListenersExceededWarning), and forgets each request when it ends', async () => {
    const server = await scripted((socket) => setTimeout(() => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'), 30));
    const controller = new AbortController();
    const pending = Array.from({ length: 20 }, () => post(server.url, { signal: controller.signal }));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    expect((await Promise.all(pending)).map((a) => a.body.toString())).toEqual(Array(20).fill('ok'));
    controller.abort(); // every request ended: nothing is cancelled, nothing throws
    expect(server.connections).toBe(20);
  });

  const refused: [string, string, string][] = [
    ['a compressed answer', 'HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 2\r\n\r\n{}', 'the answer has content-encoding gzip, which was not asked for'],
    ['an answer that is not HTTP', '<html>nope</html>\r\n\r\n', 'the answer is not HTTP/1.x ("<html>nope</html>")'],
    ['a transfer coding other than chunked', 'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n', 'the answer has transfer-encoding gzip, chunked'],
    ['a content-length that is not a number', 'HTTP/1.1 200 OK\r\ncontent-length: 1e3\r\n\r\n', 'the answer has content-length "1e3"'],
    ['a bad chunk size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n', 'a chunked answer has the chunk size "zz"'],
    ['a chunk longer than its size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n', 'a chunk of the answer is longer than its size says'],
    ['an HTTP/1.0 answer with transfer-encoding', 'HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n', 'an HTTP/1.0 answer has transfer-encoding'],
    ['a header over 64 KiB in one read', `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(70_000)}\r\ncontent-length: 0\r\n\r\n`, "an answer's header is over 65536 bytes"],
    ['a header line without a colon', 'HTTP/1.1 200 OK\r\nbroken\r\n\r\n', 'a malformed header line in the answer ("broken")'],
  ];
  for (const [what, bytes, message] of refused) {
    it(`fails with Http1Error "${message}" on ${what}, and closes the connection`, async () => {
      const server = await scripted((socket) => socket.write(bytes));
      await expect(post(server.url)).rejects.toEqual(new Http1Error(message));
      await expect(post(server.url)).rejects.toEqual(new Http1Error(message));
      expect(server.connections).toBe(2);
    });
  }

  it('fails with a TimeoutError when no complete answer comes within timeoutMs, and drops that connection', async () => {
    const server = await scripted((socket, _request, index) => {
      if (index === 0) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nab'); // never the rest
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    const started = Date.now();
    await expect(post(server.url, { timeoutMs: 200 })).rejects.toMatchObject({ name: 'TimeoutError', message: 'no answer within 200 ms' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect((await post(server.url)).body.toString()).toBe('ok');
    expect(server.connections).toBe(2);
  });

  it('fails with an AbortError when the signal aborts in flight, or was aborted before (then without connecting)', async () => {
    const server = await scripted(() => {}); // never answers
    const controller = new AbortController();
    const pending = post(server.url, { signal: controller.signal });
    await sleep(50);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError', message: 'request cancelled' });
    await expect(post(server.url, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(server.connections).toBe(1);
  });

  it('fails with ECONNREFUSED when nothing listens', async () => {
    const server = await scripted(() => {});
    await server.close();
    await expect(post(server.url)).rejects.toMatchObject({ name: 'Http1Error', code: 'ECONNREFUSED' });
  });

  it('reads a 4 MiB body byte for byte, and reads the next answer into the same memory once the first is released', async () => {
    const big = Buffer.alloc(4 * 2 ** 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
    const server = await scripted((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${big.length}\r\n\r\n`);
      socket.write(big);
    });
    const first = await post(server.url);
    expect(first.body.equals(big)).toBe(true);
    const memory = first.body.buffer;
    first.release();
    first.release(); // idempotent: the buffer is not given back twice
    const second = await post(server.url);
    const third = await post(server.url);
    expect(second.body.buffer).toBe(memory);
    expect(third.body.buffer).not.toBe(memory); // the second still holds it
    expect(second.body.equals(big) && third.body.equals(big)).toBe(true);
  });

  it('reads a body straight into its buffer, and a connection timed out mid-body never writes to that buffer once another answer has it', async () => {
    const size = 2 ** 20;
    const late = Buffer.alloc(size, 0xee);
    const own = Buffer.alloc(size);
    for (let i = 0; i < own.length; i++) own[i] = (i * 13 + 5) & 0xff;
    const server = await scripted((socket, _request, index) => {
      if (index === 0) {
        // Half the body, then the rest after the client gave up and another answer took the buffer.
        socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${size}\r\n\r\n`);
        socket.write(late.subarray(0, size / 2));
        setTimeout(() => socket.write(late.subarray(size / 2)), 300);
      } else {
        void writeApart(socket, [`HTTP/1.1 200 OK\r\ncontent-length: ${size}\r\n\r\n`, own.subarray(0, 1000), own.subarray(1000, size - 10), own.subarray(size - 10)]);
      }
    });
    await expect(post(server.url, { timeoutMs: 100 })).rejects.toMatchObject({ name: 'TimeoutError' });
    const second = await post(server.url);
    await sleep(400); // the first connection's late bytes were sent by now
    expect(second.body.equals(own)).toBe(true);
    expect(server.connections).toBe(2);
    second.release();
  });

  it('sees bytes sent after a body read in place (with its end), keeps the answer and does not reuse the connection', async () => {
    const size = 2 ** 20;
    const body = Buffer.alloc(size);
    for (let i = 0; i < size; i++) body[i] = (i * 3 + 7) & 0xff;
    const server = await scripted((socket, _request, index) => {
      if (index === 0) void writeApart(socket, [`HTTP/1.1 200 OK\r\ncontent-length: ${size}\r\n\r\n`, body.subarray(0, 10), Buffer.concat([body.subarray(10), Buffer.from('\r\n')])]);
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}');
    });
    const first = await post(server.url);
    expect(first.body.equals(body)).toBe(true);
    first.release();
    expect((await post(server.url)).body.toString()).toBe('{}');
    expect(server.connections).toBe(2);
  });

  it('runs many requests at once on as many connections, each answer its own', async () => {
    const server = await scripted((socket, request) => {
      const id = /"id":(\d+)/.exec(request)![1]!;
      setTimeout(() => socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${id.length}\r\n\r\n${id}`), 20);
    });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => http1Post(server.url, {}, `{"id":${i}}`, { timeoutMs: 2_000 }).then((a) => a.body.toString())),
    );
    expect(answers).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    expect(server.connections).toBe(20);
  });
});
