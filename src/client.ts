/**
 * `evm-indexer`: the operator's CLI over Temporal (and Postgres for `migrate`, `gaps`, `verify`,
 * `export-block`, `archive` and the stored cursor).
 *
 * Commands: start, status, backfill, pause, resume, stop, migrate, verify, export-block, gaps,
 * archive. Settings come from the same environment variables as the worker (see the README's
 * configuration table); flags override. Exit codes: 0 success, 1 failure or bad usage (one line
 * naming the culprit; a bad option adds one line saying where the usage is), 130 when Ctrl-C
 * (SIGINT) interrupts the wait for a `verify` or `backfill` (the workflow keeps running; the line
 * printed says how to cancel it).
 * @example npx tsx src/client.ts status
 */
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { Client, Connection, isGrpcCancelledError, isGrpcDeadlineError, WorkflowNotFoundError, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import { chainFromEnv, loadChainsFile, selectChains, type ChainConfig } from './config/chains.js';
import { misspelledSettings } from './config/misspelled.js';
import { DEFAULTS, parseConfig, type Config } from './config/parse.js';
import { archivePartitions, ArchiveRefusedError, connectDatabase, exportBlock, findGaps, highestStoredBlock, migrateToLatest, readCursor, type ArchiveMode } from './db/index.js';
import { formatBlockOr, formatCount, formatCountOr, formatRange, rangeSize, type Cursor } from './domain/index.js';
import { postBatch, servedChainId, unwrap } from './rpc/index.js';
import { ConfigError } from './errors.js';
import { chooseProgressMode, createProgressReporter } from './cli/backfill-progress.js';
import { aboveCursorProblem, aboveHeadWarning, type BlockBound } from './cli/block-bounds.js';
import { isDatabaseFailure } from './cli/database-failure.js';
import { clientInvocation, keepsRunningNotice, temporalBinary, temporalCommand } from './cli/hints.js';
import { renderStatusTable, type StatusRow } from './cli/status-table.js';
import { describeWorkers, isNoPollerError, noWorker, noWorkerText, type MovedQueue, type TaskQueueWorkers } from './cli/worker-presence.js';
import { retryingLines, retryingNote, type PendingActivity } from './cli/retrying.js';
import { offChainNote } from './cli/off-chain.js';
import { keptSettingsNote, newSettingsAssignments, settingsDiff } from './cli/running-settings.js';
import { causeChain, failureText } from './cli/failure-text.js';
import { defaultFailureConverter, defaultPayloadConverter } from '@temporalio/common';
import { batchSizeText, syncStartDetails, syncSummary } from './workflows/details.js';
import { environmentHelp } from './cli/environment-help.js';
import {
  backfillProgressQuery,
  chainIdSearchAttribute,
  cursorSearchAttribute,
  backfillWorkflowId,
  chainSyncWorkflowId,
  pauseSignal,
  resumeSignal,
  syncProgressQuery,
  type BackfillInput,
  type BackfillProgress,
  type ChainSyncInput,
  type SyncProgress,
  type VerifyInput,
  type VerifyReport,
  verifyWorkflowId,
  FULL_GAP_CHECK_EVERY,
} from './workflows/definitions.js';

/** How often `backfill` prints a progress line (or JSON object) while it waits, in ms. */
const BACKFILL_PROGRESS_INTERVAL_MS = 2_000;
/** How often the live bar on a terminal refreshes, in ms. */
const BACKFILL_BAR_INTERVAL_MS = 500;

/** What the CLI prints for a number not known yet. */
const NO_NUMBER = '-';
/** Exit code after Ctrl-C (SIGINT) ends a wait for a workflow: 128 + signal 2, as shells report it. */
const EXIT_INTERRUPTED = 130;
/** How long `backfill` waits for the running sync to answer its progress query (for the head), in ms; a sync without a worker does not answer. */
const SYNC_QUERY_TIMEOUT_MS = 5_000;
/** How long `status` waits for one chain's sync to answer its progress query, in ms (a busy worker answers within a workflow task; Temporal's own limit is about 30 s). */
const STATUS_QUERY_TIMEOUT_MS = 10_000;
/** Why `gaps` refuses a start above the cursor. */
const GAPS_BELOW_CURSOR = 'gaps looks below the cursor, where every block should be stored';
/** Why `verify` refuses a range above the cursor: blocks the sync has not stored would be reported missing, and blocks above the head waited for forever. */
const VERIFY_BELOW_CURSOR = 'verify looks at or below the cursor, where every block should be stored';

function blockNumberArg(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
      const why = /^0x[0-9a-f]+$/i.test(value) ? ' (decimal, not hex)' : /^\d+$/.test(value) ? ' (at most 9,007,199,254,740,991, 2^53 − 1)' : '';
      throw new InvalidArgumentError(`${name} must be a block number (a decimal integer ≥ 0), got ${value}${why}`);
    }
    return Number(value);
  };
}

/** Parses an integer option from 0 to `max` (a count where 0 means off). @throws InvalidArgumentError naming the option. */
function countArg(name: string, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) > max) throw new InvalidArgumentError(`${name} must be an integer from 0 to ${max}, got ${value}`);
    return Number(value);
  };
}

/**
 * Parses an integer option from 1 to `max` (default: the largest safe integer, 2^53 − 1): the range
 * of the environment `variable` it stands for, when there is one (`--batch-size` as `BATCH_SIZE`: 1–10,000).
 * @throws InvalidArgumentError naming the option.
 */
function positiveArg(name: string, max = Number.MAX_SAFE_INTEGER, variable?: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
      const bound = max !== Number.MAX_SAFE_INTEGER ? `an integer from 1 to ${formatCount(max)}` : Number(value) > max ? 'at most 9,007,199,254,740,991 (2^53 − 1)' : 'a positive integer';
      throw new InvalidArgumentError(`${name} must be ${bound}${variable ? ` (as ${variable})` : ''}, got ${value}`);
    }
    return Number(value);
  };
}

async function connectClient(config: Config): Promise<{ client: Client; close: () => Promise<void> }> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: config.temporalAddress, connectTimeout: '5 seconds' });
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    const reason = /tcp connect error|ConnectError|refused/i.test(text) ? 'connection refused' : text;
    throw new CliError(`TEMPORAL_ADDRESS: cannot reach Temporal at ${config.temporalAddress} (${reason}); is the stack up? (scripts/stack up)`);
  }
  return { client: new Client({ connection, namespace: config.temporalNamespace }), close: () => connection.close() };
}

/** A failure the client reports as one line `error: <message>` (exit 1). */
class CliError extends Error {}

function requireChainId(config: Config, flag: number | undefined): number {
  const chainId = flag ?? config.chainId;
  if (chainId === null || chainId === undefined) throw new CliError('CHAIN_ID: required (set CHAIN_ID or pass --chain-id)');
  return chainId;
}

/**
 * The chains a command works on. With `CHAINS_FILE`: the chain of `--chain-id` (or `CHAIN_ID`),
 * or every chain of the file when `all` and none is given; `${VAR}` references to variables the
 * client lacks stay as written (the client never calls the endpoints). Without: the one chain of
 * `--chain-id`/`CHAIN_ID` with the environment's settings.
 * @throws CliError when no chain id is given where one is needed; ConfigError for a bad file or a chain not in it.
 */
function resolveChains(cfg: Config, env: NodeJS.ProcessEnv, flag: number | undefined, options: { all: boolean }): ChainConfig[] {
  const fromFile = loadChainsFile(cfg, env, { unsetVariables: 'keep' });
  if (!fromFile) return [chainFromEnv(cfg, requireChainId(cfg, flag))];
  const chainId = flag ?? cfg.chainId;
  if ((chainId === null || chainId === undefined) && !options.all) {
    throw new CliError(`--chain-id: required with CHAINS_FILE (it lists chains ${fromFile.map((c) => c.chainId).join(', ')})`);
  }
  return selectChains(fromFile, chainId, flag === undefined ? 'CHAIN_ID' : '--chain-id');
}

