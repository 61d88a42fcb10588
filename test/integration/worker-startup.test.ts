/**
 * The worker process refuses bad configuration before any work: one line naming the variable,
 * no secret in it, exit code 1. Runs the real `src/worker.ts` as a child process.
 */
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWorkerOnce } from '../support/processes.js';
import { WORKER_USAGE } from '../../src/worker.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnvil, type Anvil } from '../support/devnet.js';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { sql } from 'kysely';
import { BASE_DATABASE_URL, closedPort, createTestDatabase, startTemporal } from '../support/stack.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SECRET = 'k3yS3cr3tABCDEFGHIJKLMNOPQRSTUV';


describe('worker start-up with bad configuration', () => {
  let anvil: Anvil;
  let deadPort: number;
  beforeAll(async () => {
    anvil = await startAnvil({ chainId: 31337 });
    deadPort = await closedPort();
  });
  afterAll(async () => {
    await anvil?.stop();
  });

  it.each([
    ['a non-URL RPC_URL', { RPC_URL: `not-a-url/${SECRET}`, CHAIN_ID: '31337' }, /^config error: RPC_URL: endpoint #1 is not an http\(s\) URL/],
    ['CONFIRMATION_DEPTH=-1', { RPC_URL: 'http://127.0.0.1:8545', CHAIN_ID: '31337', CONFIRMATION_DEPTH: '-1' }, /^config error: CONFIRMATION_DEPTH: expected an integer ≥ 0 \(got "-1"\)$/],
    ['a missing CHAIN_ID', { RPC_URL: 'http://127.0.0.1:8545' }, /^config error: CHAIN_ID: required/],
    ['a DATABASE_URL that is not postgres', { RPC_URL: 'http://127.0.0.1:8545', CHAIN_ID: '31337', DATABASE_URL: `mysql://u:${SECRET}@h/db` }, /^config error: DATABASE_URL: expected a postgres:\/\/user:password@host:port\/database URL$/],
  ])('exits 1 with one line for %s', async (_name, env, expected) => {
    const { code, stderr, stdout } = await runWorkerOnce(env);
    expect(code).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(expected);
    expect(stderr + stdout).not.toContain(SECRET);
  });

  it.each([
    ['a misspelled FINALITY', { RPC_URL: 'http://127.0.0.1:8545', CHAIN_ID: '31337', FINALITY: 'finalised' }, /^config error: FINALITY: Invalid option: expected one of "depth"\|"safe"\|"finalized" \(got "finalised"\)$/],
    ['an endpoint of another chain', { CHAIN_ID: '1' }, /^startup error: no RPC endpoint serves CHAIN_ID 1: 127\.0\.0\.1:\d+#1 serves chain 31337$/],
    ['an unreachable endpoint with a key in its URL', { CHAIN_ID: '31337' }, /^startup error: no RPC endpoint serves CHAIN_ID 31337: 127\.0\.0\.1:\d+#1 unreachable: .*ECONNREFUSED/],
    ['an unreachable DATABASE_URL with a password', { CHAIN_ID: '31337' }, /^startup error: DATABASE_URL: cannot reach postgres:\/\/indexer@127\.0\.0\.1:\d+\/indexer: .*ECONNREFUSED/],
    ['an unreachable TEMPORAL_ADDRESS', { CHAIN_ID: '31337', DATABASE_URL: BASE_DATABASE_URL }, /^startup error: TEMPORAL_ADDRESS: cannot reach Temporal at 127\.0\.0\.1:\d+: /],
    ['a missing WORKFLOW_BUNDLE', { CHAIN_ID: '31337', WORKFLOW_BUNDLE: '/nonexistent/bundle.js' }, /^startup error: WORKFLOW_BUNDLE: cannot read the workflow bundle \/nonexistent\/bundle\.js \(ENOENT: no such file or directory, open '\/nonexistent\/bundle\.js'\); build it with/],
  ] as [string, Record<string, string>, RegExp][])('--check refuses %s with the line the worker would exit with (exit 1), no secret in it', async (name, env, expected) => {
    const rpcUrl = name.includes('unreachable endpoint') ? `http://user:${SECRET}@127.0.0.1:${deadPort}/v2/${SECRET}` : name.includes('another') || name.includes('DATABASE_URL') || name.includes('TEMPORAL') || name.includes('BUNDLE') ? anvil.rpcUrl : undefined;
    const databaseUrl: Record<string, string> = name.includes('DATABASE_URL') ? { DATABASE_URL: `postgres://indexer:${SECRET}@127.0.0.1:${deadPort}/indexer` } : {};
    const temporal: Record<string, string> = name.includes('TEMPORAL') ? { TEMPORAL_ADDRESS: `127.0.0.1:${deadPort}` } : {};
    const { code, stdout, stderr } = await runWorkerOnce({ ...env, ...(rpcUrl ? { RPC_URL: rpcUrl } : {}), ...databaseUrl, ...temporal }, ['--check']);
    expect([code, stdout]).toEqual([1, '']);
    expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(expected)]);
    expect(stderr).not.toContain(SECRET);
  });

  it('--help prints the usage (no setting needed) and exits 0; any other argument exits 2 with one line', async () => {
    const help = await runWorkerOnce({}, ['--help']);
    expect([help.code, help.stdout, help.stderr]).toEqual([0, `${WORKER_USAGE}\n`, '']);
    expect(WORKER_USAGE.split('\n')[0]).toBe('Usage: npx tsx src/worker.ts   (compiled: node dist/src/worker.js; npm run worker)');
    const extra = await runWorkerOnce({ RPC_URL: anvil.rpcUrl, CHAIN_ID: '31337' }, ['start', '--chain-id', '1']);
    expect([extra.code, extra.stdout, extra.stderr]).toEqual([2, '',
      'error: the worker takes no arguments but --check (got start --chain-id 1); it reads environment variables (README, Configuration): npx tsx src/worker.ts --help\n']);
  });

  it('exits 1 naming the endpoint by host when RPC_URL is unreachable, without its API key', async () => {
    const { code, stderr, stdout } = await runWorkerOnce({ RPC_URL: `http://127.0.0.1:${deadPort}/v2/${SECRET}`, CHAIN_ID: '31337', DATABASE_URL: BASE_DATABASE_URL });
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([
      `startup error: no RPC endpoint serves CHAIN_ID 31337: 127.0.0.1:${deadPort}#1 unreachable: connection failed (ECONNREFUSED)`,
    ]);
    expect(stdout).toBe('');
    expect(stderr + stdout).not.toContain(SECRET);
  });

  it('exits 1 naming WORKFLOW_BUNDLE when the prebuilt workflow bundle is missing, before connecting to anything', async () => {
    const missing = join(tmpdir(), `no-such-bundle-${process.pid}.js`);
    const { code, stderr, stdout } = await runWorkerOnce({ RPC_URL: `http://127.0.0.1:${deadPort}`, CHAIN_ID: '31337', DATABASE_URL: BASE_DATABASE_URL, WORKFLOW_BUNDLE: missing });
    expect([code, stdout, stderr.trim().split('\n')]).toEqual([1, '', [
      `startup error: WORKFLOW_BUNDLE: cannot read the workflow bundle ${missing} (ENOENT: no such file or directory, open '${missing}'); build it with \`npm run build:workflows -- ${missing}\` or unset WORKFLOW_BUNDLE`,
    ]]);
  });

  it('exits 1 naming WORKFLOW_BUNDLE when the file is not a bundle (truncated, or some other file), before connecting to anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'worker-bundle-'));
    try {
      const garbage = join(dir, 'bundle.js');
      writeFileSync(garbage, 'garbage(');
      // A bundle cut short: the cut lands in the inlined source map, the larger part of the file.
      const cut = join(dir, 'cut.js');
      writeFileSync(cut, `(() => 1)();\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,${Buffer.from('{"version":3,"sources":["workflows/index.ts"],"mappings":"AAAA"}').toString('base64').slice(0, 30)}`);
      for (const path of [garbage, cut]) {
        const { code, stderr, stdout } = await runWorkerOnce({ RPC_URL: `http://127.0.0.1:${deadPort}`, CHAIN_ID: '31337', DATABASE_URL: BASE_DATABASE_URL, WORKFLOW_BUNDLE: path });
        expect([code, stdout, stderr.trim().split('\n')]).toEqual([1, '', [
          `startup error: WORKFLOW_BUNDLE: ${path} is not a workflow bundle (no whole inlined source map: truncated, or not written by build:workflows); build it with \`npm run build:workflows -- ${path}\` or unset WORKFLOW_BUNDLE`,
        ]]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops at once with exit code 0 on SIGTERM while start-up waits for an endpoint (not after RPC_TIMEOUT)', async () => {
    const silent = createServer(() => undefined); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
        cwd: REPO,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TEMPORAL_ADDRESS: '127.0.0.1:1', DATABASE_URL: BASE_DATABASE_URL,
          RPC_URL: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, CHAIN_ID: '31337', RPC_TIMEOUT: '30000', LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      // The endpoint check has begun once the silent server has a connection.
      await new Promise<void>((resolve) => silent.once('connection', () => resolve()));
      child.kill('SIGTERM');
      const code = await exited; // without the handler: 1, after RPC_TIMEOUT, with a startup error
      const events = stdout.trim().split('\n').map((line) => (JSON.parse(line) as { msg: string; signal?: string }));
      expect([code, events.at(-1)?.msg, events.at(-1)?.signal]).toEqual([0, 'startup-interrupted', 'SIGTERM']);
    } finally {
      silent.close();
    }
  });

  it('exits 1 when the only endpoint serves another chain', async () => {
    const { code, stderr } = await runWorkerOnce({ RPC_URL: `${anvil.rpcUrl}/?apikey=${SECRET}`, CHAIN_ID: '1', DATABASE_URL: BASE_DATABASE_URL });
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([`startup error: no RPC endpoint serves CHAIN_ID 1: 127.0.0.1:${anvil.port}#1 serves chain 31337`]);
    expect(stderr).not.toContain(SECRET);
  });

  it('exits 1 naming DATABASE_URL without its password when Postgres refuses the connection', async () => {
    const { code, stderr, stdout } = await runWorkerOnce({ RPC_URL: anvil.rpcUrl, CHAIN_ID: '31337', DATABASE_URL: `postgres://indexer:${SECRET}@127.0.0.1:${deadPort}/indexer` });
    expect(code).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(stdout).toBe('');
    expect(lines[0]).toMatch(new RegExp(`^startup error: DATABASE_URL: cannot migrate postgres://indexer@127\\.0\\.0\\.1:${deadPort}/indexer: .*ECONNREFUSED`));
    expect(stderr + stdout).not.toContain(SECRET);
  });

  describe('with Temporal reachable', () => {
    let env: TestWorkflowEnvironment;
    let busy: Server;
    beforeAll(async () => {
      env = await startTemporal();
      busy = createServer();
      await new Promise<void>((resolve) => busy.listen(0, '0.0.0.0', resolve));
    });
    afterAll(async () => {
      await new Promise((resolve) => busy?.close(resolve));
      await env?.teardown();
    });

    it('exits 1 naming TEMPORAL_NAMESPACE when Temporal does not know the namespace (not the gRPC status)', async () => {
      const { code, stderr, stdout } = await runWorkerOnce({
        RPC_URL: anvil.rpcUrl, CHAIN_ID: '31337', DATABASE_URL: BASE_DATABASE_URL, TEMPORAL_ADDRESS: env.address,
        TEMPORAL_NAMESPACE: 'no-such-namespace', LOG_LEVEL: 'error',
      });
      expect([code, stdout, stderr.trim().split('\n')]).toEqual([1, '', [
        `startup error: TEMPORAL_NAMESPACE: namespace no-such-namespace does not exist at ${env.address}; create it (temporal operator namespace create --namespace no-such-namespace) or set TEMPORAL_NAMESPACE`,
      ]]);
    });

    it('--check passes settings whose endpoint, Postgres and Temporal answer (a line each, exit 0)', async () => {
      const settings = { RPC_URL: anvil.rpcUrl, CHAIN_ID: '31337', DATABASE_URL: BASE_DATABASE_URL, TEMPORAL_ADDRESS: env.address };
      const ok = await runWorkerOnce(settings, ['--check']);
      expect([ok.code, ok.stdout.split('\n'), ok.stderr]).toEqual([0, [
        `chain 31337: 1 of 1 endpoint kept (127.0.0.1:${new URL(anvil.rpcUrl).port}#1), task queue evm-indexer`,
        expect.stringMatching(new RegExp(`^postgres: postgres://${new URL(BASE_DATABASE_URL).username}@${new URL(BASE_DATABASE_URL).host}${new URL(BASE_DATABASE_URL).pathname} answers \\(PostgreSQL \\d+\\.\\d+`)),
        `temporal: namespace default at ${env.address}`,
        '',
      ], '']);
    });

    it('--check names an endpoint it keeps though it did not answer (the pool fails over around it), and only in its lines', async () => {
      const settings = { RPC_URL: `http://127.0.0.1:${deadPort}/v2/${SECRET},${anvil.rpcUrl}`, CHAIN_ID: '31337', DATABASE_URL: BASE_DATABASE_URL, TEMPORAL_ADDRESS: env.address };
      const ok = await runWorkerOnce(settings, ['--check']);
      expect([ok.code, ok.stdout.split('\n')[0], ok.stderr]).toEqual([0,
        `chain 31337: 2 of 2 endpoints kept (127.0.0.1:${deadPort}#1 unreachable now: connection failed (ECONNREFUSED), 127.0.0.1:${new URL(anvil.rpcUrl).port}#2), task queue evm-indexer`, '']);
      expect(ok.stdout.split('\n')).toHaveLength(4); // the chain, Postgres, Temporal, and the last newline: no log line
      expect(ok.stdout).not.toContain(SECRET);
    });

    it('--check warns of a variable that looks like a misspelled setting, after the checks, and still passes', async () => {
      const settings = { RPC_URL: anvil.rpcUrl, CHAIN_ID: '31337', CONFIRMATIONS: '3', DATABASE_URL: BASE_DATABASE_URL, TEMPORAL_ADDRESS: env.address };
      const ok = await runWorkerOnce(settings, ['--check']);
      expect([ok.code, ok.stdout.split('\n').slice(3), ok.stderr]).toEqual([0, [
        'warning: CONFIRMATIONS is not a variable the indexer reads, so it is ignored: did you mean CONFIRMATION_DEPTH? (README, Configuration)',
        '',
      ], '']);
    });

    it('--check refuses a namespace Temporal does not know, with the worker\'s line', async () => {
      const { code, stderr, stdout } = await runWorkerOnce({
        RPC_URL: anvil.rpcUrl, CHAIN_ID: '31337', DATABASE_URL: BASE_DATABASE_URL, TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: 'no-such-namespace',
      }, ['--check']);
      expect([code, stdout, stderr.trim().split('\n')]).toEqual([1, '', [
        `startup error: TEMPORAL_NAMESPACE: namespace no-such-namespace does not exist at ${env.address}; create it (temporal operator namespace create --namespace no-such-namespace) or set TEMPORAL_NAMESPACE`,
      ]]);
    });

    it('exits 1 naming DATABASE_URL when the migrated database refuses writes (a read-only user or standby)', async () => {
      const database = await createTestDatabase('startup_read_only');
      try {
        await sql.raw(`alter database ${database.name} set default_transaction_read_only = on`).execute(database.db);
        const { code, stderr, stdout } = await runWorkerOnce({
          RPC_URL: anvil.rpcUrl, CHAIN_ID: '31337', DATABASE_URL: database.url, TEMPORAL_ADDRESS: env.address, LOG_LEVEL: 'error',
        });
        const label = `postgres://${new URL(database.url).username}@${new URL(database.url).host}/${database.name}`;
        expect([code, stdout, stderr.trim().split('\n')]).toEqual([1, '', [
          `startup error: DATABASE_URL: cannot record the partition size of chain 31337 in ${label}: cannot execute INSERT in a read-only transaction (25006)`,
        ]]);
      } finally {
        await database.drop();
      }
    });

    it('exits 1 naming METRICS_PORT when another process listens on it (not a Temporal connection error)', async () => {
      const port = (busy.address() as AddressInfo).port;
      const { code, stderr, stdout } = await runWorkerOnce({
        RPC_URL: anvil.rpcUrl, CHAIN_ID: '31337', DATABASE_URL: BASE_DATABASE_URL, TEMPORAL_ADDRESS: env.address,
        TASK_QUEUE: `startup-metrics-${process.pid}`, METRICS_PORT: String(port), LOG_LEVEL: 'error',
      });
      expect([code, stdout, stderr.trim().split('\n')]).toEqual([1, '', [
        `startup error: METRICS_PORT: cannot listen on port ${port}: listen EADDRINUSE: address already in use 0.0.0.0:${port}`,
      ]]);
    });
  });

  describe('with a CHAINS_FILE', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'worker-startup-'));
    });
    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });
    const chainsFile = (name: string, chains: unknown): string => {
      const path = join(dir, name);
      writeFileSync(path, JSON.stringify(chains));
      return path;
    };

    it('exits 1 with one line per problem of the file, each with its path, without the key', async () => {
      const path = chainsFile('bad.json', [{ chainId: 1, rpcUrl: `wss://eth.example/v2/${SECRET}` }, { chainId: 1, rpcUrl: 'http://127.0.0.1:8545', finality: 'final' }]);
      const { code, stderr, stdout } = await runWorkerOnce({ CHAINS_FILE: path, DATABASE_URL: BASE_DATABASE_URL });
      expect(code).toBe(1);
      // Every problem at once: the schema's, then the URLs' and the duplicates'.
      expect(stderr.trim().split('\n')).toEqual([
        'config error: CHAINS_FILE chains[1].finality: expected "depth", "safe" or "finalized" (got "final")',
        'config error: CHAINS_FILE chains[0].rpcUrl: endpoint eth.example#1 is not an http(s) URL',
        'config error: CHAINS_FILE chains[1].chainId: chain 1 is listed twice (also chains[0])',
        'config error: CHAINS_FILE chains[1].taskQueue: task queue evm-indexer-1 is used twice (also chains[0]); each chain needs its own',
      ]);
      const fixed = chainsFile('bad-url.json', [{ chainId: 1, rpcUrl: `wss://eth.example/v2/${SECRET}` }, { chainId: 1, rpcUrl: 'http://127.0.0.1:8545' }]);
      const second = await runWorkerOnce({ CHAINS_FILE: fixed, DATABASE_URL: BASE_DATABASE_URL });
      expect([second.code, second.stderr.trim().split('\n')]).toEqual([1, [
        'config error: CHAINS_FILE chains[0].rpcUrl: endpoint eth.example#1 is not an http(s) URL',
        'config error: CHAINS_FILE chains[1].chainId: chain 1 is listed twice (also chains[0])',
        'config error: CHAINS_FILE chains[1].taskQueue: task queue evm-indexer-1 is used twice (also chains[0]); each chain needs its own',
      ]]);
      expect(stderr + stdout + second.stderr + second.stdout).not.toContain(SECRET);
    });

    it('exits 1 naming the chain whose only endpoint serves another chain; the key from ${VAR} never shows', async () => {
      const path = chainsFile('mismatch.json', [{ chainId: 31337, rpcUrl: anvil.rpcUrl }, { chainId: 5, rpcUrl: `${anvil.rpcUrl}/?apikey=\${RPC_KEY}` }]);
      const { code, stderr, stdout } = await runWorkerOnce({ CHAINS_FILE: path, RPC_KEY: SECRET, DATABASE_URL: BASE_DATABASE_URL });
      expect(code).toBe(1);
      expect(stderr.trim().split('\n')).toEqual([`startup error: CHAINS_FILE chain 5: no RPC endpoint serves CHAIN_ID 5: 127.0.0.1:${anvil.port}#1 serves chain 31337`]);
      expect(stderr + stdout).not.toContain(SECRET);
    });

    it('exits 1 when CHAIN_ID picks a chain the file does not list', async () => {
      const path = chainsFile('one.json', [{ chainId: 31337, rpcUrl: anvil.rpcUrl }]);
      const { code, stderr } = await runWorkerOnce({ CHAINS_FILE: path, CHAIN_ID: '10', DATABASE_URL: BASE_DATABASE_URL });
      expect([code, stderr]).toEqual([1, 'config error: CHAIN_ID: chain 10 is not in CHAINS_FILE (it lists 31337)\n']);
    });
  });
});
