import { describe, it, expect } from 'vitest';
import { RpcTransientError } from '../../../src/errors.js';
import { createRedactor, endpointLabel, endpointPhrase, redactError, redactUrls } from '../../../src/rpc/redact.js';

const ALCHEMY_KEY = 'AbCdEf0123456789xyzKLMN';
const INFURA_KEY = '0123456789abcdef0123456789abcdef';
const QUERY_KEY = 'S3CR3TKEY42';
const PASSWORD = 'hunter2pass';

const ALCHEMY = `https://eth-mainnet.g.alchemy.com/v2/${ALCHEMY_KEY}`;
const INFURA = `https://mainnet.infura.io/v3/${INFURA_KEY}`;
const QUERY = `https://api.example.com/rpc?apikey=${QUERY_KEY}`;
const USERINFO = `https://indexer:${PASSWORD}@rpc.example.com:8545`;
const LOCAL = 'http://127.0.0.1:8545';
const URLS = [ALCHEMY, INFURA, QUERY, USERINFO, LOCAL];
const SECRETS = [ALCHEMY_KEY, INFURA_KEY, QUERY_KEY, PASSWORD];

describe('src/rpc/redact.ts', () => {
  const labels: [string, number, string][] = [
    [ALCHEMY, 0, 'eth-mainnet.g.alchemy.com#1'],
    [INFURA, 1, 'mainnet.infura.io#2'],
    [QUERY, 2, 'api.example.com#3'],
    [USERINFO, 3, 'rpc.example.com:8545#4'],
    [LOCAL, 4, '127.0.0.1:8545#5'],
    ['wss://eth-mainnet.g.alchemy.com/v2/KEY', 0, 'eth-mainnet.g.alchemy.com#1'],
    [`eth-mainnet.g.alchemy.com/v2/${ALCHEMY_KEY}`, 0, 'endpoint#1'],
    ['not a url', 6, 'endpoint#7'],
  ];
  for (const [url, index, want] of labels) {
    it(`endpointLabel() labels ${url.split('/')[2] ?? url} #${index} as '${want}' without path, query or credentials`, () => {
      const label = endpointLabel(url, index);
      expect(label).toBe(want);
      for (const secret of [...SECRETS, 'KEY']) expect(label).not.toContain(secret);
    });
  }

  it('endpointPhrase() names an endpoint in a message: `endpoint <label>`, or `endpoint #n` when its URL does not parse (no secret either way)', () => {
    expect(endpointPhrase(ALCHEMY, 0)).toBe('endpoint eth-mainnet.g.alchemy.com#1');
    expect(endpointPhrase(`eth-mainnet.g.alchemy.com/v2/${ALCHEMY_KEY}`, 2)).toBe('endpoint #3');
    expect(endpointPhrase('not a url', 0)).toBe('endpoint #1');
  });

  const messages: [string, string, string][] = [
    ['an Alchemy /v2/<key> URL', `request to ${ALCHEMY} failed, reason: socket hang up`, 'request to eth-mainnet.g.alchemy.com#1 failed, reason: socket hang up'],
    ['an Infura /v3/<key> URL', `POST ${INFURA} returned 401`, 'POST mainnet.infura.io#2 returned 401'],
    ['a ?apikey= URL with more query after it', `GET ${QUERY}&page=2 failed`, 'GET api.example.com#3&page=2 failed'],
    [
      'a userinfo URL as fetch prints it',
      `Request cannot be constructed from a URL that includes credentials: ${USERINFO}/`,
      'Request cannot be constructed from a URL that includes credentials: rpc.example.com:8545#4/',
    ],
    ['a URL without a secret', `connect ECONNREFUSED at ${LOCAL}`, 'connect ECONNREFUSED at 127.0.0.1:8545#5'],
    ['the Alchemy path alone', `path /v2/${ALCHEMY_KEY}/ refused`, 'path /<redacted>/ refused'],
    ['the ?apikey= query alone', `query ?apikey=${QUERY_KEY} refused`, 'query /<redacted> refused'],
    ['the userinfo password alone', `auth ${PASSWORD} refused`, 'auth /<redacted> refused'],
    ['two URLs in one message', `tried ${INFURA} then ${ALCHEMY}`, 'tried mainnet.infura.io#2 then eth-mainnet.g.alchemy.com#1'],
    ['a message with no URL', 'no answer within 15000 ms', 'no answer within 15000 ms'],
  ];
  for (const [what, message, want] of messages) {
    it(`redactUrls() replaces ${what} and no key survives`, () => {
      const out = redactUrls(message, URLS);
      expect(out).toBe(want);
      for (const secret of SECRETS) expect(out).not.toContain(secret);
    });
  }

  it('redactUrls() removes the password of a URL printed in its normalized form (lower-case host, trailing slash)', () => {
    const url = `https://indexer:${PASSWORD}@RPC.Example.com:8545`;
    const out = redactUrls(`fetch ${new URL(url).href}`, [url]);
    expect(out).not.toContain(PASSWORD);
  });

  // Regression test (fixed bug; src/rpc/redact.ts:33, `part.length > 4`): secret parts of 4 characters or fewer are never
  // stripped, so a short userinfo password survives whenever the message holds the URL in another
  // form than the exact RPC_URL string (here `new URL(url).href`, which lower-cases the host).
  // Input url 'https://indexer:pw12@RPC.Example.com:8545', message 'fetch https://indexer:pw12@rpc.example.com:8545/';
  // actual 'fetch https:///<redacted>:pw12@rpc.example.com:8545/'.
  it('redactUrls() removes a 4-character userinfo password from a normalized URL', () => {
    const url = 'https://indexer:pw12@RPC.Example.com:8545';
    const out = redactUrls(`fetch ${new URL(url).href}`, [url]);
    expect(out).not.toContain('pw12');
  });
});