/**
 * Builds the CLI program over `env` (the settings, as the worker reads them). `invocation` is how
 * the hints it prints run the client again (default: from `process.argv[1]`, see
 * {@link clientInvocation}). A bad option or argument prints commander's one line naming it and
 * `(usage: <invocation> [command] --help)`, not the whole help. Exported for tests.
 */
export function createProgram(env: NodeJS.ProcessEnv = process.env, bareInvocation: string = clientInvocation(process.argv[1])): Command {
  // With a CHAINS_FILE the commands a hint prints need it too (without it they would use TASK_QUEUE's queue).
  // So does a TASK_QUEUE other than the default (given on one command line, not exported, it would
  // be lost), also with a CHAINS_FILE, whose chains without a taskQueue of their own use TASK_QUEUE-<chain id>.
  const queue = env.TASK_QUEUE?.trim();
  const prefix = [
    ...(env.CHAINS_FILE ? [`CHAINS_FILE=${shellWord(env.CHAINS_FILE)}`] : []),
    ...(queue && queue !== DEFAULTS.TASK_QUEUE ? [`TASK_QUEUE=${shellWord(queue)}`] : []),
  ];
  const invocation = [...prefix, bareInvocation].join(' ');
  const config = (): Config => parseConfig(env);
  const program = new Command('evm-indexer')
    .description('Operate the EVM chain indexer: sync, backfill and inspect chains indexed through Temporal into PostgreSQL.')
    .option('--chain-id <id>', 'EIP-155 chain id (default: CHAIN_ID)', positiveArg('--chain-id'))
    .showHelpAfterError(`(usage: ${invocation} --help)`)
    .addHelpText('after', environmentHelp())
    // Before any command (not --help): a variable that looks like a misspelled setting would be ignored silently.
    .hook('preAction', () => {
      for (const { warning } of misspelledSettings(env)) console.error(`warning: ${warning}`);
    });
  const chainIdFlag = (): number | undefined => program.opts<{ chainId?: number }>().chainId;
  const chainOf = (cfg: Config): ChainConfig => resolveChains(cfg, env, chainIdFlag(), { all: false })[0]!;
  /** For a sync of `chainId` running on `runningQueue`: the queue its CHAINS_FILE entry names now, when another (see MovedQueue). */
  const movedQueue = (cfg: Config, chainId: number, runningQueue: string): MovedQueue | undefined => {
    // Only from a CHAINS_FILE, which names the chain's queue for its workers: without one the
    // client's TASK_QUEUE may just not be the workers' (a sync started from a file, a plain
    // `status` run without it), and moving the sync there would hand it to no worker of its chain.
    if (cfg.chainsFile === undefined) return undefined;
    let queue: string;
    try {
      queue = resolveChains(cfg, env, chainId, { all: false })[0]!.taskQueue;
    } catch {
      return undefined; // a chain the settings do not list
    }
    if (queue === runningQueue) return undefined;
    return { queue, stop: `${invocation} stop --chain-id ${chainId} --force`, start: `${invocation} start --chain-id ${chainId}` };
  };

  program
    .command('start')
    .description('Start the chain\'s sync workflow (chain-sync:<chainId>); with CHAINS_FILE and no chain id, every chain\'s. Idempotent: if it runs already, says so and exits 0.')
    .action(async () => {
      const cfg = config();
      const chains = resolveChains(cfg, env, chainIdFlag(), { all: true });
      const { client, close } = await connectClient(cfg);
      try {
        // Each chain's stored cursor and note (its endpoints asked, up to CANONICAL_HASH_TIMEOUT_MS): all chains at once.
        const cursors = await Promise.all(chains.map((chain) => storedCursorAndNote(cfg, chain)));
        for (const [i, chain] of chains.entries()) {
          const started = await startSync(client, cfg, chain, cursors[i]!, invocation, env);
          console.log(started.text);
          const otherChain = otherChainWarning(cfg, chain, cursors[i]!.wrong, started.taskQueue);
          if (otherChain !== null) console.error(otherChain);
          await warnWithoutWorker(client, started.taskQueue, `sync ${chainSyncWorkflowId(chain.chainId)} waits until one does`, cfg.chainsFile !== undefined, movedQueue(cfg, chain.chainId, started.taskQueue));
        }
      } finally {
        await close();
      }
    });

  program
    .command('status')
    .description('Show head, target, cursor and lag (blocks) of the chain\'s sync, or a table of every running sync when no chain id is set.')
    .action(async () => {
      const cfg = config();
      const chainId = chainIdFlag() ?? cfg.chainId;
      const oneChain = chainId !== null && chainId !== undefined;
      // Refuses an invalid CHAINS_FILE (and a chain id it does not list) as the other commands do, with or without a chain id.
      if (cfg.chainsFile !== undefined) resolveChains(cfg, env, chainIdFlag(), { all: !oneChain });
      const { client, close } = await connectClient(cfg);
      try {
        if (oneChain) {
          const id = chainSyncWorkflowId(chainId);
          console.log(await renderStatus(client.workflow.getHandle(id), id, cfg, invocation, (queue) => movedQueue(cfg, chainId, queue)));
          return;
        }
        const rows: StatusRow[] = [];
        const silent: string[] = []; // why a sync gave no answer, or failed, one line each
        const workersOf = new Map<string, TaskQueueWorkers | null>(); // by task queue, asked once
        for await (const wf of client.workflow.list({ query: `WorkflowType = 'chainSync' AND ExecutionStatus = 'Running'` })) {
          if (!workersOf.has(wf.taskQueue)) workersOf.set(wf.taskQueue, await describeWorkers(client, wf.taskQueue));
          const workers = workersOf.get(wf.taskQueue) ?? null;
          let progress: SyncProgress | null = null;
          let retrying = '';
          if (noWorker(workers)) silent.push(`${wf.workflowId}: ${noWorkerText(wf.taskQueue, workers!, 'the sync does not move or answer', cfg.chainsFile !== undefined, movedQueue(cfg, Number(wf.workflowId.split(':')[1]), wf.taskQueue))}`);
          else {
            try {
              const handle = client.workflow.getHandle(wf.workflowId);
              progress = await client.connection.withDeadline(Date.now() + SYNC_QUERY_TIMEOUT_MS, () => handle.query(syncProgressQuery));
              // Within the same deadline; a describe that fails only leaves the note out (the sync did answer).
              retrying = await client.connection.withDeadline(Date.now() + SYNC_QUERY_TIMEOUT_MS, () => handle.describe())
                .then((d) => retryingNote(d.raw.pendingActivities ?? []), () => '');
            } catch (err) {
              silent.push(`${wf.workflowId}: ${unansweredText(wf.taskQueue, workers, SYNC_QUERY_TIMEOUT_MS, err) ?? failureText(err)}`);
            }
          }
          rows.push({ workflowId: wf.workflowId, progress, retrying });
        }
        // A sync that failed or timed out is in no row: one line each (its latest run, when that is
        // still the failed one: not restarted, not stopped since), and exit 1, as `status --chain-id` does.
        const ended = new Set<string>();
        for await (const wf of client.workflow.list({ query: `WorkflowType = 'chainSync' AND (ExecutionStatus = 'Failed' OR ExecutionStatus = 'TimedOut')` })) {
          if (ended.has(wf.workflowId) || rows.some((r) => r.workflowId === wf.workflowId)) continue;
          ended.add(wf.workflowId);
          const handle = client.workflow.getHandle(wf.workflowId);
          // Visibility lists a deleted run (`stop --forget`) a while after its record is gone: skip it.
          const latest = await handle.describe().catch((err: unknown) => {
            if (err instanceof WorkflowNotFoundError) return null;
            throw err;
          });
          const state = latest?.status.name;
          if (state === 'FAILED' || state === 'TIMED_OUT') silent.push(await renderStatus(handle, wf.workflowId, cfg, invocation, () => undefined, latest!));
        }
        const startHint = cfg.chainsFile === undefined ? `start one with: ${invocation} start --chain-id <chain id>` : `start every chain of CHAINS_FILE with: ${invocation} start`;
        console.log(rows.length === 0 ? `no sync is running; ${startHint}` : renderStatusTable(rows));
        for (const line of silent) console.error(line);
        if (silent.length > 0) process.exitCode = 1;
      } finally {
        await close();
      }
    });

  program
    .command('backfill')
    .description('Index blocks --from..--to (inclusive) in a backfill workflow (backfill:<chainId>:<from>-<to>) and wait for it, printing progress.')
    .requiredOption('--from <block>', 'first block number', blockNumberArg('--from'))
    .requiredOption('--to <block>', 'last block number (inclusive)', blockNumberArg('--to'))
    .option('--batch-size <blocks>', 'blocks per batch: of the first ones, or of all with --batch-rows 0 (default: BATCH_SIZE)', positiveArg('--batch-size', 10_000, 'BATCH_SIZE'))
    .option('--batch-rows <rows>', 'rows (blocks + transactions + logs) later batches aim at; 0 = every batch has --batch-size blocks (default: BATCH_ROWS)', countArg('--batch-rows', 10_000_000))
    .option('--concurrency <n>', 'batches in flight (default: CONCURRENCY)', positiveArg('--concurrency', 500, 'CONCURRENCY'))
    .option('--no-wait', 'start it and return at once')
    .option('--json', 'progress as one JSON object per line on stdout (event "progress", then "done"), for scripts', false)
    .action(async (opts: { from: number; to: number; batchSize?: number; batchRows?: number; concurrency?: number; wait: boolean; json: boolean }) => {
      const cfg = config();
      const chain = chainOf(cfg);
      const { chainId } = chain;
      if (opts.from > opts.to) throw new CliError(`--from ${opts.from} is above --to ${opts.to}`);
      const { client, close } = await connectClient(cfg);
      try {
        const input: BackfillInput = { chainId, from: opts.from, to: opts.to, batchSize: opts.batchSize ?? chain.batchSize, batchRows: opts.batchRows ?? chain.batchRows, concurrency: opts.concurrency ?? chain.concurrency, maxRetries: chain.maxRetries };
        const workflowId = backfillWorkflowId(chainId, opts.from, opts.to);
        const warning = aboveHeadWarning(opts.to, await runningSyncHead(client, chainId));
        if (warning !== null) console.error(warning); // said, then started: a backfill into the future is legitimate
        const registered = await registeredSearchAttributes(client, cfg);
        const handle = await client.workflow.start('backfill', {
          workflowId,
          taskQueue: chain.taskQueue,
          args: [input],
          workflowIdConflictPolicy: 'USE_EXISTING',
          staticSummary: `backfill of chain ${chainId}: ${formatRange(opts)}`,
          typedSearchAttributes: chainIdAttribute(registered, chainId),
        });
        const mode = chooseProgressMode({ json: opts.json, isTTY: process.stderr.isTTY === true });
        const running = `backfill ${workflowId} running on task queue ${chain.taskQueue}`;
        const withoutWorker = await withoutWorkerWarning(client, chain.taskQueue, `backfill ${workflowId} starts when one does`, cfg.chainsFile !== undefined);
        if (!opts.wait) {
          // With --json, stdout holds only JSON: the one object a script needs to find the backfill again.
          console.log(mode === 'json' ? JSON.stringify({ event: 'started', chainId, from: opts.from, to: opts.to, workflowId, taskQueue: chain.taskQueue }) : running);
          if (withoutWorker !== null) console.error(withoutWorker);
          return;
        }
        const reporter = createProgressReporter(mode, { stdout: process.stdout, stderr: process.stderr });
        let timer: ReturnType<typeof setInterval> | undefined;
        // Before the line that says it runs: from then on, Ctrl-C says it keeps running and how to cancel it.
        const release = exitOnInterrupt(() => {
          clearInterval(timer);
          reporter.stop();
          return keepsRunningNotice('backfill', workflowId, endCommand(cfg, workflowId, withoutWorker !== null), withoutWorker !== null);
        });
        try {
          if (mode !== 'json') console.log(running);
          if (withoutWorker !== null) console.error(withoutWorker);
          timer = setInterval(
            () => handle.query(backfillProgressQuery).then((p) => reporter.update(p), () => undefined),
            mode === 'bar' ? BACKFILL_BAR_INTERVAL_MS : BACKFILL_PROGRESS_INTERVAL_MS,
          );
          const result = (await handle.result()) as BackfillProgress;
          clearInterval(timer);
          reporter.finish(result);
          if (mode !== 'json') console.log(`backfill done: ${formatRange(result)} (${plural(result.blocksTotal, 'block', 'blocks')}), ${result.blocksPerSecond} blocks/s`);
        } finally {
          clearInterval(timer);
          release();
        }
      } finally {
        await close();
      }
    });

  for (const [name, signal, verb] of [['pause', pauseSignal, 'paused'], ['resume', resumeSignal, 'resumed']] as const) {
    program
      .command(name)
      .description(name === 'pause' ? 'Pause the sync: no new batches; in-flight ones finish.' : 'Resume a paused sync.')
      .action(async () => {
        const cfg = config();
        await withSync(cfg, requireChainId(cfg, chainIdFlag()), invocation, async (handle) => {
          await handle.signal(signal);
          console.log(`sync ${handle.workflowId} ${verb}`);
        });
      });
  }

  program
    .command('stop')
    .description('Stop the sync (cancels the workflow and waits up to 15 s for it to end; stored data and the cursor stay; start resumes from the cursor). With --force, terminates it at once instead (for a sync no worker runs: a cancel waits for one). Idempotent: if it does not run, says so and exits 0. With --forget, a sync that does not run and whose last run failed (which status reports, exit 1) has that run\'s record deleted from Temporal, so status no longer reports it.')
    .option('--force', 'terminate the workflow at once instead of cancelling it (stored rows and the cursor stay: every batch is one transaction)')
    .option('--forget', 'for a sync that does not run: delete its last run\'s record from Temporal (a failed one status keeps reporting); the stored rows and cursor stay')
    .action(async (opts: { force?: boolean; forget?: boolean }) => {
      const cfg = config();
      const chainId = requireChainId(cfg, chainIdFlag());
      await withSync(cfg, chainId, invocation, async (handle, client) => {
        const running = await describeRunning(client, handle.workflowId);
        if (!running) {
          const state = await handle.describe().then((d) => d.status.name, (err: unknown) => {
            if (err instanceof WorkflowNotFoundError) return null; // never started, or its record already gone
            throw err;
          });
          if (opts.forget && state !== null) {
            await client.workflowService.deleteWorkflowExecution({ namespace: cfg.temporalNamespace, workflowExecution: { workflowId: handle.workflowId } });
            console.log(`sync ${handle.workflowId} forgotten (its last run, ${state.toLowerCase().replace('_', ' ')}, deleted from Temporal; the stored rows and cursor stay)`);
            return;
          }
          // A failed run stays in status (exit 1) until the sync runs again: say how to clear it.
          const failed = state === 'FAILED' || state === 'TIMED_OUT';
          console.log(`sync ${handle.workflowId} is not running; nothing to do${failed ? ` (its last run ${state === 'FAILED' ? 'failed' : 'timed out'}, which status reports until it is started again; to clear it without starting it: ${invocation} stop --chain-id ${chainId} --forget)` : ''}`); // as `start` of a running sync
          return;
        }
        if (opts.forget) throw new CliError(`sync ${handle.workflowId} is running: --forget is for a sync that does not run; stop it first: ${invocation} stop --chain-id ${chainId}`);
        if (opts.force) {
          await handle.terminate(`client stop --force (${invocation})`);
          console.log(`sync ${handle.workflowId} stopped (terminated; the stored rows and cursor stay)`);
          return;
        }
        const force = `${invocation} stop --chain-id ${chainId} --force`;
        // A cancel is run by a worker of the sync's queue: with none, it would wait (and take effect whenever one comes).
        if (noWorker(await describeWorkers(client, running.taskQueue))) {
          throw new CliError(`sync ${handle.workflowId} not stopped: no worker polls its task queue ${running.taskQueue}, so a cancel would wait for one; to end it now: ${force} (the stored rows and cursor stay)`);
        }
        await handle.cancel();
        // Waits for the run to end, so a `start` right after (to adopt new settings) starts a new one.
        const deadline = Date.now() + STOP_WAIT_MS;
        let ended = false;
        while (!ended && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 200));
          ended = (await describeRunning(client, handle.workflowId)) === null;
        }
        if (ended) {
          console.log(`sync ${handle.workflowId} stopped (cancelled; the stored rows and cursor stay)`);
          return;
        }
        console.log(`sync ${handle.workflowId} stopping (cancelled; the stored rows and cursor stay): still running after ${STOP_WAIT_MS / 1000} s, its in-flight batches ending; status says when it has stopped (${force} ends it at once)`);
      });
    });

  program
    .command('migrate')
    .description('Apply pending database migrations (the worker also does this at start).')
    .action(async () => {
      const cfg = config();
      const db = connectDatabase(cfg.databaseUrl);
      try {
        const applied = await migrateToLatest(db, { partitionSize: cfg.partitionSize }).catch((err: unknown) => {
          throw new CliError(`DATABASE_URL: cannot migrate ${cfg.databaseLabel}: ${err instanceof Error ? err.message || (err as { code?: string }).code : String(err)}`);
        });
        console.log(applied.length === 0 ? 'database is up to date' : `applied: ${applied.join(', ')}`);
      } finally {
        await db.destroy();
      }
    });

  program
    .command('verify')
    .description('Re-read blocks --from..--to (inclusive) from the RPC endpoints (through a worker) and compare hashes, parent hashes, transactions, receipt status and gas used, and log keys with the database. Exit 1 when any difference is found.')
    .requiredOption('--from <block>', 'first block number', blockNumberArg('--from'))
    .requiredOption('--to <block>', 'last block number (inclusive)', blockNumberArg('--to'))
    .option('--sample <n>', 'check only n blocks, spread evenly over the range', positiveArg('--sample'))
    .action(async (opts: { from: number; to: number; sample?: number }) => {
      const cfg = config();
      const chain = chainOf(cfg);
      const { chainId, taskQueue } = chain;
      if (opts.from > opts.to) throw new CliError(`--from ${opts.from} is above --to ${opts.to}`);
      // Above the cursor the sync has not stored the blocks yet ("missing in the database"), and above the head verifyRange waits for them forever.
      // Without a cursor (a chain only backfilled), the highest stored block bounds it instead.
      const { cursor, highest } = await withDatabase(cfg, `read the cursor of chain ${chainId} from ${cfg.databaseLabel}`, async (db) => {
        const stored = await readCursor(db, chainId);
        return { cursor: stored, highest: stored ? null : await highestStoredBlock(db, chainId) };
      });
      const bounds = [{ name: '--from', blockNumber: opts.from }, { name: '--to', blockNumber: opts.to }];
      if (cursor) refuseAboveCursor(bounds, cursor.blockNumber, VERIFY_BELOW_CURSOR);
      else if (highest === null) throw new CliError(`chain ${chainId} has no block stored yet: nothing to verify (start its sync: ${invocation} start --chain-id ${chainId}, or backfill a range)`);
      else {
        const above = bounds.find((b) => b.blockNumber > highest);
        if (above) throw new CliError(`${above.name} ${formatCount(above.blockNumber)} is above the highest stored block ${formatCount(highest)} (chain ${chainId} has no cursor: no sync has stored blocks): verify compares stored blocks with the chain`);
      }
      const { client, close } = await connectClient(cfg);
      try {
        const input: VerifyInput = { chainId, from: opts.from, to: opts.to, ...(opts.sample ? { sample: opts.sample } : {}), maxRetries: chain.maxRetries };
        const workflowId = verifyWorkflowId(chainId, opts.from, opts.to);
        const handle = await client.workflow.start('verify', {
          workflowId,
          taskQueue,
          args: [input],
          workflowIdConflictPolicy: 'USE_EXISTING',
        });
        const withoutWorker = await withoutWorkerWarning(client, taskQueue, `verify ${workflowId} starts when one does`, cfg.chainsFile !== undefined);
        // Before the line that says it runs: from then on, Ctrl-C says it keeps running and how to cancel it.
        const release = exitOnInterrupt(() => keepsRunningNotice('verify', workflowId, endCommand(cfg, workflowId, withoutWorker !== null), withoutWorker !== null));
        let report: VerifyReport;
        try {
          // On stderr, so the report on stdout stays the only thing there: a verify waits for a worker and can take long.
          console.error(`verify ${workflowId} running on task queue ${taskQueue}${chain.maxRetries > 0 ? `, ${chain.maxRetries} attempts per chunk` : ''}; waiting for its report`);
          if (withoutWorker !== null) console.error(withoutWorker);
          report = (await handle.result()) as VerifyReport;
        } finally {
          release();
        }
        console.log(`verify chain ${chainId} ${formatRange(report)}: ${plural(report.checkedBlocks, 'block', 'blocks')} checked, ${formatCount(report.differenceCount)} difference${report.differenceCount === 1 ? '' : 's'}`);
        for (const line of report.differences) console.log(`  ${line}`);
        if (report.differenceCount > report.differences.length) console.log(`  … and ${formatCount(report.differenceCount - report.differences.length)} more`);
        const fix = restoreHint(report, invocation);
        if (fix !== null) console.error(fix);
        process.exitCode = report.differenceCount === 0 ? 0 : 1;
      } finally {
        await close();
      }
    });

  program
    .command('export-block')
    .description('Print a stored block with its transactions, receipts and logs as JSON-RPC shaped JSON (eth_getBlockByNumber(n, true) + eth_getBlockReceipts(n)), rebuilt from the database.')
    .argument('<block>', 'block number', blockNumberArg('<block>'))
    .action(async (blockNumber: number) => {
      const cfg = config();
      const chainId = requireChainId(cfg, chainIdFlag());
      if (cfg.chainsFile !== undefined) chainOf(cfg); // a chain the file does not list is refused, as by the other commands
      const bundle = await withDatabase(cfg, `read block ${blockNumber} of chain ${chainId} from ${cfg.databaseLabel}`, (db) => exportBlock(db, chainId, blockNumber));
      if (!bundle) throw new CliError(`block ${blockNumber} of chain ${chainId} is not stored`);
      console.log(JSON.stringify(bundle, null, 2));
    });

  program
    .command('gaps')
    .description('List missing block ranges (gaps) of the chain below its cursor.')
    .option('--from <block>', 'lowest block number to check (default: the running sync\'s start block, else START_BLOCK)', blockNumberArg('--from'))
    .action(async (opts: { from?: number }) => {
      const cfg = config();
      const { chainId, startBlock } = chainOf(cfg);
      // The sync fills gaps from its own start block up; blocks below it are not missing.
      const syncStart = opts.from === undefined ? await runningSyncStartBlock(cfg, chainId) : null;
      await withDatabase(cfg, `list the gaps of chain ${chainId} in ${cfg.databaseLabel}`, async (db) => {
        const cursor = await readCursor(db, chainId);
        if (!cursor) {
          console.log(`chain ${chainId} has no cursor yet`);
          return;
        }
        const from = opts.from ?? syncStart ?? startBlock;
        const fromName = opts.from !== undefined ? '--from' : syncStart !== null ? 'the running sync\'s start block' : 'START_BLOCK';
        refuseAboveCursor([{ name: fromName, blockNumber: from }], cursor.blockNumber, GAPS_BELOW_CURSOR);
        const gaps = await findGaps(db, chainId, from, cursor.blockNumber);
        if (gaps.length === 0) console.log(`no gap in ${formatRange({ from, to: cursor.blockNumber })}`);
        for (const g of gaps) console.log(`gap: ${formatRange(g)} (${formatCount(rangeSize(g))} block${g.to === g.from ? "" : "s"})`);
        if (gaps.length > 0) {
          // On stderr: stdout stays the list. The sync's incremental checks start near the cursor (src/workflows/sync-chain.ts).
          console.error(`note: a caught-up sync fills gaps near its cursor at its next gap check (every GAP_CHECK_INTERVAL) and older ones at its full check (every ${FULL_GAP_CHECK_EVERY} intervals: an hour by default), none while it catches up or is paused; to fill one now: ${invocation} backfill --chain-id ${chainId} --from ${gaps[0]!.from} --to ${gaps[0]!.to}`);
        }
        process.exitCode = gaps.length === 0 ? 0 : 1;
      });
    });

  program
    .command('archive')
    .description('Detach the chain\'s whole partitions below --before from blocks, transactions, logs and withdrawals (kept in schema "archive"; --drop drops them; --export <dir> writes them to <dir> with COPY, then drops them). Refuses (exit 1) anything at or above the stored cursor. gaps and verify skip archived ranges.')
    .requiredOption('--before <block>', 'archive only partitions whose every block is below this one', blockNumberArg('--before'))
    .option('--drop', 'drop the detached partitions')
    .option('--export <dir>', 'write each detached partition to <dir>/<table>_c<chainId>_<from>_<to>.copy (COPY text format), then drop it')
    .action(async (opts: { before: number; drop?: boolean; export?: string }) => {
      const cfg = config();
      const chainId = requireChainId(cfg, chainIdFlag());
      if (opts.drop && opts.export !== undefined) throw new CliError('--drop and --export: choose one (--export drops after writing the files)');
      const mode: ArchiveMode = opts.export !== undefined ? { kind: 'export', dir: opts.export } : opts.drop ? { kind: 'drop' } : { kind: 'detach' };
      const archived = await withDatabase(cfg, `archive chain ${chainId} below block ${opts.before} in ${cfg.databaseLabel}`, (db) =>
        archivePartitions(db, cfg.databaseUrl, chainId, opts.before, mode).catch((err: unknown) => {
          throw err instanceof ArchiveRefusedError ? new CliError(err.message) : err;
        }));
      if (archived.length === 0) console.log(`chain ${chainId}: no whole partition below block ${formatCount(opts.before)}; nothing archived`);
      const done = mode.kind === 'detach' ? 'detached to schema archive' : mode.kind === 'drop' ? 'detached and dropped' : `exported to ${mode.dir} and dropped`;
      for (const p of archived) console.log(`chain ${chainId}: ${formatRange(p)} ${done}`);
    });

  // Each command's own usage line after a bad option of that command (commander's error comes first).
  for (const command of program.commands) command.showHelpAfterError(`(usage: ${invocation} ${command.name()} --help)`);
  return program;
}

