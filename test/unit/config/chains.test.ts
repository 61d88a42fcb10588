import { describe, expect, it } from 'vitest';
import { chainFromEnv, loadChainsFile, parseChainsFile, selectChains } from '../../../src/config/chains.js';
import { parseConfig } from '../../../src/config/parse.js';
import { ConfigError } from '../../../src/errors.js';

const KEY = 'AbCdEf0123456789xyzKLMN';
const defaults = parseConfig({ TASK_QUEUE: 'idx', BATCH_SIZE: '50', CONFIRMATION_DEPTH: '3' });

/** Runs `run` and returns the problems of the ConfigError it throws (fails the test when it does not throw). */
const problemsOf = (run: () => unknown): readonly string[] => {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
};
const parse = (json: unknown, env: Record<string, string> = {}) => parseChainsFile(JSON.stringify(json), { env, defaults });

describe('src/config/chains.ts', () => {
  it('parseChainsFile() fills every field a chain leaves out from the environment and names its task queue <TASK_QUEUE>-<chainId>', () => {
    const [chain] = parse([{ chainId: 31337, rpcUrl: 'http://127.0.0.1:8545' }]);
    expect(chain).toEqual({
      chainId: 31337,
      rpcUrls: ['http://127.0.0.1:8545'],
      rpcLabels: ['127.0.0.1:8545#1'],
      taskQueue: 'idx-31337',
      startBlock: 0,
      batchSize: 50,
      batchRows: 50_000,
      concurrency: 8,
      maxRetries: 0,
      confirmationDepth: 3,
      finality: 'depth',
      pollIntervalMs: 2000,
      gapCheckIntervalMs: 60000,
      stallTimeoutMs: 300000,
      rpcTimeoutMs: 15000,
      rpcBatchCalls: 100,
      maxConcurrentActivities: 16,
      verifyRoots: false,
      partitionSize: 1_000_000,
    });
    expect(Object.isFrozen(chain)).toBe(true);
  });

  it('parseChainsFile() reads every field, an rpcUrl array, ${VAR} references, and the { "chains": [...] } form', () => {
    const chains = parse({
      chains: [
        {
          chainId: 1, rpcUrl: [`https://eth-mainnet.g.alchemy.com/v2/\${ALCHEMY_KEY}`, ' https://rpc.example.com '], taskQueue: 'eth', startBlock: 18_000_000,
          batchSize: 20, batchRows: 0, concurrency: 4, maxRetries: 5, confirmationDepth: 0, finality: 'finalized', pollIntervalMs: 12_000,
          gapCheckIntervalMs: 5_000, stallTimeoutMs: 90_000, rpcTimeoutMs: 30_000, rpcBatchCalls: 20, maxConcurrentActivities: 32, verifyRoots: true, partitionSize: 100_000,
        },
        { chainId: 10, rpcUrl: 'https://a.example/${A_KEY}, https://b.example', finality: 'safe' },
      ],
    }, { ALCHEMY_KEY: KEY, A_KEY: 'k1' });
    expect(chains).toEqual([
      {
        chainId: 1, rpcUrls: [`https://eth-mainnet.g.alchemy.com/v2/${KEY}`, 'https://rpc.example.com'], rpcLabels: ['eth-mainnet.g.alchemy.com#1', 'rpc.example.com#2'],
        taskQueue: 'eth', startBlock: 18_000_000, batchSize: 20, batchRows: 0, concurrency: 4, maxRetries: 5, confirmationDepth: 0, finality: 'finalized',
        pollIntervalMs: 12_000, gapCheckIntervalMs: 5_000, stallTimeoutMs: 90_000, rpcTimeoutMs: 30_000, rpcBatchCalls: 20, maxConcurrentActivities: 32, verifyRoots: true, partitionSize: 100_000,
      },
      expect.objectContaining({ chainId: 10, rpcUrls: ['https://a.example/k1', 'https://b.example'], rpcLabels: ['a.example#1', 'b.example#2'], taskQueue: 'idx-10', finality: 'safe', batchSize: 50 }),
    ]);
  });

  it('parseChainsFile() keeps an unset ${VAR} as written when asked to (the client), and refuses it otherwise', () => {
    const text = JSON.stringify([{ chainId: 1, rpcUrl: 'https://eth.example/v2/${KEY}' }, { chainId: 2, rpcUrl: '${URL_2}' }]);
    expect(parseChainsFile(text, { env: {}, defaults, unsetVariables: 'keep' }).map((c) => [c.rpcUrls, c.rpcLabels])).toEqual([
      [['https://eth.example/v2/${KEY}'], ['eth.example#1']],
      [['${URL_2}'], ['endpoint#1']],
    ]);
    expect(problemsOf(() => parseChainsFile(text, { env: { KEY: '' }, defaults }))).toEqual([
      'CHAINS_FILE chains[0].rpcUrl: endpoint eth.example#1: environment variable KEY is not set (referenced as ${KEY})',
      'CHAINS_FILE chains[1].rpcUrl: endpoint #1: environment variable URL_2 is not set (referenced as ${URL_2})',
    ]);
  });

  it('reads a file that starts with a UTF-8 byte order mark (as some editors write it)', () => {
    expect(parseChainsFile('\uFEFF[{"chainId": 1, "rpcUrl": "http://a"}]', { env: {}, defaults }).map((c) => c.chainId)).toEqual([1]);
  });

  const bad: [string, string, string[]][] = [
    ['text that is not JSON', '[\n  {chainId: 1}]', ['CHAINS_FILE: not valid JSON at line 2, column 4 (unexpected \'c\': strings need double quotes; true, false and null are lower case)']],
    ['a comment', '[{"chainId": 1, "rpcUrl": "http://a/b"} // mainnet\n]', ['CHAINS_FILE: not valid JSON at line 1, column 41 (JSON has no comments)']],
    ['an unquoted URL', '[{"chainId": 1,\n "rpcUrl": http://a}]', ['CHAINS_FILE: not valid JSON at line 2, column 12 (unexpected \'h\': strings need double quotes; true, false and null are lower case)']],
    ['True for true', '[{"chainId": 1, "rpcUrl": "http://a", "verifyRoots": True}]', ['CHAINS_FILE: not valid JSON at line 1, column 54 (unexpected \'T\': strings need double quotes; true, false and null are lower case)']],
    ['a bare word after a false, far into the file', '[{"chainId": 1, "rpcUrl": "http://a", "verifyRoots": false, "x": abc}]', ['CHAINS_FILE: not valid JSON at line 1, column 66 (unexpected \'a\': strings need double quotes; true, false and null are lower case)']],
    ['a trailing comma after an array of URLs', '[{"chainId": 1, "rpcUrl": ["http://a"]},\n]', ['CHAINS_FILE: not valid JSON at line 2, column 1 (unexpected \']\': a comma before it?)']],
    ['a missing comma on line 2 of a file with a byte order mark', '\uFEFF[{"chainId": 1, "rpcUrl": "http://a"},\n {"chainId": 2 "rpcUrl": "http://b"}]', ['CHAINS_FILE: not valid JSON at line 2, column 16 (unexpected \'"\': a comma before it?)']],
    ['single quotes', '[{"chainId": 1, "rpcUrl": \'http://a\'}]', ['CHAINS_FILE: not valid JSON at line 1, column 27 (unexpected a single quote: strings need double quotes; true, false and null are lower case)']],
    ['a trailing comma', '[{"chainId": 1, "rpcUrl": "http://a"},]', ['CHAINS_FILE: not valid JSON at line 1, column 39 (unexpected \']\': a comma before it?)']],
    ['an empty file', ' \n', ['CHAINS_FILE: not valid JSON (the file is empty)']],
    ['a file cut short', '[{"chainId": 1', ['CHAINS_FILE: not valid JSON (it ends too early)']],
    ['a number', '7', ['CHAINS_FILE: expected a JSON array of chains or an object with a "chains" array']],
    ['an object without chains', '{"chain": []}', ['CHAINS_FILE: expected a JSON array of chains or an object with a "chains" array']],
    ['an empty list', '[]', ['CHAINS_FILE chains: expected at least one chain']],
    ['chains that is not an array', '{"chains": {"chainId": 1}}', ['CHAINS_FILE chains: expected an array of chains']],
    ['an unknown top-level field', '{"chains": [{"chainId": 1, "rpcUrl": "http://a"}], "version": 2}', ['CHAINS_FILE: unknown field "version" (expected "chains")']],
    ['a chain that is not an object', '["http://a"]', ['CHAINS_FILE chains[0]: Invalid input: expected object, received string']],
    ['a chain without chainId and rpcUrl', '[{}]', [
      'CHAINS_FILE chains[0].chainId: expected an integer ≥ 1',
      'CHAINS_FILE chains[0].rpcUrl: expected a string of comma-separated http(s) URLs or an array of them',
    ]],
    ['a mistyped field name', '[{"chainId": 1, "rpcUrl": "http://a", "batchsize": 10, "depth": 2}]', [
      'CHAINS_FILE chains[0]: unknown fields "batchsize", "depth" (expected chainId, rpcUrl, taskQueue, startBlock, batchSize, batchRows, concurrency, maxRetries, confirmationDepth, finality, pollIntervalMs, gapCheckIntervalMs, stallTimeoutMs, rpcTimeoutMs, rpcBatchCalls, maxConcurrentActivities, verifyRoots, partitionSize)',
    ]],
    ['a chain id written as a string', '[{"chainId": "1", "rpcUrl": "http://a"}]', ['CHAINS_FILE chains[0].chainId: expected an integer ≥ 1']],
    ['values out of range', '[{"chainId": 1, "rpcUrl": "http://a", "batchSize": 0, "concurrency": 501, "confirmationDepth": -1, "pollIntervalMs": 1.5, "startBlock": 1e300}]', [
      'CHAINS_FILE chains[0].startBlock: expected an integer from 0 to 9,007,199,254,740,991 (2^53 − 1)',
      'CHAINS_FILE chains[0].batchSize: expected an integer from 1 to 10000',
      'CHAINS_FILE chains[0].concurrency: expected an integer from 1 to 500',
      'CHAINS_FILE chains[0].confirmationDepth: expected an integer from 0 to 100000',
      'CHAINS_FILE chains[0].pollIntervalMs: expected an integer from 10 to 3600000',
    ]],
    ['a bad finality, task queue and verifyRoots', '[{"chainId": 1, "rpcUrl": "http://a", "finality": "final", "taskQueue": " ", "verifyRoots": "yes"}]', [
      'CHAINS_FILE chains[0].taskQueue: expected a non-empty string',
      'CHAINS_FILE chains[0].finality: expected "depth", "safe" or "finalized" (got "final")',
      'CHAINS_FILE chains[0].verifyRoots: expected true or false',
    ]],
    ['an rpcUrl of only commas', '[{"chainId": 1, "rpcUrl": " , "}]', ['CHAINS_FILE chains[0].rpcUrl: expected at least one http(s) URL']],
    ['an rpcUrl array with a number', '[{"chainId": 1, "rpcUrl": ["http://a", 5]}]', ['CHAINS_FILE chains[0].rpcUrl: expected a string of comma-separated http(s) URLs or an array of them']],
    ['a websocket endpoint with a key, shown only as its label', `[{"chainId": 1, "rpcUrl": "http://a"}, {"chainId": 2, "rpcUrl": "http://b,wss://eth.example/v2/${KEY}"}]`, [
      'CHAINS_FILE chains[1].rpcUrl: endpoint eth.example#2 is not an http(s) URL',
    ]],
    ['a chain listed twice', '[{"chainId": 1, "rpcUrl": "http://a"}, {"chainId": 2, "rpcUrl": "http://b"}, {"chainId": 1, "rpcUrl": "http://c"}]', [
      'CHAINS_FILE chains[2].chainId: chain 1 is listed twice (also chains[0])',
      'CHAINS_FILE chains[2].taskQueue: task queue idx-1 is used twice (also chains[0]); each chain needs its own',
    ]],
    ['every kind of problem at once (schema, URLs, duplicates)', '[{"chainId": 10, "rpcUrl": "http://a/${ALCHEMY_KEY}", "startBlock": -1, "finality": "final"}, {"chainId": 10, "rpcUrl": "ftp://b", "batchSize": 0}]', [
      'CHAINS_FILE chains[0].startBlock: expected an integer ≥ 0',
      'CHAINS_FILE chains[0].finality: expected "depth", "safe" or "finalized" (got "final")',
      'CHAINS_FILE chains[1].batchSize: expected an integer from 1 to 10000',
      'CHAINS_FILE chains[0].rpcUrl: endpoint a#1: environment variable ALCHEMY_KEY is not set (referenced as ${ALCHEMY_KEY})',
      'CHAINS_FILE chains[1].rpcUrl: endpoint b#1 is not an http(s) URL',
      'CHAINS_FILE chains[1].chainId: chain 10 is listed twice (also chains[0])',
      'CHAINS_FILE chains[1].taskQueue: task queue idx-10 is used twice (also chains[0]); each chain needs its own',
    ]],
    ['two chains on one task queue but for a space', '[{"chainId": 1, "rpcUrl": "http://a", "taskQueue": "q"}, {"chainId": 2, "rpcUrl": "http://b", "taskQueue": "q "}]', [
      'CHAINS_FILE chains[1].taskQueue: task queue q is used twice (also chains[0]); each chain needs its own',
    ]],
    ['a task queue that is not a string (one line, from the schema)', '[{"chainId": 1, "rpcUrl": "http://a"}, {"chainId": 2, "rpcUrl": "http://b", "taskQueue": 5}]', [
      'CHAINS_FILE chains[1].taskQueue: Invalid input: expected string, received number',
    ]],
    ['two chains on one task queue', '[{"chainId": 1, "rpcUrl": "http://a", "taskQueue": "q"}, {"chainId": 2, "rpcUrl": "http://b", "taskQueue": "q"}]', [
      'CHAINS_FILE chains[1].taskQueue: task queue q is used twice (also chains[0]); each chain needs its own',
    ]],
  ];
  for (const [what, text, problems] of bad) {
    it(`parseChainsFile() rejects ${what} with one line per problem`, () => {
      const found = problemsOf(() => parseChainsFile(text, { env: {}, defaults }));
      expect(found).toEqual(problems);
      expect(found.join('\n')).not.toContain(KEY);
    });
  }

  it('loadChainsFile() returns null without CHAINS_FILE, reads the file, and names an unreadable one', () => {
    expect(loadChainsFile(parseConfig({}), {})).toBeNull();
    const config = parseConfig({ CHAINS_FILE: '/etc/indexer/chains.json' });
    const read = (path: string) => (path === '/etc/indexer/chains.json' ? '[{"chainId": 5, "rpcUrl": "http://a"}]' : '');
    expect(loadChainsFile(config, {}, { readFile: read })!.map((c) => c.taskQueue)).toEqual(['evm-indexer-5']);
    expect(problemsOf(() => loadChainsFile(parseConfig({ CHAINS_FILE: '/nonexistent/chains.json' }), {}))).toEqual(['CHAINS_FILE: cannot read /nonexistent/chains.json (ENOENT)']);
  });

  it('loadChainsFile() refuses RPC_URL next to CHAINS_FILE', () => {
    const config = parseConfig({ CHAINS_FILE: '/etc/indexer/chains.json', RPC_URL: 'http://127.0.0.1:8545' });
    expect(problemsOf(() => loadChainsFile(config, {}, { readFile: () => '[]' }))).toEqual([
      'RPC_URL: not used with CHAINS_FILE (each chain lists its rpcUrl in the file); unset one of them',
    ]);
  });

  it('selectChains() keeps every chain without a chain id, one chain with it, and names a chain not in the file', () => {
    const chains = parse([{ chainId: 1, rpcUrl: 'http://a' }, { chainId: 10, rpcUrl: 'http://b' }]);
    expect(selectChains(chains, null).map((c) => c.chainId)).toEqual([1, 10]);
    expect(selectChains(chains, 10).map((c) => c.chainId)).toEqual([10]);
    expect(problemsOf(() => selectChains(chains, 5, '--chain-id'))).toEqual(['--chain-id: chain 5 is not in CHAINS_FILE (it lists 1, 10)']);
  });

  it('chainFromEnv() keeps the single-chain task queue and settings of the environment', () => {
    const config = parseConfig({ RPC_URL: 'http://127.0.0.1:8545', TASK_QUEUE: 'evm-indexer', FINALITY: 'safe' });
    expect(chainFromEnv(config, 31337)).toMatchObject({ chainId: 31337, rpcLabels: ['127.0.0.1:8545#1'], taskQueue: 'evm-indexer', finality: 'safe', batchSize: 100 });
  });
});