// Regression (review): a node's error text that repeats part of its URL (the key in "API key <key>
// is not valid", the request path it was asked) went out whole: redactUrls() only knew whole
// pathnames and query strings, as written. Now every path segment and query value of 6 characters
// or more, and the userinfo, are replaced as written, decoded and URL-encoded; shorter ones stay.
describe('src/rpc/redact.ts: secret parts inside a node\'s text', () => {
  const KEY = 'SECRETKEY123';
  const NODE = `http://127.0.0.1:47169/rpc/v2/${KEY}?chain=eth&apikey=SECRET2&token=ab%2Fcd+ef%3D`;
  const NODE_LABEL = '127.0.0.1:47169#1';
  const USER_NODE = 'https://idx%2Bindexer:p%40ss-word9@node.example.com/mainnet/K3Y-8f2e9a';
  const cases: [string, string, string, string][] = [
    [NODE, 'a path segment in a sentence', `API key ${KEY} is not valid`, 'API key <redacted> is not valid'],
    [NODE, 'a query value after its name', 'apikey=SECRET2 refused', 'apikey=<redacted> refused'],
    [NODE, 'a query value alone', 'unknown key SECRET2', 'unknown key <redacted>'],
    [NODE, 'the path and query together, as req.url echoes them', `no route for /rpc/v2/${KEY}?chain=eth&apikey=SECRET2&token=ab%2Fcd+ef%3D (404)`, 'no route for /<redacted> (404)'],
    [NODE, 'the path and query URL-encoded', `redirect=${encodeURIComponent(`/rpc/v2/${KEY}?chain=eth&apikey=SECRET2&token=ab%2Fcd+ef%3D`)}`, 'redirect=/<redacted>'],
    [NODE, 'the path and query decoded', `asked /rpc/v2/${KEY}?chain=eth&apikey=SECRET2&token=ab/cd+ef=`, 'asked /<redacted>'],
    [NODE, 'a query value as written (percent-encoded)', 'token ab%2Fcd+ef%3D expired', 'token <redacted> expired'],
    [NODE, 'a query value decoded', 'token ab/cd+ef= expired', 'token <redacted> expired'],
    [NODE, 'a query value decoded with + as a space', 'token ab/cd ef= expired', 'token <redacted> expired'],
    [NODE, 'a key next to short segments and values, which stay (rpc, v2, eth)', `rpc v2 on chain eth: key ${KEY} refused`, 'rpc v2 on chain eth: key <redacted> refused'],
    [USER_NODE, 'the userinfo user decoded', 'user idx+indexer unknown', 'user /<redacted> unknown'],
    [USER_NODE, 'the userinfo password decoded', 'password p@ss-word9 wrong', 'password /<redacted> wrong'],
    ['https://node1234.example.com/node1234/KEY123456', 'a segment that is also part of the label, label kept whole', 'node1234.example.com#1: node1234 at KEY123456', 'node1234.example.com#1: <redacted> at <redacted>'],
    ['https://node.example.com/mainnet/KEY123456', 'a word segment only as a word, a key anywhere', 'header not found on mainnet; ethereum-mainnet-compatible; xKEY123456', 'header not found on <redacted>; ethereum-mainnet-compatible; x<redacted>'],
    ['https://user:Pa55word99@node.example.com/', 'the userinfo in the Authorization: Basic form', `invalid authorization Basic ${Buffer.from('user:Pa55word99').toString('base64')}`, 'invalid authorization Basic /<redacted>'],
  ];
  for (const [url, what, message, want] of cases) {
    it(`redactUrls() replaces ${what}: '${want}'`, () => {
      expect(redactUrls(message, [url])).toBe(want);
    });
  }

  it('createRedactor() names the endpoint by the label it is given and replaces the same parts as redactUrls()', () => {
    const redact = createRedactor([NODE], ['127.0.0.1:47169#3']);
    expect(redact(`${NODE} said: API key ${KEY} is not valid; apikey=SECRET2`)).toBe('127.0.0.1:47169#3 said: API key <redacted> is not valid; apikey=<redacted>');
    expect(redactUrls(`${NODE}: ${KEY}`, [NODE], ['127.0.0.1:47169#3'])).toBe('127.0.0.1:47169#3: <redacted>');
  });

  it('redactError() rewrites the message, stack and cause of an RpcTransientError in place, keeping its class and Retry-After', () => {
    const cause = new Error(`upstream said ${KEY}`);
    const err = new RpcTransientError(`${NODE_LABEL}: eth_chainId failed: API key ${KEY} is not valid; apikey=SECRET2 (code -32000)`, { cause, retryAfterMs: 1_000, rateLimited: true });
    void err.stack; // a stack printed once keeps the message it was printed with
    const out = redactError(err, createRedactor([NODE]));
    expect(out).toBe(err);
    expect(err).toBeInstanceOf(RpcTransientError);
    expect([err.message, err.retryAfterMs, err.rateLimited]).toEqual([`${NODE_LABEL}: eth_chainId failed: API key <redacted> is not valid; apikey=<redacted> (code -32000)`, 1_000, true]);
    expect(err.stack!.split('\n')[0]).toBe(`RpcTransientError: ${NODE_LABEL}: eth_chainId failed: API key <redacted> is not valid; apikey=<redacted> (code -32000)`);
    expect((err.cause as Error).message).toBe('upstream said <redacted>');
    expect(redactError(`thrown ${KEY}`, createRedactor([NODE]))).toBe('thrown <redacted>');
  });
});