/**
 * Chain `chain`'s stored cursor ({@link readStoredCursor}), and what the client's endpoints say of
 * it ({@link probeEndpoints}): `wrong`, the endpoints that serve another chain when none serves
 * this one (for {@link otherChainWarning}); otherwise `note`, the line that notes the cursor is
 * not on the chain they serve (`note: …`, {@link offChainNote}; empty: no cursor, no hash, or they
 * cannot say within CANONICAL_HASH_TIMEOUT_MS). Never throws for the endpoints.
 */
async function storedCursorAndNote(cfg: Config, chain: ChainConfig): Promise<{ stored: Awaited<ReturnType<typeof readStoredCursor>>; note: string; wrong: { label: string; chainId: string }[] }> {
  const stored = await readStoredCursor(cfg, chain.chainId);
  const cursor = 'cursor' in stored ? stored.cursor : null;
  const probe = await probeEndpoints(chain, cursor?.blockHash ? cursor.blockNumber : null);
  return { stored, note: cursor && probe.wrong.length === 0 ? offChainNote(cursor, probe.hash) : '', wrong: probe.wrong };
}

/**
 * The warning `start` prints on stderr when none of the client's endpoints for chain `chain` serves
 * it (`wrong`: those that serve another, {@link probeEndpoints}; null when that list is empty):
 * CHAIN_ID or RPC_URL (or the CHAINS_FILE entry) is likely wrong, and a sync of the chain on
 * `taskQueue` fails at its first step on a worker of another chain. Pure.
 */
