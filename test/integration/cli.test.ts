/**
 * The operator's tools against the real stack: `src/client.ts` commands as a user types them, and
 * the `temporal` CLI backfill command exactly as the README writes it.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { generateTraffic, startAnvil, type Anvil, type TrafficSummary } from '../support/devnet.js';
import { readCursor } from '../../src/db/index.js';
import { diffWithChain, findIntegrityProblems, rpc } from '../support/chain-oracle.js';
import { cliEnvironment, runClient, type CliResult } from '../support/cli.js';
import { createTestDatabase, startIndexerWorker, startTemporal, temporalCliPath, waitFor, type TestDatabase, type TestWorker } from '../support/stack.js';
import { startWorkerProcess } from '../support/processes.js';

const run = promisify(execFile);
const CHAIN_ID = 31337;
const TASK_QUEUE = 'evm-indexer';
/** A task queue no worker polls: a workflow started there waits, as one would while the workers are down. */
const UNSERVED_QUEUE = 'nobody-polls-this';
/** What the client says after naming a task queue no worker polls: how to start one. */
const START_A_WORKER = `start a worker with TASK_QUEUE=${UNSERVED_QUEUE} (npm run worker; scripts/start on a local set-up), and see scripts/stack status`;
const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** `n` as the client prints block numbers and counts: `1,234`. */
const count = (n: number): string => n.toLocaleString('en-US');

/**
 * Runs `src/client.ts` with `args` as a user would in a terminal, and presses Ctrl-C (SIGINT) once
 * its output matches `ready`. Resolves with its exit code (null when a signal killed it), the
 * signal, and its output.
 */
async function interruptClient(env: NodeJS.ProcessEnv, args: readonly string[], ready: RegExp): Promise<CliResult & { signal: NodeJS.Signals | null }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/client.ts', ...args], { cwd: REPO, env });
  let stdout = '';
  let stderr = '';
  let interrupted = false;
  const check = () => {
    if (interrupted || !ready.test(stdout + stderr)) return;
    interrupted = true;
    child.kill('SIGINT');
  };
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); check(); });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); check(); });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  return { code: code as number, signal, stdout, stderr };
}

