import { describe, it, expect } from 'vitest';
import { assertWorkerConfig, parseConfig, redactDatabaseUrl } from '../../../src/config/parse.js';
import { ConfigError } from '../../../src/errors.js';

/** Runs parseConfig and returns the ConfigError it throws (fails the test when it does not throw). */
const problemsOf = (env: Record<string, string | undefined>): readonly string[] => {
  try {
    parseConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error(`parseConfig accepted ${JSON.stringify(env)}`);
};

const ALCHEMY_KEY = 'AbCdEf0123456789xyzKLMN';

describe('src/config/parse.ts', () => {
  it('parseConfig() returns the documented defaults for an empty environment', () => {
    const config = parseConfig({});
    expect({ ...config, instanceId: undefined }).toEqual({
      rpcUrls: [],
      rpcLabels: [],
      databaseUrl: 'postgres://indexer:indexer@127.0.0.1:5432/indexer',
      databaseLabel: 'postgres://indexer@127.0.0.1:5432/indexer',
      temporalAddress: '127.0.0.1:7233',
      temporalNamespace: 'default',
      taskQueue: 'evm-indexer',
      chainId: null,
      startBlock: 0,
      batchSize: 100,
      batchRows: 50_000,
      concurrency: 8,
      maxRetries: 0,
      confirmationDepth: 12,
      finality: 'depth',
      pollIntervalMs: 2000,
      rpcTimeoutMs: 15000,
      rpcBatchCalls: 100,
      gapCheckIntervalMs: 60000,
      stallTimeoutMs: 300000,
      maxConcurrentActivities: 16,
      fetchBufferBytes: 48 * 1024 * 1024,
      decodeThreads: null,
      nativeTranscoder: 'auto',
      rpcHttpClient: 'auto',
      instanceId: undefined,
      verifyRoots: false,
      partitionSize: 1_000_000,
      metricsPort: null,
      logLevel: 'info',
    });
    expect(config.instanceId).toBe(`worker-${process.pid}`);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('parseConfig() treats empty strings as unset', () => {
    expect(parseConfig({ BATCH_SIZE: '', FINALITY: '', CHAIN_ID: '' })).toMatchObject({ batchSize: 100, finality: 'depth', chainId: null });
  });

  it('parseConfig() reads every variable when all are valid', () => {
    const config = parseConfig({
      RPC_URL: ` https://eth-mainnet.g.alchemy.com/v2/${ALCHEMY_KEY} ,http://127.0.0.1:8545`,
      DATABASE_URL: 'postgresql://app:pw@db.internal:6543/chain',
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_NAMESPACE: 'indexing',
      TASK_QUEUE: 'eth-mainnet',
      CHAIN_ID: '1',
      START_BLOCK: '18000000',
      BATCH_SIZE: ' 250 ',
      BATCH_ROWS: '0',
      CONCURRENCY: '4',
      MAX_RETRIES: '10',
      CONFIRMATION_DEPTH: '0',
      FINALITY: 'finalized',
      POLL_INTERVAL: '12000',
      RPC_TIMEOUT: '30000',
      RPC_BATCH_CALLS: '10',
      GAP_CHECK_INTERVAL: '5000',
      STALL_TIMEOUT: '90000',
      MAX_CONCURRENT_ACTIVITIES: '32',
      FETCH_BUFFER_MB: '64',
      DECODE_THREADS: '0',
      NATIVE_TRANSCODER: 'off',
      RPC_HTTP_CLIENT: 'fetch',
      INSTANCE_ID: ' worker-a ',
      METRICS_PORT: '9464',
      LOG_LEVEL: 'debug',
      VERIFY_ROOTS: 'true',
      PARTITION_SIZE: '10',
    });
    expect(config).toEqual({
      rpcUrls: [`https://eth-mainnet.g.alchemy.com/v2/${ALCHEMY_KEY}`, 'http://127.0.0.1:8545'],
      rpcLabels: ['eth-mainnet.g.alchemy.com#1', '127.0.0.1:8545#2'],
      databaseUrl: 'postgresql://app:pw@db.internal:6543/chain',
      databaseLabel: 'postgresql://app@db.internal:6543/chain',
      temporalAddress: 'temporal.internal:7233',
      temporalNamespace: 'indexing',
      taskQueue: 'eth-mainnet',
      chainId: 1,
      startBlock: 18_000_000,
      batchSize: 250,
      batchRows: 0,
      concurrency: 4,
      maxRetries: 10,
      confirmationDepth: 0,
      finality: 'finalized',
      pollIntervalMs: 12_000,
      rpcTimeoutMs: 30_000,
      rpcBatchCalls: 10,
      gapCheckIntervalMs: 5_000,
      stallTimeoutMs: 90_000,
      maxConcurrentActivities: 32,
      fetchBufferBytes: 64 * 1024 * 1024,
      decodeThreads: 0,
      nativeTranscoder: 'off',
      rpcHttpClient: 'fetch',
      instanceId: 'worker-a',
      verifyRoots: true,
      partitionSize: 10,
      metricsPort: 9464,
      logLevel: 'debug',
    });
  });

  it('takes an IPv6 TEMPORAL_ADDRESS in brackets', () => {
    expect(parseConfig({ RPC_URL: 'http://127.0.0.1:8545', CHAIN_ID: '1', TEMPORAL_ADDRESS: '[::1]:7233' }).temporalAddress).toBe('[::1]:7233');
  });

  const bad: [string, string, string][] = [
    ['RPC_URL', 'ftp://files.example.com/rpc', 'RPC_URL: endpoint files.example.com#1 is not an http(s) URL (expected comma-separated http(s) URLs)'],
    ['RPC_URL', 'eth node', 'RPC_URL: endpoint #1 is not an http(s) URL (expected comma-separated http(s) URLs)'],
    ['DATABASE_URL', 'mysql://app:pw@db/chain', 'DATABASE_URL: expected a postgres://user:password@host:port/database URL'],
    ['TEMPORAL_ADDRESS', 'localhost', 'TEMPORAL_ADDRESS: expected host:port (an IPv6 address in brackets: [::1]:7233) (got "localhost")'],
    ['TEMPORAL_ADDRESS', '::1:7233', 'TEMPORAL_ADDRESS: expected host:port (an IPv6 address in brackets: [::1]:7233) (got "::1:7233")'],
    ['TEMPORAL_NAMESPACE', '   ', 'TEMPORAL_NAMESPACE: Too small: expected string to have >=1 characters (got "   ")'],
    ['TASK_QUEUE', '  ', 'TASK_QUEUE: Too small: expected string to have >=1 characters (got "  ")'],
    ['CHAIN_ID', '0', 'CHAIN_ID: expected an integer ≥ 1 (got "0")'],
    ['CHAIN_ID', '0x1', 'CHAIN_ID: expected an integer ≥ 1 (got "0x1")'],
    ['START_BLOCK', '1e3', 'START_BLOCK: expected an integer ≥ 0 (got "1e3")'],
    ['START_BLOCK', '99999999999999999999', 'START_BLOCK: expected an integer from 0 to 9,007,199,254,740,991 (2^53 − 1) (got "99999999999999999999")'],
    ['BATCH_SIZE', '10001', 'BATCH_SIZE: expected an integer from 1 to 10000 (got "10001")'],
    ['BATCH_ROWS', '-5', 'BATCH_ROWS: expected an integer ≥ 0 (got "-5")'],
    ['CONCURRENCY', '0', 'CONCURRENCY: expected an integer from 1 to 500 (got "0")'],
    ['MAX_RETRIES', 'many', 'MAX_RETRIES: expected an integer ≥ 0 (got "many")'],
    ['CONFIRMATION_DEPTH', '-1', 'CONFIRMATION_DEPTH: expected an integer ≥ 0 (got "-1")'],
    ['CONFIRMATION_DEPTH', '100001', 'CONFIRMATION_DEPTH: expected an integer from 0 to 100000 (got "100001")'],
    ['FINALITY', 'bogus', 'FINALITY: Invalid option: expected one of "depth"|"safe"|"finalized" (got "bogus")'],
    ['POLL_INTERVAL', '5', 'POLL_INTERVAL: expected an integer from 10 to 3600000 (got "5")'],
    ['RPC_TIMEOUT', '1.5', 'RPC_TIMEOUT: expected an integer ≥ 100 (got "1.5")'],
    ['RPC_BATCH_CALLS', '0', 'RPC_BATCH_CALLS: expected an integer from 1 to 1000 (got "0")'],
    ['MAX_CONCURRENT_ACTIVITIES', '1001', 'MAX_CONCURRENT_ACTIVITIES: expected an integer from 1 to 1000 (got "1001")'],
    ['FETCH_BUFFER_MB', '0', 'FETCH_BUFFER_MB: expected an integer from 1 to 65536 (got "0")'],
    ['DECODE_THREADS', '65', 'DECODE_THREADS: expected an integer from 0 to 64 (got "65")'],
    ['NATIVE_TRANSCODER', 'yes', 'NATIVE_TRANSCODER: Invalid option: expected one of "auto"|"on"|"off" (got "yes")'],
    ['RPC_HTTP_CLIENT', 'undici', 'RPC_HTTP_CLIENT: Invalid option: expected one of "auto"|"fetch" (got "undici")'],
    ['PARTITION_SIZE', '0', 'PARTITION_SIZE: expected an integer from 1 to 1000000000 (got "0")'],
    ['INSTANCE_ID', ' ', 'INSTANCE_ID: Too small: expected string to have >=1 characters (got " ")'],
    ['METRICS_PORT', '65536', 'METRICS_PORT: expected an integer from 1 to 65535 (got "65536")'],
    ['VERIFY_ROOTS', 'yes', 'VERIFY_ROOTS: expected true or false (got "yes")'],
    ['LOG_LEVEL', 'verbose', 'LOG_LEVEL: Invalid option: expected one of "trace"|"debug"|"info"|"warn"|"error" (got "verbose")'],
  ];
  for (const [variable, value, problem] of bad) {
    it(`parseConfig() rejects ${variable}=${JSON.stringify(value)} with a problem naming ${variable}`, () => {
      expect(problemsOf({ [variable]: value })).toEqual([problem]);
    });
  }

  it('parseConfig() reports several problems at once in one ConfigError, one line each', () => {
    const env = { CHAIN_ID: 'abc', CONFIRMATION_DEPTH: '-1', FINALITY: 'bogus', BATCH_SIZE: '0' };
    let caught: unknown;
    try {
      parseConfig(env);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = [
      'CHAIN_ID: expected an integer ≥ 1 (got "abc")',
      'BATCH_SIZE: expected an integer from 1 to 10000 (got "0")',
      'CONFIRMATION_DEPTH: expected an integer ≥ 0 (got "-1")',
      'FINALITY: Invalid option: expected one of "depth"|"safe"|"finalized" (got "bogus")',
    ];
    expect((caught as ConfigError).problems).toEqual(problems);
    expect((caught as ConfigError).message).toBe(problems.join('\n'));
    expect((caught as ConfigError).retryable).toBe(false);
  });

  const secretUrls: [string, string][] = [
    ['an Alchemy key in a non-http URL', `wss://eth-mainnet.g.alchemy.com/v2/${ALCHEMY_KEY}`],
    ['an Alchemy key in a URL with a mistyped scheme', `htps://eth-mainnet.g.alchemy.com/v2/${ALCHEMY_KEY}`],
    ['an Alchemy key in a URL without a scheme', `eth-mainnet.g.alchemy.com/v2/${ALCHEMY_KEY}`],
    ['a userinfo password in a non-http URL', `ftp://indexer:${ALCHEMY_KEY}@rpc.example.com`],
  ];
  for (const [what, url] of secretUrls) {
    it(`parseConfig() never shows ${what} in the RPC_URL problem`, () => {
      const problems = problemsOf({ RPC_URL: `http://127.0.0.1:8545,${url}`, CHAIN_ID: 'x' });
      expect(problems).toHaveLength(2);
      expect(problems[0]).toMatch(/^RPC_URL: endpoint \S*#2 is not an http\(s\) URL/);
      for (const p of problems) expect(p).not.toContain(ALCHEMY_KEY);
    });
  }

  it('parseConfig() never shows the password of a bad DATABASE_URL', () => {
    const problems = problemsOf({ DATABASE_URL: `mysql://app:${ALCHEMY_KEY}@db/chain` });
    expect(problems.join('\n')).not.toContain(ALCHEMY_KEY);
  });

  it('redactDatabaseUrl() drops the password and keeps user, host, port and database', () => {
    expect(redactDatabaseUrl('postgres://app:secret@db.internal:6543/chain?sslmode=require')).toBe('postgres://app@db.internal:6543/chain');
    expect(redactDatabaseUrl('not a url')).toBe('<unparsable DATABASE_URL>');
  });

  const worker: [string, Record<string, string>, string[]][] = [
    ['RPC_URL and CHAIN_ID missing', {}, [
      'RPC_URL: required: comma-separated http(s) URLs of JSON-RPC endpoints',
      'CHAIN_ID: required: the EIP-155 chain id the endpoints serve (integer ≥ 1, e.g. 1 for Ethereum, 31337 for anvil)',
    ]],
    ['RPC_URL missing', { CHAIN_ID: '1' }, ['RPC_URL: required: comma-separated http(s) URLs of JSON-RPC endpoints']],
    ['RPC_URL only commas', { RPC_URL: ' , ,', CHAIN_ID: '1' }, ['RPC_URL: required: comma-separated http(s) URLs of JSON-RPC endpoints']],
    ['CHAIN_ID missing', { RPC_URL: 'http://127.0.0.1:8545' }, [
      'CHAIN_ID: required: the EIP-155 chain id the endpoints serve (integer ≥ 1, e.g. 1 for Ethereum, 31337 for anvil)',
    ]],
  ];
  for (const [what, env, problems] of worker) {
    it(`assertWorkerConfig() throws ConfigError with ${what}`, () => {
      const config = parseConfig(env);
      expect(() => assertWorkerConfig(config)).toThrow(ConfigError);
      try {
        assertWorkerConfig(config);
      } catch (err) {
        expect((err as ConfigError).problems).toEqual(problems);
      }
    });
  }

  it('assertWorkerConfig() accepts RPC_URL and CHAIN_ID 31337', () => {
    const config = parseConfig({ RPC_URL: 'http://127.0.0.1:8545', CHAIN_ID: '31337' });
    expect(() => assertWorkerConfig(config)).not.toThrow();
    expect(config.chainId).toBe(31337);
  });
});