function otherChainWarning(cfg: Config, chain: ChainConfig, wrong: readonly { label: string; chainId: string }[], taskQueue: string): string | null {
  if (wrong.length === 0) return null;
  const where = cfg.chainsFile === undefined ? 'RPC_URL' : `CHAINS_FILE chain ${chain.chainId}`;
  const serves = wrong.map((w) => `${w.label} serves chain ${w.chainId}`).join(', ');
  return `warning: ${where}: ${serves}, not chain ${chain.chainId} (eth_chainId): check CHAIN_ID and the endpoints; chain ${chain.chainId}'s sync needs workers of chain ${chain.chainId} on its task queue ${taskQueue} (one of another chain there fails it at its first step)`;
}

/**
 * Starts `chain-sync:<chainId>` on the chain's task queue with the chain's settings, unless it runs
 * already. Returns the text to print (the line; when it runs already, the settings it keeps that
 * differ from these, {@link keptSettingsNote}; and `note` when there is one: see
 * {@link storedCursorAndNote}, which gives `stored` too; each on a line of its own) and the task
 * queue of the sync: the running one's, which may differ from the chain's when it was started with
 * another TASK_QUEUE. `invocation` is how the client runs, for the hints; `env` the variables the
 * settings came from (the note's `start` repeats those that differ).
 */
