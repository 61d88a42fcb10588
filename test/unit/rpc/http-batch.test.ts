import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, expect } from 'vitest';
import { batchLimitError, bodyText, matchById, parseBatchBody, postBatch } from '../../../src/rpc/http-batch.js';
import { RpcBadResponseError, RpcBatchTooLargeError, RpcTransientError } from '../../../src/errors.js';
import type { RpcOutcome } from '../../../src/rpc/types.js';
import { fixture } from '../fixture.js';

const LABEL = 'rpc.example.com#1';
const MISSING: RpcOutcome = { ok: false, error: { code: -32603, message: 'missing from the batch response' } };

/** `ethereum/batch-eth_chainId-with-invalid-member.json` (format D: `{request, response}`), erigon rpc-tests. */
type RecordedBatch = { request: { id: number; method: string }[]; response: unknown };

describe('src/rpc/http-batch.ts', () => {
  it('matchById() puts an out-of-order response back in request order', () => {
    const parsed = [
      { jsonrpc: '2.0', id: 2, result: '0x3' },
      { jsonrpc: '2.0', id: 0, result: '0x1' },
      { jsonrpc: '2.0', id: 1, result: '0x2' },
    ];
    expect(matchById(parsed, 3, LABEL)).toEqual([
      { ok: true, result: '0x1' },
      { ok: true, result: '0x2' },
      { ok: true, result: '0x3' },
    ]);
  });

  it('matchById() turns a member missing from the response into a -32603 outcome', () => {
    const parsed = [
      { jsonrpc: '2.0', id: 0, result: '0x1' },
      { jsonrpc: '2.0', id: 2, result: null },
    ];
    expect(matchById(parsed, 3, LABEL)).toEqual([{ ok: true, result: '0x1' }, MISSING, { ok: true, result: null }]);
  });

  it('matchById() keeps a per-member error object with code, message and data', () => {
    const parsed = [
      { jsonrpc: '2.0', id: 1, error: { code: -32005, message: 'daily request count exceeded, request rate limited', data: { see: 'https://infura.io/dashboard' } } },
      { jsonrpc: '2.0', id: 0, result: '0x112a880' },
    ];
    expect(matchById(parsed, 2, LABEL)).toEqual([
      { ok: true, result: '0x112a880' },
      { ok: false, error: { code: -32005, message: 'daily request count exceeded, request rate limited', data: { see: 'https://infura.io/dashboard' } } },
    ]);
  });

  it('matchById() applies a single error object instead of an array to every request', () => {
    const parsed = { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'batch too large' } };
    const error = { code: -32600, message: 'batch too large' };
    expect(matchById(parsed, 3, LABEL)).toEqual([
      { ok: false, error },
      { ok: false, error },
      { ok: false, error },
    ]);
  });

  const garbage: [string, unknown][] = [
    ['a string', 'Too Many Requests'],
    ['a number', 42],
    ['null', null],
    ['an object with a result', { jsonrpc: '2.0', id: 0, result: '0x1' }],
    ['an object whose error is a string', { error: 'rate limited' }],
  ];
  for (const [what, parsed] of garbage) {
    it(`matchById() throws RpcBadResponseError naming the endpoint for ${what}`, () => {
      expect(() => matchById(parsed, 2, LABEL)).toThrow(RpcBadResponseError);
      expect(() => matchById(parsed, 2, LABEL)).toThrow(`${LABEL}: batch response is not an array`);
    });
  }

  it('matchById() ignores ids out of range and members that are not objects', () => {
    const parsed = [
      { jsonrpc: '2.0', id: -1, result: 'neg' },
      { jsonrpc: '2.0', id: 2, result: 'two' },
      { jsonrpc: '2.0', id: 99, result: 'far' },
      { jsonrpc: '2.0', id: '0', result: 'string id' },
      { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } },
      'garbage',
      null,
      { jsonrpc: '2.0', id: 1, result: '0x1' },
    ];
    expect(matchById(parsed, 2, LABEL)).toEqual([MISSING, { ok: true, result: '0x1' }]);
  });

  it('matchById() treats a member with neither result nor error as missing', () => {
    expect(matchById([{ jsonrpc: '2.0', id: 0 }], 1, LABEL)).toEqual([MISSING]);
  });

  it('matchById() returns [] for an empty response to an empty batch', () => {
    expect(matchById([], 0, LABEL)).toEqual([]);
  });

  // Regression test (fixed bug; src/rpc/http-batch.ts:70): the id check accepts any number in [0, count), so a fractional
  // id such as 0.5 is written as a non-index property "0.5" on the returned array instead of being
  // ignored. Input [{id: 0.5, result: 'half'}], count 2; actual keys ['0', '1', '0.5'].
  it('matchById() ignores a fractional id', () => {
    const outcomes = matchById([{ jsonrpc: '2.0', id: 0.5, result: 'half' }], 2, LABEL);
    expect(Object.keys(outcomes)).toEqual(['0', '1']);
  });

  describe('with the recorded erigon batch (two members, both id 1; the first has an empty method)', () => {
    const recorded = fixture<RecordedBatch>('ethereum/batch-eth_chainId-with-invalid-member.json');

    it('the recorded batch asks two requests, both with id 1', () => {
      expect(recorded.request.map((r) => [r.id, r.method])).toEqual([[1, ''], [1, 'eth_chainId']]);
    });

    it('matchById() with count 2 leaves id 0 missing and gives id 1 the later member, the eth_chainId result 0x1', () => {
      expect(matchById(recorded.response, 2, LABEL)).toEqual([MISSING, { ok: true, result: '0x1' }]);
    });

    it('matchById() with count 1 ignores both members (id 1 is out of range)', () => {
      expect(matchById(recorded.response, 1, LABEL)).toEqual([MISSING]);
    });

    it('matchById() keeps the -32600 "invalid request" member when it is the only one with id 1', () => {
      const [invalid] = recorded.response as unknown[];
      expect(matchById([invalid], 2, LABEL)).toEqual([MISSING, { ok: false, error: { code: -32600, message: 'invalid request', data: undefined } }]);
    });
  });

  // Regression test (fixed bug; src/rpc/http-batch.ts:35-38, postBatch catch block): Node's fetch refuses a URL with
  // userinfo before any I/O ("Request cannot be constructed from a URL that includes credentials:
  // <url>"); describeCause() copies that message, URL and password included, into the
  // RpcTransientError, which checkChainIds()/the pool log unredacted (src/rpc/pool.ts:66,114).
  // No network: the request is refused while it is being built.
  it('postBatch() never puts the password of a userinfo endpoint URL in its error message', async () => {
    const endpoint = { url: 'https://indexer:hunter2pass@127.0.0.1:9/', label: '127.0.0.1:9#1' };
    const err = await postBatch(endpoint, [{ method: 'eth_chainId', params: [] }], { timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcTransientError);
    expect((err as Error).message).not.toContain('hunter2pass');
  });

  // Regression (review): the 60 characters of a body that is not JSON were cut anywhere, so a key
  // the node repeated near there was quoted in part, where the pool's redaction (which knows keys
  // only whole) could not find it: 'SECRETK' of 'SECRETKEY123' went into the error.
  it('parseBatchBody() quotes a body that is not JSON without the piece of a word its 60-character cut goes through', () => {
    const body = '<html><body>403 Forbidden: the API key is not valid: SECRETKEY123</body></html>';
    expect(() => parseBatchBody(body, 1, LABEL)).toThrow(new RpcTransientError(`${LABEL}: answered with a body that is not JSON (<html><body>403 Forbidden: the API key is not valid: …)`));
    const base64Key = '<html><body>403 Forbidden: the API key is not val: ab+c/d=QkFTRTY0a2V5PT0=</body></html>';
    expect(() => parseBatchBody(base64Key, 1, LABEL)).toThrow(new RpcTransientError(`${LABEL}: answered with a body that is not JSON (<html><body>403 Forbidden: the API key is not val: …)`));
    expect(() => parseBatchBody('<html>502 Bad Gateway</html>', 1, LABEL)).toThrow(new RpcTransientError(`${LABEL}: answered with a body that is not JSON (<html>502 Bad Gateway</html>…)`));
  });

  // bodyText() must give exactly what Response.text() gave before it (undici's body reading).
  const viaResponse = (bytes: Buffer) => new Response(bytes).text();

  it('bodyText() equals Response.text() for every ASCII byte, an empty body and a JSON-RPC answer', async () => {
    const everyAscii = Buffer.from(Array.from({ length: 128 }, (_, b) => b));
    const answer = Buffer.from('[{"jsonrpc":"2.0","id":0,"result":"0x1"}]');
    for (const body of [everyAscii, Buffer.alloc(0), answer]) expect(bodyText(body)).toBe(await viaResponse(body));
    expect(bodyText(answer)).toBe('[{"jsonrpc":"2.0","id":0,"result":"0x1"}]');
  });

  it('bodyText() decodes UTF-8 (not one character per byte) and equals Response.text() with a BOM, two BOMs and invalid bytes', async () => {
    const utf8 = Buffer.from('{"error":{"message":"zu viele Anfragen – später"}}', 'utf8');
    expect(bodyText(utf8)).toBe('{"error":{"message":"zu viele Anfragen – später"}}');
    const bom = [0xef, 0xbb, 0xbf];
    const bodies = [utf8, Buffer.from([...bom, 0x5b, 0x5d]), Buffer.from([...bom, ...bom, 0x5b, 0x5d]), Buffer.from([0x22, 0xff, 0x22]), Buffer.from([0x22, 0xc3, 0x22])];
    for (const body of bodies) expect(bodyText(body)).toBe(await viaResponse(body));
    expect(bodyText(Buffer.from([...bom, 0x5b, 0x5d]))).toBe('[]');
    expect(bodyText(Buffer.from([...bom, ...bom, 0x5b, 0x5d]))).toBe('[]');
    expect(bodyText(Buffer.from([0x22, 0xff, 0x22]))).toBe('"\ufffd"');
  });

  it('postBatch() reads an answer sent in chunks, with a UTF-8 character split between two, and reports its size', async () => {
    const body = Buffer.from('[{"jsonrpc":"2.0","id":0,"error":{"code":-32000,"message":"später"}},{"jsonrpc":"2.0","id":1,"result":"0x2"}]', 'utf8');
    const split = body.indexOf(0xc3) + 1; // between the two bytes of ä
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(body.subarray(0, split));
        setTimeout(() => res.end(body.subarray(split)), 20);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      let bytes = 0;
      const outcomes = await postBatch({ url: `http://127.0.0.1:${port}/`, label: LABEL }, [{ method: 'eth_call', params: [] }, { method: 'eth_chainId', params: [] }], { timeoutMs: 5000, onBody: (n) => { bytes = n; } });
      expect(outcomes).toEqual([{ ok: false, error: { code: -32000, message: 'später', data: undefined } }, { ok: true, result: '0x2' }]);
      expect(bytes).toBe(body.toString('utf8').length);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  // The bodies of HTTP errors that refuse a batch, as the clients' sources write them.
  const refusals: [string, string, { code: number; message: string } | null][] = [
    ['Erigon (HTTP 400, one object)', '{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"batch limit 100 exceeded (can increase by --rpc.batch.limit). Requested batch of size: 142"}}',
      { code: -32000, message: 'batch limit 100 exceeded (can increase by --rpc.batch.limit). Requested batch of size: 142' }],
    ['Nethermind (HTTP 503, one object)', '{"jsonrpc":"2.0","error":{"code":-32005,"message":"Batch size limit exceeded"},"id":null}', { code: -32005, message: 'Batch size limit exceeded' }],
    ['dRPC (HTTP 500, items without envelope)', '[{"message":"Batch of more than 3 requests are not allowed on free tier","code":31}]', { code: 31, message: 'Batch of more than 3 requests are not allowed on free tier' }],
    ['a public endpoint (a batch of one error)', '[{"error":{"code":-32600,"message":"Too many [\\"eth_getLogs\\"] methods in the batch"},"id":null,"jsonrpc":"2.0"}]', { code: -32600, message: 'Too many ["eth_getLogs"] methods in the batch' }],
    ['a 503 that is not about batches', '{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"upstream unavailable"}}', null],
    ['a text body', 'upstream connect error or disconnect/reset before headers', null],
    ['a 429 rate limit', '{"jsonrpc":"2.0","id":null,"error":{"code":429,"message":"Too Many Requests"}}', null],
  ];
  for (const [who, body, want] of refusals) {
    it(`batchLimitError() finds ${want ? 'the refusal' : 'nothing'} in the body from ${who}`, () => {
      expect(batchLimitError(body)).toEqual(want);
    });
  }

  it('postBatch() throws RpcBatchTooLargeError naming the endpoint, the batch and the message for Erigon\'s HTTP 400 "batch limit … exceeded"', async () => {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end('{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"batch limit 1 exceeded (can increase by --rpc.batch.limit). Requested batch of size: 2"}}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const err = await postBatch({ url: `http://127.0.0.1:${port}/`, label: LABEL }, [{ method: 'eth_chainId', params: [] }, { method: 'eth_chainId', params: [] }], { timeoutMs: 5000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RpcBatchTooLargeError);
      expect((err as Error).message).toBe(`${LABEL}: HTTP 400, a batch of 2 calls refused: batch limit 1 exceeded (can increase by --rpc.batch.limit). Requested batch of size: 2 (code -32000)`);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it.each([
    [401, ' (the endpoint refuses the credentials: check the API key or user:password in its URL)'],
    [403, ' (the endpoint refuses the credentials: check the API key or user:password in its URL)'],
    [404, ' (nothing answers JSON-RPC at this path: check the URL)'],
    [502, ''],
  ])('postBatch() says what an HTTP %i means for the operator', async (status, hint) => {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(status, { 'content-type': 'text/plain' }).end('no'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const err = await postBatch({ url: `http://127.0.0.1:${port}/`, label: LABEL }, [{ method: 'eth_chainId', params: [] }], { timeoutMs: 5000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RpcTransientError);
      expect((err as Error).message).toBe(`${LABEL}: HTTP ${status} for a batch of 1${hint}`);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