// Regression (tester): the userinfo's user and password were replaced as plain substrings whatever
// their length, so a short user garbled every message: with RPC_URL=http://u:PaSsWoRd999@127.0.0.1:28911/v2/BADKEYsecret9876
// the worker printed 'start/<redacted>p error: no RPC endpoint serves CHAIN_ID 31337: 127.0.0.1:28911#1 /<redacted>nreachable: …'
// (user `e`: 'startup /<redacted>rror: no RPC /<redacted>ndpoint s/<redacted>rv/<redacted>s …'; user `ab`: 'unreach/<redacted>le').
// Now a userinfo part shorter than MIN_SECRET_PART_CHARS (6) is replaced only within the URL and
// its `user:password@` form (a short password also where it stands as a token of its own), never inside a word.
describe('src/rpc/redact.ts: a short userinfo user or password', () => {
  const LABEL = '127.0.0.1:28911#1';
  const STARTUP = `startup error: no RPC endpoint serves CHAIN_ID 31337: ${LABEL} unreachable: ${LABEL}: connection failed (ECONNREFUSED)`;
  const ENDPOINT_WORDS = 'the endpoint serves errors, unreachable; user ab or e or u: redacted <redacted> /<redacted> about up-to-date eth_chainId';
  const userinfos = ['u:PaSsWoRd999', 'e:PaSsWoRd999', 'ab:PaSsWoRd999', 'u:', 'u', 'ab:cd', 'e:1'];
  for (const userinfo of userinfos) {
    const url = `http://${userinfo}@127.0.0.1:28911/v2/BADKEYsecret9876`;
    it(`createRedactor() for ${url} leaves the words of a message whole`, () => {
      const redact = createRedactor([url], [LABEL]);
      expect(redact(STARTUP)).toBe(STARTUP);
      expect(redact(ENDPOINT_WORDS)).toBe(ENDPOINT_WORDS);
      // Twice, as the pool and checkChainIds() both redact the same text: the markers stay whole.
      expect(redact(redact(`${url} said: API key BADKEYsecret9876 is not valid`))).toBe(`${LABEL} said: API key <redacted> is not valid`);
    });
  }

  const cases: [string, string, string, string][] = [
    ['http://u:PaSsWoRd999@127.0.0.1:28911/v2/BADKEYsecret9876', 'the URL under another scheme, user:password@ replaced whole', 'dial ws://u:PaSsWoRd999@127.0.0.1:28911 failed: unreachable', 'dial ws://<redacted>@127.0.0.1:28911 failed: unreachable'],
    ['http://u:PaSsWoRd999@127.0.0.1:28911/v2/BADKEYsecret9876', 'a password of 6+ characters anywhere', 'upstream auth failed for xPaSsWoRd999x (user u)', 'upstream auth failed for x/<redacted>x (user u)'],
    ['http://u:@127.0.0.1:28911/', 'an empty password: u:@ and u@ replaced, you@ kept', 'proxy http://u:@10.0.0.1 and http://u@10.0.0.1 refused you@example.com', 'proxy http://<redacted>@10.0.0.1 and http://<redacted>@10.0.0.1 refused you@example.com'],
    ['http://u:@127.0.0.1:28911/', 'user:password@ after a quote, a bracket or =', 'proxy said "u:@a" (u:@b) proxy=u:@c', 'proxy said "<redacted>@a" (<redacted>@b) proxy=<redacted>@c'],
    ['https://indexer:pw12@node.example.com:8545', 'a short password in the user:password@ form of another host', 'fetch https://indexer:pw12@rpc.example.com:8545/ failed', 'fetch https://<redacted>@rpc.example.com:8545/ failed'],
    ['https://indexer:pw12@node.example.com:8545', 'a password of 3+ characters wherever it appears, even inside words or before a dot', 'password pw12 wrong (pw123, xpw12, pw12_a); u:pw12. pw12-x; indexer:pw12 refused', 'password /<redacted> wrong (/<redacted>3, x/<redacted>, /<redacted>_a); u:/<redacted>. /<redacted>-x; /<redacted> refused'],
    ['https://indexer:pw@node.example.com:8545', 'a password of 1–2 characters only as a token of its own', 'password pw wrong (pwd, upward kept); indexer:pw refused', 'password /<redacted> wrong (pwd, upward kept); /<redacted> refused'],
    ['https://indexer:pw12@node.example.com:8545', 'a letters-only user of 6+ characters as a word of its own', 'user indexer unknown; indexers and reindexer kept', 'user /<redacted> unknown; indexers and reindexer kept'],
    ['https://:pw@node.example.com', 'an empty user (Infura\'s old https://:secret@ form)', 'fetch https://:pw@other.example.com failed with pw', 'fetch https://<redacted>@other.example.com failed with /<redacted>'],
    ['https://ab:c%40d@node.example.com', 'the user:password@ form percent-decoded and encoded', 'ab:c@d@x and next=https%3A%2F%2Fab%3Ac%2540d%40x, abc@d too (a 3-character password goes anywhere)', '<redacted>@x and next=https%3A%2F%2F<redacted>%40x, ab/<redacted> too (a 3-character password goes anywhere)'],
    ['https://u:@node.example.com', 'a short Authorization: Basic form as a token, kept inside base64', `Basic ${Buffer.from('u:').toString('base64')} refused; eGdTo=x kept`, 'Basic /<redacted> refused; eGdTo=x kept'],
  ];
  for (const [url, what, message, want] of cases) {
    it(`redactUrls() replaces ${what}: '${want}'`, () => {
      expect(redactUrls(message, [url])).toBe(want);
    });
  }
});