async function startSync(client: Client, cfg: Config, chain: ChainConfig, { stored, note }: Awaited<ReturnType<typeof storedCursorAndNote>>, invocation: string, env: NodeJS.ProcessEnv): Promise<{ text: string; taskQueue: string }> {
  const { chainId } = chain;
  const workflowId = chainSyncWorkflowId(chainId);
  const running = await describeRunning(client, workflowId);
  const withNotes = (line: string, ...notes: string[]) => [line, ...notes.filter((n) => n !== '')].join('\n');
  const input: ChainSyncInput = {
    chainId,
    startBlock: chain.startBlock,
    batchSize: chain.batchSize,
    batchRows: chain.batchRows,
    concurrency: chain.concurrency,
    confirmationDepth: chain.confirmationDepth,
    finality: chain.finality,
    pollIntervalMs: chain.pollIntervalMs,
    maxRetries: chain.maxRetries,
    gapCheckIntervalMs: chain.gapCheckIntervalMs,
    stallTimeoutMs: chain.stallTimeoutMs,
    endpoints: [...chain.rpcLabels],
  };
  if (running) {
    const differ = settingsDiff(await runningInput(client, cfg, workflowId, running.runId), input);
    if (running.taskQueue !== chain.taskQueue) differ.unshift(`task queue ${running.taskQueue} (now ${chain.taskQueue})`);
    // A sync no worker runs cannot be cancelled (stop refuses it): the note says stop --force then.
    const unserved = running.taskQueue !== chain.taskQueue && noWorker(await describeWorkers(client, running.taskQueue));
    // With a CHAINS_FILE its fields win over the variables: the file (in `invocation`) gives the new values.
    const kept = keptSettingsNote(differ, invocation, chainId, unserved, cfg.chainsFile === undefined ? newSettingsAssignments(differ, env, shellWord) : []);
    return { text: withNotes(`sync ${workflowId} is already running (run ${running.runId}); nothing to do`, kept, note), taskQueue: running.taskQueue };
  }
  const registered = await registeredSearchAttributes(client, cfg);
  input.searchAttributes = registered.has(cursorSearchAttribute.name);
  const handle = await client.workflow.start('chainSync', {
    workflowId,
    taskQueue: chain.taskQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    staticSummary: syncSummary(chainId),
    staticDetails: syncStartDetails(input),
    typedSearchAttributes: chainIdAttribute(registered, chainId),
  });
  const from = 'error' in stored
    ? `from the stored cursor if there is one, else block ${formatCount(chain.startBlock)} (${stored.error})`
    : stored.cursor ? `resuming after the stored cursor ${formatCount(stored.cursor.blockNumber)}` : `from block ${formatCount(chain.startBlock)}`;
  return {
    text: withNotes(`sync ${workflowId} started (run ${handle.firstExecutionRunId}) on task queue ${chain.taskQueue}: ${from}, ${chain.finality === 'depth' ? `${chain.confirmationDepth} confirmations deep` : `'${chain.finality}' tag`}, batches of ${batchSizeText(chain.batchSize, chain.batchRows)}, ${chain.concurrency} at once`, note),
    taskQueue: chain.taskQueue,
  };
}