describe('operator CLI on the real stack', () => {
  let anvil: Anvil;
  let env: TestWorkflowEnvironment;
  let database: TestDatabase;
  let worker: TestWorker;
  let traffic: TrafficSummary;
  let cliEnv: NodeJS.ProcessEnv;

  /** Runs `src/client.ts` with `args`; resolves with exit code and output, never rejects. */
  const client = (...args: string[]) => runClient(cliEnv, args);

  beforeAll(async () => {
    [anvil, env, database] = await Promise.all([startAnvil({ chainId: CHAIN_ID }), startTemporal(), createTestDatabase('cli')]);
    traffic = await generateTraffic(anvil.rpcUrl);
    worker = await startIndexerWorker({ env, taskQueue: TASK_QUEUE, db: database.db, rpcUrls: [anvil.rpcUrl], chainId: CHAIN_ID });
    cliEnv = cliEnvironment({
      TEMPORAL_ADDRESS: env.address,
      DATABASE_URL: database.url,
      CHAIN_ID: String(CHAIN_ID),
      RPC_URL: anvil.rpcUrl,
      CONFIRMATION_DEPTH: '3',
      BATCH_SIZE: '5',
      POLL_INTERVAL: '200',
      GAP_CHECK_INTERVAL: '300',
    });
  });

  afterAll(async () => {
    await worker?.stop();
    await env?.teardown();
    await anvil?.stop();
    await database?.drop();
  });

  it('`temporal workflow start --type backfill` as in the README indexes the range', async () => {
    const to = traffic.toBlock;
    await run(temporalCliPath(), [
      'workflow', 'start', '--address', env.address, '--type', 'backfill', '--task-queue', TASK_QUEUE,
      '--workflow-id', `backfill:${CHAIN_ID}:0-${to}`, '--input', JSON.stringify({ chainId: CHAIN_ID, from: 0, to }),
    ]);
    const { stdout } = await run(temporalCliPath(), ['workflow', 'result', '--address', env.address, '--workflow-id', `backfill:${CHAIN_ID}:0-${to}`, '-o', 'json']);
    expect(JSON.parse(stdout).result).toMatchObject({ chainId: CHAIN_ID, from: 0, to, status: 'done', blocksDone: to + 1 });
    expect(await diffWithChain(database.db, anvil.rpcUrl, CHAIN_ID, 0, to)).toEqual([]);
  });

  it('`status` without a chain id, when no sync runs, prints a start command that works as printed', async () => {
    const { CHAIN_ID: _omitted, ...rest } = cliEnv;
    const out = await runClient(rest, ['status']);
    expect([out.code, out.stdout, out.stderr]).toEqual([0, 'no sync is running; start one with: npx tsx src/client.ts start --chain-id <chain id>\n', '']);
  });

  it('`start` starts the sync once; a second `start` says it runs already and exits 0', async () => {
    const first = await client('start');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^sync chain-sync:31337 started \(run [0-9a-f-]+\) on task queue evm-indexer: from block 0, 3 confirmations deep, batches of 5 blocks, then about 50,000 rows, 8 at once\n$/);
    const second = await client('start');
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^sync chain-sync:31337 is already running \(run [0-9a-f-]+\); nothing to do\n$/);
    // Other settings: the running sync keeps its own, and says so.
    const third = await runClient({ ...cliEnv, CONFIRMATION_DEPTH: '7', BATCH_SIZE: '9' }, ['start']);
    expect([third.code, third.stdout.split('\n').slice(1)]).toEqual([0, [
      'note: the running sync keeps the settings it started with: BATCH_SIZE 5 (now 9), CONFIRMATION_DEPTH 3 (now 7); to use the new ones, stop it and start it again: '
        + `npx tsx src/client.ts stop --chain-id ${CHAIN_ID}, then BATCH_SIZE=9 CONFIRMATION_DEPTH=7 POLL_INTERVAL=200 GAP_CHECK_INTERVAL=300 npx tsx src/client.ts start --chain-id ${CHAIN_ID}`,
      '',
    ]]);
    // As the note says, from a shell without the settings (given on one command line, they are
    // gone): `stop` waits for the run to end, and the `start` after it, with only the variables the
    // note puts before it, starts a new run with every setting asked for (the unchanged ones too).
    // Caught up at depth 3 first: at depth 7 the cursor is then 4 blocks above the new target.
    const head = Number(BigInt(await rpc(anvil.rpcUrl, 'eth_blockNumber')));
    await waitFor('the sync to reach head − 3', async () => (await client('status')).stdout.includes(`  cursor    ${head - 3} `));
    const stop = await client('stop');
    expect([stop.code, stop.stdout]).toEqual([0, `sync chain-sync:${CHAIN_ID} stopped (cancelled; the stored rows and cursor stay)\n`]);
    const assignments = Object.fromEntries([...third.stdout.matchAll(/ ([A-Z_]+)=(\S+)(?= )/g)].map((m) => [m[1]!, m[2]!]));
    expect(assignments).toEqual({ BATCH_SIZE: '9', CONFIRMATION_DEPTH: '7', POLL_INTERVAL: '200', GAP_CHECK_INTERVAL: '300' });
    const { CONFIRMATION_DEPTH: _depth, BATCH_SIZE: _size, POLL_INTERVAL: _poll, GAP_CHECK_INTERVAL: _gaps, ...shell } = cliEnv;
    const adopted = await runClient({ ...shell, ...assignments }, ['start', '--chain-id', String(CHAIN_ID)]);
    expect([adopted.code, adopted.stdout]).toEqual([0, expect.stringMatching(/^sync chain-sync:31337 started \(run [0-9a-f-]+\) on task queue evm-indexer: (from block 0|resuming after the stored cursor \d+), 7 confirmations deep, batches of 9 blocks/)]);
    const above = await waitFor('status to show the new target', async () => {
      const lines = (await client('status')).stdout.split('\n');
      return lines[2] === `  target    ${head - 7} (head − 7 confirmation depth)` ? lines : undefined;
    });
    expect(above[3]).toMatch(new RegExp(`^  cursor    ${head - 3} 0x[0-9a-f]{64} \\(above the target: stored under a setting that confirmed blocks sooner; the sync waits until the target passes it, and keeps those blocks\\)$`));
    // Back to this file's settings for the tests below.
    expect((await client('stop')).code).toBe(0);
    const restart = await client('start');
    expect([restart.code, restart.stdout]).toEqual([0, expect.stringMatching(/^sync chain-sync:31337 started \(run [0-9a-f-]+\) on task queue evm-indexer: (from block 0|resuming after the stored cursor \d+), 3 confirmations deep/)]);
  });

  it('`status` shows head, target, cursor and lag once caught up', async () => {
    const head = Number(BigInt(await rpc(anvil.rpcUrl, 'eth_blockNumber')));
    const { stdout } = await waitFor('status to show the sync caught up', async () => {
      const out = await client('status');
      return out.stdout.includes('(caught-up)') ? out : undefined;
    });
    const lines = stdout.trim().split('\n');
    expect(lines.slice(0, 5)).toEqual([
      'chain-sync:31337: running (caught-up)',
      expect.stringMatching(new RegExp(`^  head      ${head} \\(read \\d+ s ago\\)$`)),
      `  target    ${head - 3} (head − 3 confirmation depth)`,
      expect.stringMatching(new RegExp(`^  cursor    ${head - 3} 0x[0-9a-f]{64}$`)),
      '  lag       3 blocks behind the head',
    ]);
  });

  it('the sync is found by its ChainId search attribute and shows summary and current details (what the Web UI reads)', async () => {
    const temporal = (...args: string[]) => run(temporalCliPath(), [...args, '--address', env.address, '-o', 'json']);
    const listed = await waitFor('the ChainId search attribute to be indexed', async () => {
      const { stdout } = await temporal('workflow', 'list', '--query', `ChainId = ${CHAIN_ID} AND WorkflowType = 'chainSync' AND ExecutionStatus = 'Running'`); // the run stopped by a test above is listed too
      const rows = stdout.trim() === '' ? [] : (JSON.parse(stdout) as Array<{ execution: { workflowId: string } }>);
      return rows.length > 0 ? rows : undefined;
    });
    expect(listed.map((r) => r.execution.workflowId)).toEqual(['chain-sync:31337']);
    const { stdout } = await temporal('workflow', 'describe', '--workflow-id', 'chain-sync:31337');
    const described = JSON.parse(stdout) as { executionConfig?: { userMetadata?: { summary?: unknown } }; workflowExecutionInfo: { searchAttributes: { indexedFields: Record<string, unknown> } } };
    expect(described.executionConfig?.userMetadata?.summary).toBe('sync of chain 31337');
    expect(Object.keys(described.workflowExecutionInfo.searchAttributes.indexedFields).sort()).toEqual(expect.arrayContaining(['ChainId', 'CursorBlockNumber']));
    // The query the Web UI (and `temporal workflow metadata`) sends for a workflow's current details.
    const metadata = await env.client.workflow.getHandle('chain-sync:31337').query<{ currentDetails: string }>('__temporal_workflow_metadata');
    const head = Number(BigInt(await rpc(anvil.rpcUrl, 'eth_blockNumber')));
    expect(metadata.currentDetails.split('\n').slice(0, 4)).toEqual(['**Sync of chain 31337**', '', '| | |', '|---|---|']);
    expect(metadata.currentDetails).toContain(`| cursor | ${head - 3} |`);
    expect(metadata.currentDetails).toContain('| lag | 3 blocks |');
    expect(metadata.currentDetails).toMatch(/\| endpoints \| 127\.0\.0\.1:\d+#1 \|/);
  });

  it('`pause` and `resume` signal the sync; `gaps` finds rows deleted by hand', async () => {
    expect((await client('pause')).stdout).toBe('sync chain-sync:31337 paused\n');
    let paused = '';
    await waitFor('status to show paused', async () => (paused = (await client('status')).stdout).includes('(paused)'));
    expect(paused).toMatch(/\n {2}lag {7}\d+ blocks behind the head, or more: a paused sync does not read the head\n/);
    expect((await client('resume')).stdout).toBe('sync chain-sync:31337 resumed\n');
    const cursor = await database.db.selectFrom('cursors').select('block_number').where('chain_id', '=', CHAIN_ID).executeTakeFirstOrThrow();
    expect(await client('gaps')).toMatchObject({ code: 0, stdout: `no gap in blocks 0–${cursor.block_number}\n` });
    // From the running sync's own start block (0), whatever START_BLOCK the client is given: blocks below it are not missing, and above it they are.
    expect(await runClient({ ...cliEnv, START_BLOCK: '3' }, ['gaps'])).toMatchObject({ code: 0, stdout: `no gap in blocks 0–${cursor.block_number}\n` });
    const before = await client('verify', '--from', '0', '--to', String(cursor.block_number));
    expect([before.code, before.stdout]).toEqual([0, `verify chain 31337 blocks 0–${cursor.block_number}: ${cursor.block_number + 1} blocks checked, 0 differences\n`]);
    await client('pause');
    // `status` shows "(paused)" once the signal is handled; the loop pass under way may still repair
    // gaps. The query's status says the workflow has stopped at its pause, so nothing refills the rows.
    const sync = env.client.workflow.getHandle('chain-sync:31337');
    await waitFor('the pause to take effect', async () => (await sync.query<{ status: string }>('progress')).status === 'paused');
    await database.db.deleteFrom('logs').where('chain_id', '=', CHAIN_ID).where('block_number', '=', 5).execute();
    await database.db.deleteFrom('transactions').where('chain_id', '=', CHAIN_ID).where('block_number', '=', 5).execute();
    await database.db.deleteFrom('blocks').where('chain_id', '=', CHAIN_ID).where('number', 'in', [4, 5, 9]).execute();
    expect(await client('gaps')).toMatchObject({ code: 1, stdout: 'gap: blocks 4–5 (2 blocks)\ngap: blocks 9–9 (1 block)\n' });
    const broken = await client('verify', '--from', '3', '--to', '9');
    expect([broken.code, broken.stdout]).toEqual([1, [
      'verify chain 31337 blocks 3–9: 7 blocks checked, 3 differences',
      '  block 4: missing in the database',
      '  block 5: missing in the database',
      '  block 9: missing in the database',
      '',
    ].join('\n')]);
    expect(broken.stderr.split('\n').at(-2)).toBe('to re-store them: npx tsx src/client.ts backfill --chain-id 31337 --from 4 --to 9');
    await client('resume');
    await waitFor('the sync to repair the gaps', async () => (await client('gaps')).code === 0);
    const after = await client('verify', '--from', '0', '--to', String(cursor.block_number));
    expect([after.code, after.stdout]).toEqual([0, `verify chain 31337 blocks 0–${cursor.block_number}: ${cursor.block_number + 1} blocks checked, 0 differences\n`]);
    expect(await findIntegrityProblems(database.db, CHAIN_ID)).toEqual([]);
    expect((await client('status')).stdout).toMatch(/2 gaps repaired/);
  }, 300_000); // about 15 CLI runs of a few seconds each, slower on a busy machine

  it('`backfill --json` prints progress objects and a final "done" line; plain lines on stderr otherwise', async () => {
    const json = await client('backfill', '--from', '0', '--to', '7', '--batch-size', '2', '--json');
    expect(json.code).toBe(0);
    const events = json.stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string });
    expect(events.at(-1)).toEqual({ event: 'done', chainId: CHAIN_ID, from: 0, to: 7, status: 'done', doneThrough: 7, blocksDone: 8, blocksTotal: 8, blocksPerSecond: expect.any(Number), inFlightBatches: 0 });
    expect(events.slice(0, -1).every((e) => e.event === 'progress')).toBe(true);
    const plain = await client('backfill', '--from', '0', '--to', '3');
    expect([plain.code, plain.stdout.split('\n')[0]]).toEqual([0, 'backfill backfill:31337:0-3 running on task queue evm-indexer']);
    const noWait = await client('backfill', '--from', '0', '--to', '3', '--no-wait', '--json');
    expect([noWait.code, noWait.stdout]).toEqual([0, `${JSON.stringify({ event: 'started', chainId: CHAIN_ID, from: 0, to: 3, workflowId: 'backfill:31337:0-3', taskQueue: TASK_QUEUE })}\n`]);
    expect(plain.stdout).toMatch(/\nbackfill done: blocks 0–3 \(4 blocks\), [\d.]+ blocks\/s\n$/);
  });

  it('`verify --sample n` checks exactly n blocks of the range, however many 100-block chunks it spans', async () => {
    // 200 empty blocks: blocks 0–180 span several of the verify workflow's 100-block chunks.
    await rpc(anvil.rpcUrl, 'anvil_mine', ['0xc8']);
    await waitFor('the sync to store block 180', async () => {
      const row = await database.db.selectFrom('cursors').select('block_number').where('chain_id', '=', CHAIN_ID).executeTakeFirst();
      return row !== undefined && row.block_number >= 180;
    });
    const checked = async (to: number, sample: number) => {
      const out = await client('verify', '--from', '0', '--to', String(to), '--sample', String(sample));
      return [out.code, out.stdout];
    };
    expect(await checked(100, 1)).toEqual([0, 'verify chain 31337 blocks 0–100: 1 block checked, 0 differences\n']);
    expect(await checked(100, 3)).toEqual([0, 'verify chain 31337 blocks 0–100: 3 blocks checked, 0 differences\n']);
    expect(await checked(100, 10)).toEqual([0, 'verify chain 31337 blocks 0–100: 10 blocks checked, 0 differences\n']);
    expect(await checked(180, 1)).toEqual([0, 'verify chain 31337 blocks 0–180: 1 block checked, 0 differences\n']);
  });

  it('`verify` refuses a range above the stored cursor with one line (those blocks are not stored yet), as `gaps` does', async () => {
    const cursor = (await database.db.selectFrom('cursors').select('block_number').where('chain_id', '=', CHAIN_ID).executeTakeFirstOrThrow()).block_number;
    const above = await client('verify', '--from', String(cursor + 500), '--to', String(cursor + 501));
    expect([above.code, above.stdout, above.stderr]).toEqual([1, '',
      `error: --from ${count(cursor + 500)} is above the cursor ${count(cursor)}: verify looks at or below the cursor, where every block should be stored\n`]);
    // Between the cursor and the head: the sync has not stored these yet, so "missing in the database" would be false.
    const straddling = await client('verify', '--from', String(cursor - 1), '--to', String(cursor + 2));
    expect([straddling.code, straddling.stdout, straddling.stderr]).toEqual([1, '',
      `error: --to ${count(cursor + 2)} is above the cursor ${count(cursor)}: verify looks at or below the cursor, where every block should be stored\n`]);
  });

  it('`verify` of a chain with nothing stored refuses with one line (no cursor, no block: nothing to compare)', async () => {
    const none = await client('verify', '--chain-id', '424242', '--from', '0', '--to', '5');
    expect([none.code, none.stdout, none.stderr]).toEqual([1, '',
      `error: chain 424242 has no block stored yet: nothing to verify (start its sync: npx tsx src/client.ts start --chain-id 424242, or backfill a range)\n`]);
  });

  it('Ctrl-C while `verify` or `backfill` waits says the workflow keeps running and how to end it (no worker polls its queue: a terminate), then exits 130', async () => {
    const unserved = { ...cliEnv, TASK_QUEUE: UNSERVED_QUEUE };
    const temporal = existsSync(join(REPO, '.tools/temporal')) ? '.tools/temporal' : 'temporal'; // what a user at the repository runs
    for (const [args, workflowId, ready] of [
      [['verify', '--from', '0', '--to', '5'], `verify:${CHAIN_ID}:0-5`, /waiting for its report/],
      [['backfill', '--from', '0', '--to', '2'], `backfill:${CHAIN_ID}:0-2`, /running on task queue/],
    ] as const) {
      const out = await interruptClient(unserved, args, ready);
      // Before, it gave a cancel, which waits for a worker that never comes.
      const end = `${temporal} workflow terminate --workflow-id ${workflowId} --reason interrupted --address ${env.address}`;
      expect([out.code, out.signal, out.stderr.trim().split('\n').at(-1)]).toEqual([130, null,
        `interrupted: ${args[0]} ${workflowId} keeps running in Temporal; no worker polls its task queue, so a cancel would wait for one; end it now with: ${end}`]);
      // The command works as printed (from the repository, where the README runs the client).
      await run('bash', ['-c', end], { cwd: REPO, env: cliEnvironment({}) });
      expect((await env.client.workflow.getHandle(workflowId).describe()).status.name).toBe('TERMINATED');
    }
  });

  it('`backfill` with --to above the head the sync last read warns that it waits for those blocks, and starts it', async () => {
    const head = await waitFor('the sync to read the head', async () => {
      const p = await env.client.workflow.getHandle('chain-sync:31337').query<{ head: number | null }>('progress');
      return p.head ?? undefined;
    });
    const out = await runClient({ ...cliEnv, TASK_QUEUE: UNSERVED_QUEUE }, ['backfill', '--from', String(head + 10), '--to', '9007199254740991', '--no-wait']);
    const workflowId = `backfill:${CHAIN_ID}:${head + 10}-9007199254740991`;
    expect([out.code, out.stdout, out.stderr]).toEqual([0, `backfill ${workflowId} running on task queue ${UNSERVED_QUEUE}\n`,
      `warning: --to 9,007,199,254,740,991: blocks above the head ${count(head)} are waited for: the backfill ends once the chain reaches --to\n`
      + `warning: no worker polls the task queue ${UNSERVED_QUEUE} (no poll listed): backfill ${workflowId} starts when one does; ${START_A_WORKER}\n`]);
    await env.client.workflow.getHandle(workflowId).terminate('test done');
    const below = await runClient({ ...cliEnv, TASK_QUEUE: UNSERVED_QUEUE }, ['backfill', '--from', '0', '--to', String(head), '--no-wait']);
    expect([below.code, below.stderr]).toEqual([0,
      `warning: no worker polls the task queue ${UNSERVED_QUEUE} (no poll listed): backfill backfill:${CHAIN_ID}:0-${head} starts when one does; ${START_A_WORKER}\n`]);
    // With a worker on the task queue: no warning.
    const served = await runClient(cliEnv, ['backfill', '--from', '0', '--to', '1', '--no-wait']);
    expect([served.code, served.stderr]).toEqual([0, '']);
    await env.client.workflow.getHandle(`backfill:${CHAIN_ID}:0-1`).result();
    await env.client.workflow.getHandle(`backfill:${CHAIN_ID}:0-${head}`).terminate('test done');
  });

  it('`status` without a chain id shows every running sync as a table', async () => {
    const { CHAIN_ID: _omitted, ...rest } = cliEnv;
    const saved = cliEnv;
    cliEnv = rest;
    try {
      // The sync moves between `syncing` and `caught-up` as blocks arrive; the table's status
      // column widens to fit the row, so wait for the row to settle before comparing whole lines.
      const lines = await waitFor('the status table to show the sync caught up', async () => {
        const rows = (await client('status')).stdout.trim().split('\n');
        return rows[3]?.includes(' caught-up ') ? rows : undefined;
      });
      expect(lines[1]).toBe('│ chain │ workflow         │ status    │ head │ target │ cursor │ lag (blocks) │ blocks/s │ reorgs │');
      expect(lines).toHaveLength(5); // borders, header, one row
      expect(lines[3]).toMatch(/^│ 31337 │ chain-sync:31337 │ caught-up │ +\d+ │ +\d+ │ +\d+ │ +3 │ +[\d.]+ │ +0 │$/);
    } finally {
      cliEnv = saved;
    }
  });

  it('a backfill of a chain no worker serves fails with one line that says why (the activity\'s message under the SDK\'s)', async () => {
    const out = await runClient({ ...cliEnv, CHAIN_ID: '1' }, ['backfill', '--from', '0', '--to', '3']);
    expect([out.code, out.stderr.trim().split('\n').at(-1)]).toEqual([1,
      // Its first activity reads the head (since the backfill waits for blocks above it): that one says it.
      'error: Workflow execution failed: activity getChainHead failed: this worker indexes chain 31337, not chain 1: chain 1 needs a task queue of its own, polled only by workers of chain 1 (CHAIN_ID=1 and its endpoints, or a CHAINS_FILE that lists it)']);
  });

  it('`status` of a sync that does not run says when the stored cursor cannot be read, naming DATABASE_URL without its password', async () => {
    const url = new URL(database.url);
    url.pathname = '/no_such_database_cli';
    const out = await runClient({ ...cliEnv, DATABASE_URL: url.toString() }, ['status', '--chain-id', '1']);
    expect([out.code, out.stdout]).toEqual([0,
      `chain-sync:1: not started; stored cursor unknown (DATABASE_URL: cannot read the cursor of chain 1 from postgres://${url.username}@${url.host}/no_such_database_cli: database "no_such_database_cli" does not exist); start it with: npx tsx src/client.ts start --chain-id 1\n`]);
    expect(out.stdout).not.toContain(`:${url.password}@`);
  });

  it('`start` with an RPC_URL of another chain warns, and `status` of the sync that then failed says why (from the end of its history) and exits 1', async () => {
    const other = { ...cliEnv, CHAIN_ID: '2' }; // the devnet is chain 31337, as is the only worker on the queue
    const start = await runClient(other, ['start']);
    expect([start.code, start.stderr]).toEqual([0, `warning: RPC_URL: ${new URL(anvil.rpcUrl).host}#1 serves chain 31337, not chain 2 (eth_chainId): check CHAIN_ID and the endpoints; chain 2's sync needs workers of chain 2 on its task queue ${TASK_QUEUE} (one of another chain there fails it at its first step)\n`]);
    let status: CliResult | undefined;
    await waitFor('chain-sync:2 to fail', async () => {
      status = await runClient(other, ['status']);
      return status.stdout.includes(': failed');
    }, { timeoutMs: 30_000, intervalMs: 300 });
    const stop = await runClient(other, ['stop']);
    expect([stop.code, stop.stdout]).toEqual([0, 'sync chain-sync:2 is not running; nothing to do (its last run failed, which status reports until it is started again; to clear it without starting it: npx tsx src/client.ts stop --chain-id 2 --forget)\n']);
    const pause = await runClient(other, ['pause']);
    expect([pause.code, pause.stderr]).toEqual([1, 'error: sync chain-sync:2 is not running; start it with: npx tsx src/client.ts start --chain-id 2\n']);
    expect([status!.code, status!.stdout]).toEqual([1, 'chain-sync:2: failed (activity readCursor failed: this worker indexes chain 31337, not chain 2: chain 2 needs a task queue of its own, polled only by workers of chain 2 (CHAIN_ID=2 and its endpoints, or a CHAINS_FILE that lists it)); stored cursor none; start it again, once the cause is fixed, with: npx tsx src/client.ts start --chain-id 2\n']);
    // A sync started by mistake: --forget clears its failed run, and status is healthy again.
    const forget = await runClient(other, ['stop', '--forget']);
    expect([forget.code, forget.stdout]).toEqual([0, 'sync chain-sync:2 forgotten (its last run, failed, deleted from Temporal; the stored rows and cursor stay)\n']);
    const { CHAIN_ID: _chain, ...all } = cliEnv;
    await waitFor('status of every chain to leave the forgotten sync out', async () => {
      const table = await runClient(all, ['status']);
      if (table.code === 0 && !table.stderr.includes('chain-sync:2')) return table;
      throw new Error(`exit ${table.code}, stderr: ${table.stderr.trim()}`); // waitFor's message on timeout
    }, { timeoutMs: 30_000, intervalMs: 300 });
    expect((await runClient(other, ['status'])).stdout).toBe('chain-sync:2: not started; stored cursor none; start it with: npx tsx src/client.ts start --chain-id 2\n');
    expect((await runClient(other, ['stop', '--forget'])).stdout).toBe('sync chain-sync:2 is not running; nothing to do\n');
  });

  it('`backfill` with --from above --to fails with one line and exit 1', async () => {
    const out = await client('backfill', '--from', '9', '--to', '3');
    expect([out.code, out.stderr]).toEqual([1, 'error: --from 9 is above --to 3\n']);
    const cursor = await database.db.selectFrom('cursors').select('block_number').where('chain_id', '=', CHAIN_ID).executeTakeFirstOrThrow();
    const above = await client('gaps', '--from', String(cursor.block_number + 1_000));
    expect([above.code, above.stdout, above.stderr]).toEqual([1, '', `error: --from ${(cursor.block_number + 1_000).toLocaleString('en-US')} is above the cursor ${cursor.block_number.toLocaleString('en-US')}: gaps looks below the cursor, where every block should be stored\n`]);
    const wide = await client('backfill', '--from', '0', '--to', '3', '--concurrency', '501');
    expect([wide.code, wide.stderr.split('\n')[0]]).toEqual([1, 'error: option \'--concurrency <n>\' argument \'501\' is invalid. --concurrency must be an integer from 1 to 500 (as CONCURRENCY), got 501']);
  });
  it('`status` without a chain id refuses an invalid CHAINS_FILE with the same line and exit code as the other commands', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-chains-'));
    writeFileSync(join(dir, 'truncated.json'), '{');
    writeFileSync(join(dir, 'bad-value.json'), JSON.stringify({ chains: [{ chainId: 'one', rpcUrl: 'http://127.0.0.1:1' }] }));
    const { CHAIN_ID: _chain, RPC_URL: _rpc, ...rest } = cliEnv;
    const expected = {
      'missing.json': `config error: CHAINS_FILE: cannot read ${join(dir, 'missing.json')} (ENOENT)\n`,
      'truncated.json': 'config error: CHAINS_FILE: not valid JSON (it ends too early)\n',
      'bad-value.json': 'config error: CHAINS_FILE chains[0].chainId: expected an integer ≥ 1\n',
    };
    for (const [file, stderr] of Object.entries(expected)) {
      const fileEnv = { ...rest, CHAINS_FILE: join(dir, file) };
      const status = await runClient(fileEnv, ['status']);
      const gaps = await runClient(fileEnv, ['gaps']);
      expect([status.code, status.stdout, status.stderr]).toEqual([1, '', stderr]);
      expect([gaps.code, gaps.stderr]).toEqual([status.code, status.stderr]);
    }
  });

  it('every command that reads the database names DATABASE_URL (password removed) when Postgres refuses the login', async () => {
    const url = new URL(database.url);
    url.password = 'not-the-password';
    const label = `postgres://${url.username}@${url.host}${url.pathname}`;
    const wrong = { ...cliEnv, DATABASE_URL: url.toString() };
    const refused = `password authentication failed for user "${url.username}"`;
    const cases: Array<[string[], string]> = [
      [['gaps'], `error: DATABASE_URL: cannot list the gaps of chain 31337 in ${label}: ${refused}`],
      [['export-block', '5'], `error: DATABASE_URL: cannot read block 5 of chain 31337 from ${label}: ${refused}`],
      [['verify', '--from', '0', '--to', '5'], `error: DATABASE_URL: cannot read the cursor of chain 31337 from ${label}: ${refused}`],
      [['archive', '--before', '1'], `error: DATABASE_URL: cannot archive chain 31337 below block 1 in ${label}: ${refused}`],
      [['migrate'], `error: DATABASE_URL: cannot migrate ${label}: ${refused}`],
    ];
    for (const [args, line] of cases) {
      const out = await runClient(wrong, args);
      expect([args[0], out.code, out.stdout, out.stderr]).toEqual([args[0], 1, '', `${line}\n`]);
      expect(out.stderr).not.toContain('not-the-password');
    }
  });

  it('a bad option value prints one line naming the option, and where the usage is; not the whole help', async () => {
    const chainId = await client('status', '--chain-id', 'abc');
    expect([chainId.code, chainId.stdout, chainId.stderr]).toEqual([1, '',
      "error: option '--chain-id <id>' argument 'abc' is invalid. --chain-id must be a positive integer, got abc\n(usage: npx tsx src/client.ts --help)\n"]);
    const from = await client('backfill', '--from', '-1', '--to', '3');
    expect([from.code, from.stdout, from.stderr]).toEqual([1, '',
      "error: option '--from <block>' argument '-1' is invalid. --from must be a block number (a decimal integer ≥ 0), got -1\n(usage: npx tsx src/client.ts backfill --help)\n"]);
    const hex = await client('backfill', '--from', '0x10', '--to', '9007199254740992');
    expect([hex.code, hex.stderr]).toEqual([1,
      "error: option '--from <block>' argument '0x10' is invalid. --from must be a block number (a decimal integer ≥ 0), got 0x10 (decimal, not hex)\n(usage: npx tsx src/client.ts backfill --help)\n"]);
    const huge = await client('backfill', '--from', '0', '--to', '9007199254740992');
    expect([huge.code, huge.stderr]).toEqual([1,
      "error: option '--to <block>' argument '9007199254740992' is invalid. --to must be a block number (a decimal integer ≥ 0), got 9007199254740992 (at most 9,007,199,254,740,991, 2^53 − 1)\n(usage: npx tsx src/client.ts backfill --help)\n"]);
    const missing = await client('verify', '--from', '0');
    expect([missing.code, missing.stderr]).toEqual([1, "error: required option '--to <block>' not specified\n(usage: npx tsx src/client.ts verify --help)\n"]);
  });

  it('a sync whose task queue no worker polls: `start` warns, `status` says so at once (no 30 s query timeout) and exits 1, with and without a chain id', async () => {
    const unserved = { ...cliEnv, CHAIN_ID: '3', TASK_QUEUE: UNSERVED_QUEUE };
    // The client's RPC_URL is the devnet's (chain 31337): start says so too.
    const otherChain = (queue: string) => `warning: RPC_URL: ${new URL(anvil.rpcUrl).host}#1 serves chain 31337, not chain 3 (eth_chainId): check CHAIN_ID and the endpoints; chain 3's sync needs workers of chain 3 on its task queue ${queue} (one of another chain there fails it at its first step)\n`;
    try {
      const start = await runClient(unserved, ['start']);
      expect([start.code, start.stderr]).toEqual([0, `${otherChain(UNSERVED_QUEUE)}warning: no worker polls the task queue ${UNSERVED_QUEUE} (no poll listed): sync chain-sync:3 waits until one does; ${START_A_WORKER}\n`]);
      const one = await runClient(unserved, ['status']);
      expect([one.code, one.stdout, one.stderr]).toEqual([1, '',
        `error: chain-sync:3 is running, stored cursor none; no worker polls the task queue ${UNSERVED_QUEUE} (no poll listed): the sync does not move or answer; ${START_A_WORKER}\n`]);
      const { CHAIN_ID: _omitted, ...anyChain } = unserved;
      const all = await runClient(anyChain, ['status']);
      const rows = all.stdout.trim().split('\n');
      // Borders, header, two rows (chain 2's sync, failed in a test above, was forgotten there: no line for it).
      expect([all.code, rows.length, all.stderr]).toEqual([1, 6,
        `chain-sync:3: no worker polls the task queue ${UNSERVED_QUEUE} (no poll listed): the sync does not move or answer; ${START_A_WORKER}\n`]);
      expect(rows.find((r) => r.includes('chain-sync:3'))).toBe('│     3 │ chain-sync:3     │ no answer │    - │      - │      - │            - │        - │      - │');
      // A `start` with another TASK_QUEUE (one a worker polls) checks the queue the running sync is on.
      // A `start` with another TASK_QUEUE (one a worker polls) checks the queue the running sync is on.
      const again = await runClient({ ...unserved, TASK_QUEUE }, ['start']);
      expect([again.code, again.stderr]).toEqual([0, `${otherChain(UNSERVED_QUEUE)}warning: no worker polls the task queue ${UNSERVED_QUEUE} (no poll listed): sync chain-sync:3 waits until one does; ${START_A_WORKER}\n`]);
      // Its note gives stop --force (a cancel would wait for a worker), and no TASK_QUEUE prefix (this client's is the default), but the sync settings this client sets.
      expect(again.stdout.split('\n').find((line) => line.startsWith('note: the running sync keeps'))).toBe(
        `note: the running sync keeps the settings it started with: task queue ${UNSERVED_QUEUE} (now ${TASK_QUEUE}); to use the new ones, stop it and start it again: `
        + 'npx tsx src/client.ts stop --chain-id 3 --force, then BATCH_SIZE=5 CONFIRMATION_DEPTH=3 POLL_INTERVAL=200 GAP_CHECK_INTERVAL=300 npx tsx src/client.ts start --chain-id 3');
      // `stop` cannot end it (no worker would run the cancel): it says so at once, and how to end it now.
      const stop = await runClient(unserved, ['stop']);
      expect([stop.code, stop.stdout, stop.stderr]).toEqual([1, '', `error: sync chain-sync:3 not stopped: no worker polls its task queue ${UNSERVED_QUEUE}, so a cancel would wait for one; to end it now: TASK_QUEUE=${UNSERVED_QUEUE} npx tsx src/client.ts stop --chain-id 3 --force (the stored rows and cursor stay)\n`]);
      expect((await env.client.workflow.getHandle('chain-sync:3').describe()).status.name).toBe('RUNNING');
      const forced = await runClient(unserved, ['stop', '--force']);
      expect([forced.code, forced.stdout]).toEqual([0, 'sync chain-sync:3 stopped (terminated; the stored rows and cursor stay)\n']);
      expect((await env.client.workflow.getHandle('chain-sync:3').describe()).status.name).toBe('TERMINATED');
    } finally {
      await env.client.workflow.getHandle('chain-sync:3').terminate('test done').catch(() => undefined);
    }
  });

  it('`status` of a sync whose worker died without shutting down says so in one line (the client\'s deadline, or Temporal\'s FAILED_PRECONDITION "no poller seen"), never a gRPC error', async () => {
    const chain4 = await startAnvil({ chainId: 4 });
    const queue = 'its-worker-was-killed';
    const own = { ...cliEnv, CHAIN_ID: '4', RPC_URL: chain4.rpcUrl, TASK_QUEUE: queue };
    const dead = await startWorkerProcess({
      TEMPORAL_ADDRESS: env.address, DATABASE_URL: database.url, RPC_URL: chain4.rpcUrl, CHAIN_ID: '4', TASK_QUEUE: queue, INSTANCE_ID: `killed-${process.pid}`,
    }, env.connection);
    try {
      expect((await runClient(own, ['start'])).code).toBe(0);
      await waitFor('the sync to answer', async () => (await runClient(own, ['status'])).code === 0);
      await dead.kill('SIGKILL'); // no clean shutdown: Temporal keeps listing its pollers for minutes
      await new Promise((resolve) => setTimeout(resolve, 21_000)); // past the server's 20 s without a poll
      const status = await runClient(own, ['status']);
      expect([status.code, status.stdout]).toEqual([1, '']);
      // The server refuses the query once its fallback from the dead worker's sticky queue finds no poller (about 9–10 s
      // here), or the client's 10 s deadline comes first: either way one line that names the queue and its last poll.
      const seen = `\\(task queue ${queue} last polled \\d+ s ago\\)`;
      expect(status.stderr).toMatch(new RegExp(`^error: chain-sync:4 is running; no answer to its progress query(: Temporal has seen no worker poll task queue ${queue} lately ${seen}: its worker stopped or lost Temporal| within 10 s ${seen}: its worker stopped, or is too busy to run a workflow task); see scripts/stack status and the worker's log\\n$`));
    } finally {
      await env.client.workflow.getHandle('chain-sync:4').terminate('test done').catch(() => undefined);
      await dead.stop();
      await chain4.stop();
    }
  }, 120_000);

  it('`start` says when the stored cursor is not on the chain the endpoint serves (a new devnet: a shorter chain, then other hashes)', async () => {
    const other = await startAnvil({ chainId: CHAIN_ID }); // a new devnet: same chain id, its own blocks
    try {
      const cursor = await readCursor(database.db, CHAIN_ID);
      expect(cursor?.blockNumber).toBeGreaterThan(0);
      const onOther = { ...cliEnv, RPC_URL: other.rpcUrl };
      const shorter = await runClient(onOther, ['start']);
      expect([shorter.code, shorter.stdout.replace(/\(run [0-9a-f-]+\)/, '(run …)')]).toEqual([0,
        `sync chain-sync:31337 is already running (run …); nothing to do\nnote: the stored cursor ${count(cursor!.blockNumber)} is not on the chain the endpoints serve (it has no block ${count(cursor!.blockNumber)} yet: a reset chain, such as a new devnet, or an endpoint behind it): if the workers' endpoints serve the same, the sync waits for them to reach block ${count(cursor!.blockNumber)}, and rolls back the stored blocks above the common ancestor as soon as one they serve has another hash\n`]);
      await rpc(other.rpcUrl, 'anvil_mine', [`0x${(cursor!.blockNumber + 1).toString(16)}`]);
      const theirs = ((await rpc(other.rpcUrl, 'eth_getBlockByNumber', [`0x${cursor!.blockNumber.toString(16)}`, false])) as { hash: string }).hash;
      const longer = await runClient(onOther, ['start']);
      expect([longer.code, longer.stdout.replace(/\(run [0-9a-f-]+\)/, '(run …)')]).toEqual([0,
        `sync chain-sync:31337 is already running (run …); nothing to do\nnote: the stored cursor ${count(cursor!.blockNumber)} is not on the chain the endpoints serve (its block ${count(cursor!.blockNumber)} is ${theirs}, stored ${cursor!.blockHash}: a reset chain, such as a new devnet, or a reorg deeper than the confirmation depth): if the workers' endpoints serve the same, the sync first rolls back the stored blocks above the common ancestor\n`]);
      expect(await readCursor(database.db, CHAIN_ID)).toEqual(cursor); // the cursor did not move meanwhile: the lines above name it
    } finally {
      await other.stop();
    }
  });
});
