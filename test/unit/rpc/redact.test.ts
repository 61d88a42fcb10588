import { describe, it, expect } from 'vitest';
import { endpointLabel, redactUrls } from '../../../src/rpc/redact.js';

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