/**
 * Names of the custom search attributes registered in the client's namespace. Empty (with one
 * warning line on stderr) when the server cannot say; then the workflows run without them.
 */
async function registeredSearchAttributes(client: Client, cfg: Config): Promise<Set<string>> {
  try {
    const response = await client.connection.operatorService.listSearchAttributes({ namespace: cfg.temporalNamespace });
    const names = new Set(Object.keys(response.customAttributes ?? {}));
    const missing = [chainIdSearchAttribute.name, cursorSearchAttribute.name].filter((n) => !names.has(n));
    if (missing.length > 0) {
      console.error(
        `note: search attribute${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not registered in namespace ${cfg.temporalNamespace}; ` +
          `workflows start without ${missing.length > 1 ? 'them' : 'it'} (register: ${missing.map((n) => temporalCommand(temporalBinary(process.cwd()), { address: cfg.temporalAddress, namespace: cfg.temporalNamespace }, `operator search-attribute create --name ${n} --type Int`)).join('; ')})`,
      );
    }
    return names;
  } catch {
    return new Set();
  }
}

/** The `ChainId` search attribute of a new workflow, when registered. */
function chainIdAttribute(registered: ReadonlySet<string>, chainId: number) {
  return registered.has(chainIdSearchAttribute.name) ? [{ key: chainIdSearchAttribute, value: chainId }] : [];
}

/**
 * The chain's stored cursor: `cursor` null when there is none (or the database was never migrated:
 * the worker migrates it), `error` (one line naming `DATABASE_URL`, password removed) when the
 * database cannot be read. Never throws: what the client prints around it says which it was.
 */
async function readStoredCursor(cfg: Config, chainId: number): Promise<{ cursor: Cursor | null } | { error: string }> {
  const db = connectDatabase(cfg.databaseUrl);
  try {
    return { cursor: await readCursor(db, chainId) };
  } catch (err) {
    if (hasCode(err, '42P01')) return { cursor: null }; // undefined_table: not migrated yet
    return { error: `DATABASE_URL: cannot read the cursor of chain ${chainId} from ${cfg.databaseLabel}: ${failureText(err)}` };
  } finally {
    await db.destroy();
  }
}

/** `word` as one shell word: as it is when it needs no quoting, else in single quotes. Pure. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/**
 * The command that re-stores what a verify found different (null when nothing): a backfill of the
 * blocks its listed differences name (`block N: …`), or of the whole verified range when some were
 * not listed. The sync's gap check re-indexes missing blocks by itself, not rows missing from a
 * stored block, nor a stored block that differs. Pure.
 * @example restoreHint({ chainId: 1, from: 0, to: 9, differenceCount: 2, differences: ['block 4: missing in the database', 'block 9: 0 logs in the database, 1 on the chain'] }, 'npx tsx src/client.ts')
 *   // 'to re-store them: npx tsx src/client.ts backfill --chain-id 1 --from 4 --to 9'
 */
export function restoreHint(report: Pick<VerifyReport, 'chainId' | 'from' | 'to' | 'differenceCount' | 'differences'>, invocation: string): string | null {
  if (report.differenceCount === 0) return null;
  const blocks = report.differences.map((line) => /^block ([\d,]+):/.exec(line)?.[1]).map((n) => (n === undefined ? NaN : Number(n.replaceAll(',', ''))));
  const listed = report.differenceCount === report.differences.length && blocks.every((n) => Number.isSafeInteger(n));
  const [from, to] = listed ? [Math.min(...blocks), Math.max(...blocks)] : [report.from, report.to];
  return `to re-store them: ${invocation} backfill --chain-id ${report.chainId} --from ${from} --to ${to}`;
}

/** How long `stop` waits for the cancelled sync to end before it says it is still stopping, in ms. */
const STOP_WAIT_MS = 15_000;

/** How long `start` waits for the endpoints to say their chain id and the stored cursor's block, in ms; past that it says nothing of them. */
const CANONICAL_HASH_TIMEOUT_MS = 5_000;

/**
 * What chain `chain`'s endpoints (as the client resolves them) serve, each asked on its own in one
 * JSON-RPC batch (`eth_chainId`, EIP-695; with `blockNumber`, `eth_getBlockByNumber`, the JSON-RPC
 * spec), as the worker checks them: `wrong`, the endpoints that serve another chain (redacted label
 * and chain id in decimal), listed only when none serves `chain` (the worker drops such endpoints
 * and goes on with the others); `hash`, from the first endpoint that serves the chain, the hash of
 * block `blockNumber` (lower-case), `null` when it has no such block (a shorter chain, or a node
 * behind), undefined when none can say. An endpoint that cannot be called (a CHAINS_FILE `${VAR}`
 * the client does not resolve), does not answer within CANONICAL_HASH_TIMEOUT_MS, or answers off
 * the spec counts for nothing. Never throws.
 */
async function probeEndpoints(chain: ChainConfig, blockNumber: number | null): Promise<{ wrong: { label: string; chainId: string }[]; hash?: string | null }> {
  const usable = chain.rpcUrls.map((url, i) => ({ url, label: chain.rpcLabels[i]! })).filter(({ url }) => url !== '' && !url.includes('${'));
  const asksBlock = blockNumber !== null && blockNumber >= 0;
  const answers = await Promise.all(usable.map(async ({ url, label }): Promise<{ label: string; chainId?: string; hash?: string | null }> => {
    try {
      const outcomes = await postBatch(
        { url, label },
        [{ method: 'eth_chainId', params: [] }, ...(asksBlock ? [{ method: 'eth_getBlockByNumber', params: [`0x${blockNumber.toString(16)}`, false] }] : [])],
        { timeoutMs: CANONICAL_HASH_TIMEOUT_MS },
      );
      const chainId = String(servedChainId(unwrap(outcomes[0]!, label, 'eth_chainId'), label));
      if (chainId !== String(chain.chainId) || !asksBlock) return { label, chainId };
      const block = unwrap(outcomes[1]!, label, `eth_getBlockByNumber(${blockNumber})`) as { hash?: unknown } | null;
      if (block === null) return { label, chainId, hash: null };
      return typeof block?.hash === 'string' && /^0x[0-9a-f]{64}$/i.test(block.hash) ? { label, chainId, hash: block.hash.toLowerCase() } : { label, chainId };
    } catch {
      return { label };
    }
  }));
  const serving = answers.filter((a) => a.chainId === String(chain.chainId));
  const wrong = serving.length > 0 ? [] : answers.filter((a): a is { label: string; chainId: string } => a.chainId !== undefined);
  return { wrong, hash: serving.find((a) => a.hash !== undefined)?.hash };
}

/**
 * Connects to `DATABASE_URL`, runs `use` and disconnects. A failure that came from Postgres or the
 * connection to it (see {@link isDatabaseFailure}) becomes one line naming the variable:
 * `DATABASE_URL: cannot <what>: <reason>`, where `what` names the database by `cfg.databaseLabel`
 * (password removed). Anything else (a CliError, a file-system error) passes unchanged.
 * @throws CliError for a database failure; whatever `use` throws otherwise.
 * @example await withDatabase(cfg, `read block 5 of chain 1 from ${cfg.databaseLabel}`, (db) => exportBlock(db, 1, 5))
 */
async function withDatabase<T>(cfg: Config, what: string, use: (db: ReturnType<typeof connectDatabase>) => Promise<T>): Promise<T> {
  const db = connectDatabase(cfg.databaseUrl);
  try {
    return await use(db);
  } catch (err) {
    if (err instanceof CliError || !isDatabaseFailure(err)) throw err;
    throw new CliError(`DATABASE_URL: cannot ${what}: ${failureText(err)}`, { cause: err });
  } finally {
    await db.destroy();
  }
}

/**
 * Refuses the first of `bounds` (block numbers the command was given) above `cursor` (the stored
 * cursor's block number), as `gaps` and `verify` do; `why` says what the command looks at.
 * @throws CliError `<bound> <n> is above the cursor <c>: <why>`.
 */
function refuseAboveCursor(bounds: readonly BlockBound[], cursor: number, why: string): void {
  const problem = aboveCursorProblem(bounds, cursor, why);
  if (problem !== null) throw new CliError(problem);
}

/**
 * The head (block number) that chain `chainId`'s running sync last read, from its progress query;
 * null when no sync runs, it has not read the head yet, or it does not answer within
 * SYNC_QUERY_TIMEOUT_MS (no worker). Never throws.
 */
async function runningSyncHead(client: Client, chainId: number): Promise<number | null> {
  const handle = client.workflow.getHandle(chainSyncWorkflowId(chainId));
  try {
    if ((await handle.describe()).status.name !== 'RUNNING') return null;
    const progress = await client.connection.withDeadline(Date.now() + SYNC_QUERY_TIMEOUT_MS, () => handle.query(syncProgressQuery));
    return progress.head;
  } catch {
    return null;
  }
}

/**
 * While the client waits for a workflow that goes on without it: until the returned function is
 * called, Ctrl-C (SIGINT) prints the line `notice()` returns on stderr (the workflow keeps running;
 * how to cancel it) and exits with code 130 (EXIT_INTERRUPTED) instead of dying silently.
 * @example const release = exitOnInterrupt(() => keepsRunningNotice('verify', id, endCommand(cfg, id))); try { await handle.result(); } finally { release(); }
 */
function exitOnInterrupt(notice: () => string): () => void {
  const onInterrupt = () => {
    console.error(notice());
    process.exit(EXIT_INTERRUPTED);
  };
  process.once('SIGINT', onInterrupt);
  return () => process.off('SIGINT', onInterrupt);
}

/**
 * The `temporal` command that cancels workflow `workflowId` on the client's server (see
 * {@link temporalCommand}), or terminates it when `terminate` (no worker polls its task queue, so
 * a cancel would wait for one).
 */
function endCommand(cfg: Config, workflowId: string, terminate = false): string {
  const args = terminate ? `workflow terminate --workflow-id ${workflowId} --reason interrupted` : `workflow cancel --workflow-id ${workflowId}`;
  return temporalCommand(temporalBinary(process.cwd()), { address: cfg.temporalAddress, namespace: cfg.temporalNamespace }, args);
}

/**
 * The warning that no worker polls `taskQueue`, when Temporal says so ({@link describeWorkers});
 * `waits` says what waits for one; `chainsFile`: the client reads a CHAINS_FILE (the hint names
 * it, {@link noWorkerText}). Null when a worker polls it or the server cannot tell.
 */
async function withoutWorkerWarning(client: Client, taskQueue: string, waits: string, chainsFile: boolean, moved?: MovedQueue): Promise<string | null> {
  const workers = await describeWorkers(client, taskQueue);
  return noWorker(workers) ? `warning: ${noWorkerText(taskQueue, workers!, waits, chainsFile, moved)}` : null;
}

/** Prints {@link withoutWorkerWarning}'s warning on stderr, if there is one. */
async function warnWithoutWorker(client: Client, taskQueue: string, waits: string, chainsFile: boolean, moved?: MovedQueue): Promise<void> {
  const warning = await withoutWorkerWarning(client, taskQueue, waits, chainsFile, moved);
  if (warning !== null) console.error(warning);
}

/**
 * The line for a running sync that gave no answer to its progress query (`err`) although Temporal
 * lists a poller of its task queue (or cannot tell): no answer within `timeoutMs` (a deadline, or the call cancelled by the server as it came), or the server's
 * refusal because no worker polled the queue lately ({@link isNoPollerError}: a worker that died
 * without shutting down, still listed for minutes). Null for any other error. Pure.
 */
function unansweredText(taskQueue: string, workers: TaskQueueWorkers | null, timeoutMs: number, err: unknown): string | null {
  const last = workers?.lastPollAgoMs;
  const seen = last === undefined || last === null ? '' : ` (task queue ${taskQueue} last polled ${Math.round(last / 1000)} s ago)`;
  if (isNoPollerError(err)) {
    return `no answer to its progress query: Temporal has seen no worker poll task queue ${taskQueue} lately${seen}: its worker stopped or lost Temporal; see scripts/stack status and the worker's log`;
  }
  // CANCELLED: the server gave up on the query as its deadline came (seen beside a worker killed without shutting down).
  if (!isGrpcDeadlineError(err) && !isGrpcCancelledError(err)) return null;
  return `no answer to its progress query within ${timeoutMs / 1000} s${seen}: its worker stopped, or is too busy to run a workflow task; see scripts/stack status and the worker's log`;
}

/** Whether `err` or one of its causes has `code` (a SQLSTATE or a node error code). */
function hasCode(err: unknown, code: string): boolean {
  return causeChain(err).some((e) => typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code);
}

/** How the client shows a stored cursor it read with {@link readStoredCursor}. */
function storedCursorText(stored: Awaited<ReturnType<typeof readStoredCursor>>): string {
  if ('error' in stored) return `unknown (${stored.error})`;
  return formatCountOr(stored.cursor?.blockNumber, 'none');
}

/**
 * Runs `act` on the handle of chain `chainId`'s sync (`chain-sync:<chainId>`) over a new Temporal
 * connection, closed afterwards. `invocation` is how the client runs, for the hint.
 * @throws CliError `sync <id> is not running; start it with: …` when Temporal does not know the
 *   workflow, or it ended (a signal to it is refused).
 */
async function withSync(cfg: Config, chainId: number, invocation: string, act: (handle: WorkflowHandle, client: Client) => Promise<void>): Promise<void> {
  const workflowId = chainSyncWorkflowId(chainId);
  const { client, close } = await connectClient(cfg);
  try {
    await act(client.workflow.getHandle(workflowId), client);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new CliError(`sync ${workflowId} is not running; start it with: ${invocation} start --chain-id ${chainId}`);
    throw err;
  } finally {
    await close();
  }
}

/**
 * The input run `runId` of workflow `workflowId` started with (its first history event, one page of
 * one event; a continued run's is what it carried over); {} when the server cannot say.
 */
async function runningInput(client: Client, cfg: Config, workflowId: string, runId: string): Promise<Partial<ChainSyncInput>> {
  try {
    const { history } = await client.workflowService.getWorkflowExecutionHistory({ namespace: cfg.temporalNamespace, execution: { workflowId, runId }, maximumPageSize: 1 });
    const payload = history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    return payload ? (defaultPayloadConverter.fromPayload<Partial<ChainSyncInput>>(payload) ?? {}) : {};
  } catch {
    return {};
  }
}

/**
 * The start block (block number) of chain `chainId`'s running sync, from the input its current run
 * started with; null when no sync of the chain runs, or Temporal cannot be reached or say (then
 * `gaps` takes START_BLOCK, as without a sync). Never throws.
 */
async function runningSyncStartBlock(cfg: Config, chainId: number): Promise<number | null> {
  try {
    const { client, close } = await connectClient(cfg);
    try {
      const workflowId = chainSyncWorkflowId(chainId);
      const running = await describeRunning(client, workflowId);
      const start = running === null ? undefined : (await runningInput(client, cfg, workflowId, running.runId)).startBlock;
      return typeof start === 'number' ? start : null;
    } finally {
      await close();
    }
  } catch {
    return null;
  }
}

/** The run id and task queue of workflow `workflowId` when it runs; null when it does not (or Temporal does not know it). */
async function describeRunning(client: Client, workflowId: string): Promise<{ runId: string; taskQueue: string } | null> {
  try {
    const description = await client.workflow.getHandle(workflowId).describe();
    return description.status.name === 'RUNNING' ? { runId: description.runId, taskQueue: description.taskQueue } : null;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}

/**
 * What `status` prints for one chain's sync `workflowId`: for a running sync, head, target, cursor,
 * lag (blocks) and rate from its progress query; otherwise its state, why it failed, the stored
 * cursor, and the command that starts it (`invocation` is how the client runs, see {@link clientInvocation}).
 * `described`: the workflow's description when the caller read it already (not read again, so a
 * run deleted in between is not reported as never started).
 */
async function renderStatus(handle: WorkflowHandle, workflowId: string, cfg: Config, invocation: string, movedOf: (runningQueue: string) => MovedQueue | undefined, described?: WorkflowExecutionDescription): Promise<string> {
  let state: string;
  let taskQueue = '';
  let pending: PendingActivity[] = [];
  try {
    const description = described ?? await handle.describe();
    state = description.status.name;
    taskQueue = description.taskQueue;
    pending = description.raw.pendingActivities ?? [];
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    state = 'NOT STARTED';
  }
  if (state !== 'RUNNING') {
    const chainId = Number(workflowId.split(':')[1]);
    const stored = await readStoredCursor(cfg, chainId);
    const why = state === 'FAILED' ? await failureOf(handle) : null;
    // A sync that ended by itself (failed, timed out) is unhealthy: exit 1, as for one that cannot answer. Stopped, or never started: 0.
    if (state === 'FAILED' || state === 'TIMED_OUT') process.exitCode = 1;
    const start = why === null ? 'start it with' : 'start it again, once the cause is fixed, with';
    return `${workflowId}: ${state.toLowerCase()}${why === null ? '' : ` (${why})`}; stored cursor ${storedCursorText(stored)}; ${start}: ${invocation} start --chain-id ${chainId}`;
  }
  const workers = await describeWorkers(handle.client, taskQueue);
  if (noWorker(workers)) {
    const stored = await readStoredCursor(cfg, Number(workflowId.split(':')[1]));
    throw new CliError(`${workflowId} is running, stored cursor ${storedCursorText(stored)}; ${noWorkerText(taskQueue, workers!, 'the sync does not move or answer', cfg.chainsFile !== undefined, movedOf(taskQueue))}`);
  }
  let p: SyncProgress;
  try {
    p = await handle.client.connection.withDeadline(Date.now() + STATUS_QUERY_TIMEOUT_MS, () => handle.query(syncProgressQuery));
  } catch (err) {
    const unanswered = unansweredText(taskQueue, workers, STATUS_QUERY_TIMEOUT_MS, err);
    if (unanswered === null) throw err;
    throw new CliError(`${workflowId} is running; ${unanswered}`, { cause: err });
  }
  const targetNote = p.finality === 'depth' ? `head − ${p.confirmationDepth} confirmation depth` : `'${p.finality}' tag`;
  // An endpoint outage or Postgres down: the sync's own state does not show that nothing moves.
  const retrying = retryingNote(pending);
  return [
    `${workflowId}: running (${p.paused ? 'paused' : p.status}${retrying === '' ? '' : `; ${retrying}, below`})`,
    `  head      ${formatBlockOr(p.head, NO_NUMBER)}${p.headReadAtMs === null ? '' : ` (read ${Math.max(0, Math.round((Date.now() - p.headReadAtMs) / 1000))} s ago)`}`,
    `  target    ${formatBlockOr(p.target, NO_NUMBER)} (${targetNote}${p.target !== null && p.target < 0 ? ': no block is confirmed yet' : ''})`,
    `  cursor    ${formatBlockOr(p.cursor, NO_NUMBER)}${p.cursorHash ? ` ${p.cursorHash}` : ''}${p.cursor !== null && p.target !== null && p.target >= 0 && p.cursor > p.target ? ' (above the target: stored under a setting that confirmed blocks sooner; the sync waits until the target passes it, and keeps those blocks)' : ''}`,
    `  lag       ${formatCountOr(p.lagBlocks, NO_NUMBER)} blocks behind the head${p.lagBlocks !== null && p.lagBlocks < 0 ? ' (the endpoints\' head is below the stored cursor: an endpoint behind, or a chain that got shorter; the sync waits, and rolls back only stored blocks they serve with another hash)' : p.paused && p.lagBlocks !== null ? ', or more: a paused sync does not read the head' : ''}`,
    `  rate      ${p.blocksPerSecond} blocks/s, ${plural(p.inFlightBatches, 'batch', 'batches')} in flight, ${plural(p.reorgs, 'reorg', 'reorgs')} handled, ${plural(p.gapsRepaired, 'gap', 'gaps')} repaired`,
    // Activities failing and retried (endpoints down, Postgres down): the progress above only shows that nothing moves.
    ...retryingLines(pending, Date.now()),
  ].join('\n');
}

/**
 * Why the last run of `handle`'s workflow failed: the failure (and its causes) of its
 * `WorkflowExecutionFailed` event, read from the end of its history; null when it cannot be read.
 */
async function failureOf(handle: WorkflowHandle): Promise<string | null> {
  try {
    const { history } = await handle.client.workflowService.getWorkflowExecutionHistoryReverse({
      namespace: handle.client.options.namespace, execution: { workflowId: handle.workflowId }, maximumPageSize: 1,
    });
    const failure = history?.events?.[0]?.workflowExecutionFailedEventAttributes?.failure;
    // The SDK's own conversion (ActivityFailure, ApplicationFailure…), then the same line as any client error.
    return failure ? failureText(defaultFailureConverter.failureToError(failure, defaultPayloadConverter)) : null;
  } catch {
    return null;
  }
}

/** `n` and the noun for it: `1 batch`, `2 batches`, `0 batches`. Pure. */
function plural(n: number, one: string, many: string): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/** Runs the CLI with `argv`; prints failures as one line and sets the exit code. */
export async function main(argv: readonly string[] = process.argv): Promise<void> {
  try {
    await createProgram().parseAsync([...argv]);
  } catch (err) {
    if (err instanceof ConfigError) for (const p of err.problems) console.error(`config error: ${p}`);
    else if (err instanceof CliError) console.error(`error: ${err.message}`);
    else console.error(`error: ${failureText(err)}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) void main();
