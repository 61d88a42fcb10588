/**
 * The worker process: parses config, migrates the database, checks every endpoint's chain id,
 * then serves the task queue (workflows and activities) until SIGINT/SIGTERM, when in-flight
 * activities get `SHUTDOWN_GRACE` to finish (an unfinished batch is retried elsewhere; its
 * transaction never half-commits). Any number of workers may serve one queue.
 *
 * Env: see `src/config/parse.ts` (RPC_URL and CHAIN_ID are required here), or `CHAINS_FILE` (see
 * `src/config/chains.ts`) to serve several chains, each on its own task queue.
 * With `METRICS_PORT` set, serves `/metrics` (this project's metrics followed by the Temporal SDK's,
 * whose own exporter listens on a free 127.0.0.1 port and is merged in), `/healthz` and `/readyz`
 * (Postgres answers `select 1`, Temporal answers `GetSystemInfo`, every chain's worker is running).
 * Exit codes: 0 after a graceful shutdown, 1 on bad config or an unreachable dependency, printed
 * as one line naming the variable (secrets redacted).
 */
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Context } from '@temporalio/activity';
import { Connection, isGrpcServiceError } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Runtime, Worker, type LogLevel, type LogMetadata, type WorkflowBundle } from '@temporalio/worker';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { chainFromEnv, loadChainsFile, selectChains, type ChainConfig } from './config/chains.js';
import { misspelledSettings } from './config/misspelled.js';
import { assertWorkerConfig, parseConfig, type Config } from './config/parse.js';
import { connectDatabase, migrateToLatest, recordPartitionSize, type Database } from './db/index.js';
import { createDecodePool } from './decode/pool.js';
import { loadNativeTranscoder, setNativeTranscoder } from './decode/native.js';
import { createActivities, type Activities } from './activities/index.js';
import { ConfigError, ChainMismatchError } from './errors.js';
import { createLogger, temporalLogChainId, type Logger } from './log.js';
import { createMetrics, createReadiness, startMetricsServer, type Metrics, type MetricsServer } from './metrics/index.js';
import { checkChainIds, createRpcPool, redactUrls, setHttpClient, type RpcPool } from './rpc/index.js';

/** Time in-flight activities get to finish after SIGTERM; keep below Kubernetes' termination grace. */
const SHUTDOWN_GRACE = '30 seconds';

/** A start-up failure that is printed as one line and exits 1. */
class StartupError extends Error {}

/**
 * Starts a worker and resolves when it has shut down. With `CHAINS_FILE` it serves every chain of
 * the file (only `CHAIN_ID` when set): per chain its own RPC pool, activities and Temporal worker
 * on the chain's task queue, all sharing one Temporal connection, one Postgres pool and one
 * workflow bundle; they run together and stop together (SIGTERM, or one of them failing).
 * @throws ConfigError, ChainMismatchError or StartupError before serving anything.
 */
export async function runWorker(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = parseConfig(env);
  const chains = workerChains(config, env);
  const multiChain = config.chainsFile !== undefined;
  const prebuiltBundle = config.workflowBundlePath === undefined ? undefined : readWorkflowBundle(config.workflowBundlePath);
  const log = createLogger({ level: config.logLevel, base: { instanceId: config.instanceId, ...(multiChain ? {} : { chainId: chains[0]!.chainId }) }, mixin: activityLogFields });
  for (const { name, near, warning } of misspelledSettings(env)) log.warn({ variable: name, didYouMean: near, warning }, 'misspelled-setting');
  // Refused here when `on` and not built (said once the checks passed); the decode threads load it as the pool tells them.
  const transcoder = loadNativeTranscoder(config.nativeTranscoder);
  setNativeTranscoder(transcoder);
  setHttpClient(config.rpcHttpClient);
  const coreMetricsPort = config.metricsPort === null ? null : await freeLocalPort();
  // A worker of several chains has no chainId in its logger's base: Temporal's lines get theirs from their workflow or task queue.
  installTemporalRuntime(log, coreMetricsPort, multiChain ? new Map(chains.map((c) => [c.taskQueue, c.chainId])) : null);
  const startup = stopOnSignalDuringStartup(log);
  const metrics = config.metricsPort === null ? null : createMetrics({ chainIds: chains.map((c) => c.chainId), finality: config.finality, confirmationDepth: config.confirmationDepth });

  const db = connectDatabase(config.databaseUrl);
  try {
    // Check every dependency before saying anything, so a bad one is reported as one line.
    const checked = await Promise.all(chains.map((chain) => checkEndpoints(chain, { multiChain, log })));
    const applied = await migrateToLatest(db, { partitionSize: config.partitionSize }).catch((err: unknown) => {
      throw new StartupError(`DATABASE_URL: cannot migrate ${config.databaseLabel}: ${describe(err)}`);
    });
    for (const chain of chains) {
      const inForce = await recordPartitionSize(db, chain.chainId, chain.partitionSize).catch((err: unknown) => {
        throw new StartupError(`DATABASE_URL: cannot record the partition size of chain ${chain.chainId} in ${config.databaseLabel}: ${describe(err)}`);
      });
      if (inForce !== chain.partitionSize) log.warn({ chainId: chain.chainId, partitionSize: chain.partitionSize, partitionSizeInForce: inForce }, 'partition-size-differs');
    }
    const served = chains.map((chain, i) => createChainPool(chain, checked[i]!, { log: multiChain ? log.child({ chainId: chain.chainId }) : log, metrics }));
    // One set of decode threads for every chain of this worker, unless none would use them (VERIFY_ROOTS decodes on the main thread).
    const decodePool = config.decodeThreads === 0 || chains.every((c) => c.verifyRoots) ? null : createDecodePool(config.decodeThreads ?? undefined, log, config.nativeTranscoder, config.rpcHttpClient);
    log.info({ transcoder: transcoder.transcode ? 'native' : 'javascript', why: transcoder.why }, 'decode-transcoder');

    try {
      const connection = await NativeConnection.connect({ address: config.temporalAddress }).catch((err: unknown) => {
        throw new StartupError(`TEMPORAL_ADDRESS: cannot reach Temporal at ${config.temporalAddress}: ${describe(err)}`);
      });
      // The health server is bound before any Temporal worker exists: a worker holds the connection
      // until it has run, so a METRICS_PORT in use found after them ended in "Cannot close connection
      // while Workers hold a reference to it" instead of naming the port.
      const workers: Worker[] = [];
      let closeQuietly = true;
      try {
        const server = metrics && config.metricsPort !== null
          ? await startHealthServer({ port: config.metricsPort, metrics, coreMetricsPort, db, connection, workers, log })
          : null;
        try {
          // One bundle for every chain's worker: the workflow code is the same, and each bundle costs memory.
          // A bundle built ahead (the Docker image's) saves webpack's time and memory at every start.
          const workflowBundle = prebuiltBundle ?? await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: Runtime.instance().logger });
          workers.push(...await Promise.all(served.map(({ chain, pool, log: chainLog }) =>
            startupFailure(createIndexerWorker({
              connection,
              namespace: config.temporalNamespace,
              taskQueue: chain.taskQueue,
              activities: createActivities({
                db, pool, chainId: chain.chainId, log: chainLog, verifyRoots: chain.verifyRoots, fetchBufferBytes: config.fetchBufferBytes, rpcBatchCalls: chain.rpcBatchCalls, decodePool,
                ...(metrics ? { observer: metrics.activities } : {}),
              }),
              maxConcurrentActivities: chain.maxConcurrentActivities,
              identity: config.instanceId,
              workflowBundle,
            }), config.temporalNamespace, config.temporalAddress))));
          for (const { chain, pool, log: chainLog } of served) {
            // chainLog's own fields carry chainId (the logger's base with one chain, a child per chain with a file): not again here.
            chainLog.info({ taskQueue: chain.taskQueue, namespace: config.temporalNamespace, temporal: config.temporalAddress, endpoints: pool.labels, database: config.databaseLabel, migrationsApplied: applied }, 'worker-started');
          }
          startup.done(); // from here the Temporal runtime's handlers drain the running workers
          await runTogether(workers);
        } finally {
          await server?.close();
        }
        log.info('worker-stopped');
        closeQuietly = false;
      } finally {
        // After a failure, Temporal workers created but never run still hold the connection: closing
        // it throws, and that must not replace the failure being reported.
        await connection.close().catch((err: unknown) => {
          if (!closeQuietly) throw err;
        });
      }
    } finally {
      for (const { pool } of served) pool.close();
      await decodePool?.close();
    }
  } finally {
    startup.done(); // a failed start-up ends with its own error (exit 1), not a signal's exit 0
    await db.destroy();
  }
}

/**
 * `worker --check`: the checks the worker makes before it serves, without serving: the settings
 * (environment variables and the chains file), the native transcoder when `NATIVE_TRANSCODER=on`,
 * the prebuilt workflow bundle when `WORKFLOW_BUNDLE` is set, each chain's endpoints, asked
 * `eth_chainId` (JSON-RPC, EIP-695), Postgres at `DATABASE_URL` (a connection and `select 1`,
 * within {@link CHECK_TIMEOUT_MS}) and Temporal at `TEMPORAL_ADDRESS` (its namespace described,
 * within the same time). It writes nothing anywhere. `scripts/start` runs it before it stops a
 * running worker to apply new settings, so a typo or an endpoint that does not serve the chain
 * leaves the running worker indexing.
 * @returns one line per chain: its id, the endpoints that serve it and its task queue; a line each
 *   for Postgres and Temporal (and the bundle); then a `warning: …` line per variable that looks
 *   like a misspelled setting (`misspelledSettings`).
 * @throws ConfigError (each bad setting named), ChainMismatchError (no endpoint serves a chain,
 *   each endpoint's label and what it did), StartupError naming DATABASE_URL, TEMPORAL_ADDRESS,
 *   TEMPORAL_NAMESPACE or WORKFLOW_BUNDLE, or the native transcoder's Error.
 */
export async function checkWorkerSettings(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const config = parseConfig(env);
  const chains = workerChains(config, env);
  const multiChain = config.chainsFile !== undefined;
  loadNativeTranscoder(config.nativeTranscoder);
  if (config.workflowBundlePath !== undefined) readWorkflowBundle(config.workflowBundlePath);
  setHttpClient(config.rpcHttpClient);
  // Silent: what the checks find is in the lines returned (a log line on stdout would be one of them to scripts/start).
  const log = createLogger({ level: 'silent', base: { instanceId: config.instanceId, check: true } });
  // All at once, awaited in this order: the first failure in it is reported (the same line every
  // run, whoever answered first), without waiting for the later ones (a Temporal that refuses
  // connections is retried until CHECK_TIMEOUT_MS).
  const endpointsChecking = Promise.all(chains.map((chain) => checkEndpoints(chain, { multiChain, log })));
  const postgresChecking = checkPostgres(config);
  const temporalChecking = checkTemporal(config);
  for (const later of [postgresChecking, temporalChecking]) later.catch(() => undefined); // not unhandled when an earlier one fails
  const checked = await endpointsChecking;
  const postgres = await postgresChecking;
  const temporal = await temporalChecking;
  return [
    ...chains.map((chain, i) => {
      const { labels: served, unreachable } = checked[i]!;
      const shown = served.map((label) => (unreachable.has(label) ? `${label} unreachable now: ${unreachable.get(label)}` : label));
      return `chain ${chain.chainId}: ${served.length} of ${chain.rpcUrls.length} endpoint${chain.rpcUrls.length === 1 ? '' : 's'} kept (${shown.join(', ')}), task queue ${chain.taskQueue}`;
    }),
    postgres,
    temporal,
    ...(config.workflowBundlePath === undefined ? [] : [`workflow bundle: ${config.workflowBundlePath}`]),
    ...misspelledSettings(env).map(({ warning }) => `warning: ${warning}`),
  ];
}

/** gRPC status codes NOT_FOUND (what Temporal answers for an unknown namespace) and PERMISSION_DENIED (grpc/doc/statuscodes.md). */
const GRPC_NOT_FOUND = 5;
const GRPC_PERMISSION_DENIED = 7;

/** How long `worker --check` waits for Postgres and for Temporal, each, in ms. */
export const CHECK_TIMEOUT_MS = 10_000;

/**
 * Connects to `config.databaseUrl` and runs `select 1` within {@link CHECK_TIMEOUT_MS}.
 * @returns `postgres: <url without password> answers (PostgreSQL <version>)`.
 * @throws StartupError naming DATABASE_URL (its password never shown) when it does not answer.
 */
async function checkPostgres(config: Config): Promise<string> {
  const client = new pg.Client({ connectionString: config.databaseUrl, connectionTimeoutMillis: CHECK_TIMEOUT_MS, query_timeout: CHECK_TIMEOUT_MS });
  client.on('error', () => undefined); // a connection lost after the check: nothing to do
  try {
    await client.connect();
    const { rows } = await client.query<{ version: string }>('select current_setting(\'server_version\') as version');
    return `postgres: ${config.databaseLabel} answers (PostgreSQL ${rows[0]!.version})`;
  } catch (err) {
    throw new StartupError(`DATABASE_URL: cannot reach ${config.databaseLabel}: ${describe(err)}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Connects to Temporal at `config.temporalAddress` and describes `config.temporalNamespace`,
 * each within {@link CHECK_TIMEOUT_MS}.
 * @returns `temporal: namespace default at 127.0.0.1:7233`.
 * @throws StartupError naming TEMPORAL_ADDRESS when Temporal does not answer, TEMPORAL_NAMESPACE when the namespace does not exist.
 */
async function checkTemporal(config: Config): Promise<string> {
  const connection = await Connection.connect({ address: config.temporalAddress, connectTimeout: CHECK_TIMEOUT_MS }).catch((err: unknown) => {
    throw new StartupError(`TEMPORAL_ADDRESS: cannot reach Temporal at ${config.temporalAddress}: ${describe(err)}`);
  });
  try {
    const described = await connection.withDeadline(Date.now() + CHECK_TIMEOUT_MS, () => connection.workflowService.describeNamespace({ namespace: config.temporalNamespace })).then(() => true, (err: unknown) => {
      // With authorization on, a worker's credentials may serve the namespace without describing it.
      if (isGrpcServiceError(err) && err.code === GRPC_PERMISSION_DENIED) return false;
      if (isGrpcServiceError(err) && err.code === GRPC_NOT_FOUND) {
        throw new StartupError(`TEMPORAL_NAMESPACE: namespace ${config.temporalNamespace} does not exist at ${config.temporalAddress}; create it (temporal operator namespace create --namespace ${config.temporalNamespace}) or set TEMPORAL_NAMESPACE`);
      }
      throw new StartupError(`TEMPORAL_ADDRESS: Temporal at ${config.temporalAddress} did not describe namespace ${config.temporalNamespace}: ${describe(err)}`);
    });
    return `temporal: namespace ${config.temporalNamespace} at ${config.temporalAddress}${described ? '' : ' (answers; the namespace not described: permission denied)'}`;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/**
 * The endpoints of `chain` that `checkChainIds` keeps (those serving its chain id by JSON-RPC
 * `eth_chainId`, and those that did not answer); with a chains file the error names the chain.
 * @throws ChainMismatchError when no endpoint serves the chain (not retried: the process exits 1).
 */
async function checkEndpoints(chain: ChainConfig, options: { multiChain: boolean; log: Logger }): Promise<Awaited<ReturnType<typeof checkChainIds>>> {
  return checkChainIds({ urls: chain.rpcUrls, chainId: chain.chainId, timeoutMs: chain.rpcTimeoutMs, log: options.log }).catch((err: unknown) => {
    throw options.multiChain && err instanceof ChainMismatchError ? new ChainMismatchError(`CHAINS_FILE chain ${chain.chainId}: ${err.message}`, { cause: err }) : err;
  });
}

/**
 * The RPC pool of `chain` over the endpoints that passed the chain id check (`endpoints`), observed
 * by `metrics` when they are on, with the logger of the chain's lines (`log`).
 */
function createChainPool(
  chain: ChainConfig,
  endpoints: { urls: readonly string[]; labels: readonly string[] },
  options: { log: Logger; metrics: Metrics | null },
): { chain: ChainConfig; pool: RpcPool; log: Logger } {
  const { log, metrics } = options;
  const pool = createRpcPool({
    urls: endpoints.urls, labels: endpoints.labels, timeoutMs: chain.rpcTimeoutMs, log, chainId: chain.chainId, maxBatchCalls: chain.rpcBatchCalls,
    ...(metrics ? { observer: metrics.rpcObserver(chain.chainId) } : {}),
  });
  metrics?.watchPool(chain.chainId, pool);
  return { chain, pool, log };
}

/**
 * Starts the metrics and health HTTP server on `port`: `/metrics` (`metrics`, then the Temporal
 * Core exporter's on 127.0.0.1:`coreMetricsPort`), `/healthz`, and `/readyz`, ready when Postgres
 * answers `select 1`, Temporal answers `GetSystemInfo` and every one of `workers` is RUNNING
 * (`workers` is read at each check: started before the workers exist, it is not ready until they do).
 * Logs `metrics-server-started`.
 * @throws StartupError when it cannot listen on `port` (not retried: the process exits 1).
 */
async function startHealthServer(options: {
  port: number;
  metrics: Metrics;
  coreMetricsPort: number | null;
  db: Kysely<Database>;
  connection: NativeConnection;
  workers: readonly Worker[];
  log: Logger;
}): Promise<MetricsServer> {
  const { port, metrics, db, connection, workers } = options;
  const readiness = createReadiness({
    postgres: async () => void (await sql`select 1`.execute(db)),
    temporal: async () => void (await connection.workflowService.getSystemInfo({})),
    worker: async () => {
      if (workers.length === 0) throw new Error('the Temporal workers are not created yet');
      const stopped = workers.find((w) => w.getState() !== 'RUNNING');
      if (stopped) throw new Error(`worker of task queue ${stopped.options.taskQueue} is ${stopped.getState()}`);
    },
  });
  const server = await startMetricsServer({
    port, render: metrics.render, contentType: metrics.contentType, readiness,
    coreMetricsUrl: `http://127.0.0.1:${options.coreMetricsPort}/metrics`,
  }).catch((err: unknown) => {
    throw new StartupError(`METRICS_PORT: cannot listen on port ${port}: ${describe(err)}`);
  });
  options.log.info({ metricsPort: server.port, paths: ['/metrics', '/healthz', '/readyz'] }, 'metrics-server-started');
  return server;
}

/**
 * The chains this worker serves: those of `CHAINS_FILE` (only `CHAIN_ID` when set), or the one
 * chain of `CHAIN_ID` + `RPC_URL`.
 * @throws ConfigError naming each missing or bad setting.
 */
function workerChains(config: Config, env: NodeJS.ProcessEnv): ChainConfig[] {
  const fromFile = loadChainsFile(config, env);
  if (fromFile) return selectChains(fromFile, config.chainId);
  assertWorkerConfig(config);
  return [chainFromEnv(config, config.chainId)];
}

/**
 * Runs `workers` until all have stopped; when one fails, the others are shut down (in-flight
 * activities get their grace time) and its error is thrown.
 */
async function runTogether(workers: readonly Worker[]): Promise<void> {
  const results = await Promise.allSettled(workers.map((worker) =>
    worker.run().catch((err: unknown) => {
      for (const other of workers) if (other.getState() === 'RUNNING') other.shutdown();
      throw err;
    })));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Creates a Temporal worker serving this project's workflows (bundled from src/workflows) and the
 * given activities on `taskQueue`. Used by the worker process and by the integration tests.
 */
export async function createIndexerWorker(options: {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: Activities;
  maxConcurrentActivities: number;
  identity?: string;
  /** A bundle made once by `bundleWorkflowCode` and shared by several workers; default: bundle src/workflows. */
  workflowBundle?: WorkflowBundle;
}): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    activities: options.activities,
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities,
    shutdownGraceTime: SHUTDOWN_GRACE,
    ...(options.identity ? { identity: options.identity } : {}),
  });
}

/**
 * The prebuilt workflow bundle at `path` (`WORKFLOW_BUNDLE`, written by `npm run build:workflows`).
 * @throws StartupError naming WORKFLOW_BUNDLE when the file is missing or unreadable, or is not a
 *   bundle (no inlined source map, which the Temporal SDK needs and `bundleWorkflowCode` writes).
 */
function readWorkflowBundle(path: string): WorkflowBundle {
  const rebuild = `build it with \`npm run build:workflows -- ${path}\` or unset WORKFLOW_BUNDLE`;
  let code: string;
  try {
    code = readFileSync(path, 'utf8');
  } catch (err) {
    throw new StartupError(`WORKFLOW_BUNDLE: cannot read the workflow bundle ${path} (${describe(err)}); ${rebuild}`);
  }
  if (!hasInlineSourceMap(code)) {
    throw new StartupError(`WORKFLOW_BUNDLE: ${path} is not a workflow bundle (no whole inlined source map: truncated, or not written by build:workflows); ${rebuild}`);
  }
  return { code };
}

/**
 * Whether `code` ends with the inlined source map the Temporal SDK reads from a bundle (its
 * `extractSourceMap`: the base64 after the last `//# sourceMappingURL=data:…base64,` is JSON). A
 * bundle cut short is mostly cut inside that map, which is larger than the code. Pure.
 */
function hasInlineSourceMap(code: string): boolean {
  const at = code.lastIndexOf('//# sourceMappingURL=data:');
  const base64 = at > 0 ? code.indexOf('base64,', at) : -1;
  if (base64 < 0) return false;
  try {
    JSON.parse(Buffer.from(code.slice(base64 + 'base64,'.length).trimEnd(), 'base64').toString());
    return true;
  } catch {
    return false;
  }
}

/**
 * `creating` (a Temporal worker being created), with a namespace Temporal does not know turned
 * into a StartupError naming TEMPORAL_NAMESPACE instead of the SDK's gRPC status dump.
 * @throws StartupError for an unknown namespace; any other error of `creating` as it is.
 */
async function startupFailure<T>(creating: Promise<T>, namespace: string, address: string): Promise<T> {
  try {
    return await creating;
  } catch (err) {
    if (err instanceof Error && /namespace .* (was not found|is not found|not found)/i.test(err.message)) {
      throw new StartupError(`TEMPORAL_NAMESPACE: namespace ${namespace} does not exist at ${address}; create it (temporal operator namespace create --namespace ${namespace}) or set TEMPORAL_NAMESPACE`, { cause: err });
    }
    throw err;
  }
}

/** Entry file of the workflow bundle: `workflows/index.ts` beside this file under tsx, `index.js` in the compiled build (`npm run build`). */
export const WORKFLOWS_PATH = fileURLToPath(new URL(`./workflows/index.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url));

/**
 * Installs the Temporal Core runtime once per process: its logs forwarded to `log` (WARN and up),
 * and, when `coreMetricsPort` is set, its Prometheus exporter on 127.0.0.1 with Prometheus
 * naming (`_total` counters, units in names, seconds), merged into our `/metrics`.
 */
function installTemporalRuntime(log: Logger, coreMetricsPort: number | null, chainOfQueue: ReadonlyMap<string, number> | null): void {
  const forward = (level: LogLevel, message: string, meta?: LogMetadata) => {
    if (message.startsWith('asset workflow-bundle')) level = 'DEBUG'; // webpack's statistics: noise at info
    const method = level === 'TRACE' ? 'trace' : level === 'DEBUG' ? 'debug' : level === 'INFO' ? 'info' : level === 'WARN' ? 'warn' : 'error';
    const { error, ...rest } = (meta ?? {}) as LogMetadata & { error?: unknown };
    const chainId = chainOfQueue === null ? null : temporalLogChainId(rest, chainOfQueue);
    log[method]({ ...(chainId === null ? {} : { chainId }), temporal: rest, ...(error === undefined ? {} : { err: error }) }, message);
  };
  Runtime.install({
    telemetryOptions: {
      logging: { filter: { core: 'WARN', other: 'WARN' }, forward: {} },
      ...(coreMetricsPort === null ? {} : {
        metrics: { prometheus: { bindAddress: `127.0.0.1:${coreMetricsPort}`, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true } },
      }),
    },
    logger: {
      log: forward,
      trace: (m, meta) => forward('TRACE', m, meta),
      debug: (m, meta) => forward('DEBUG', m, meta),
      info: (m, meta) => forward('INFO', m, meta),
      warn: (m, meta) => forward('WARN', m, meta),
      error: (m, meta) => forward('ERROR', m, meta),
    },
  });
}

/**
 * Fields of the activity a log line is written in (the calling workflow's id, the activity type and
 * attempt), or none outside activities. Read from Temporal's activity context (AsyncLocalStorage).
 */
function activityLogFields(): Record<string, unknown> {
  let info: Context['info'];
  try {
    info = Context.current().info;
  } catch {
    return {}; // not inside an activity
  }
  return { workflowId: info.workflowExecution?.workflowId, activity: info.activityType, attempt: info.attempt };
}

/** A TCP port on 127.0.0.1 that is free now (the OS picks it; released before it is returned). */
async function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function describe(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  if (/tcp connect error|ConnectError/.test(text)) return /refused/i.test(text) ? 'connection refused' : 'cannot connect';
  if (err instanceof AggregateError && err.errors.length > 0) return describe(err.errors[0]);
  const code = (err as { code?: unknown })?.code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message || String(code);
}

function databasePassword(url: string | undefined): string | null {
  try {
    return url ? decodeURIComponent(new URL(url).password) || null : null;
  } catch {
    return null;
  }
}

/** Signals that stop the worker while it starts, as the Temporal runtime's do once its workers run. */
const STARTUP_STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Until `done()`, SIGINT or SIGTERM ends the process at once with exit code 0 and a
 * `startup-interrupted` log line. The Temporal runtime's own handlers only shut down workers that
 * run, so before that a signal was ignored while start-up went on (an endpoint check waiting up to
 * `RPC_TIMEOUT`, migrations, bundling) and the orchestrator's grace period ended in SIGKILL. Nothing
 * is half-done by exiting here: no batch runs yet, and a migration is one Postgres transaction,
 * rolled back when its connection drops.
 */
function stopOnSignalDuringStartup(log: Logger): { done(): void } {
  const stop = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'startup-interrupted');
    process.exit(0);
  };
  for (const signal of STARTUP_STOP_SIGNALS) process.on(signal, stop);
  return { done: () => { for (const signal of STARTUP_STOP_SIGNALS) process.off(signal, stop); } };
}

/** Prints a start-up failure as one line without secrets and sets exit code 1. */
export function reportFatal(err: unknown, secrets: readonly string[]): void {
  const lines = err instanceof ConfigError ? err.problems.map((p) => `config error: ${p}`)
    : err instanceof ChainMismatchError || err instanceof StartupError ? [`startup error: ${err.message}`]
    : [`fatal: ${err instanceof Error ? err.stack ?? err.message : String(err)}`];
  const password = databasePassword(process.env.DATABASE_URL);
  for (const line of lines) {
    const redacted = redactUrls(line, secrets);
    process.stderr.write(`${password ? redacted.split(`:${password}@`).join(':<redacted>@') : redacted}\n`);
  }
  process.exitCode = 1;
}

/** Every endpoint URL of `RPC_URL` and of the chains file (when it parses), to strip from a fatal message. */
function secretUrls(env: NodeJS.ProcessEnv): string[] {
  const fromEnv = (env.RPC_URL ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  try {
    return [...fromEnv, ...(loadChainsFile(parseConfig(env), env) ?? []).flatMap((chain) => chain.rpcUrls)];
  } catch {
    return fromEnv;
  }
}

/**
 * What `worker.js --help` prints: the worker takes no arguments, only environment variables.
 * @example WORKER_USAGE.startsWith('Usage: ') // true
 */
export const WORKER_USAGE = [
  'Usage: npx tsx src/worker.ts   (compiled: node dist/src/worker.js; npm run worker)',
  '',
  'Runs an EVM indexer worker: migrates the database, checks every endpoint\'s chain id, then',
  'serves the task queue (the chain syncs, backfills and verifies the client starts) until',
  'SIGINT or SIGTERM. Every setting is an environment variable (README, Configuration), the',
  'required ones being RPC_URL and CHAIN_ID (comma-separated JSON-RPC endpoints and their',
  'EIP-155 chain id), or CHAINS_FILE for several chains; the others have defaults',
  '(DATABASE_URL, TEMPORAL_ADDRESS, TASK_QUEUE, CONCURRENCY, ...).',
  '',
  'Options:',
  '  --check     check the settings, each endpoint\'s chain id (eth_chainId), Postgres',
  '              (select 1) and Temporal (its namespace), print a line for each and exit (0',
  '              when the worker would start, 1 when not, saying why); writes nothing',
  '  -h, --help  print this and exit',
  '',
  'Operate it with the client: npx tsx src/client.ts --help',
].join('\n');

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(WORKER_USAGE);
    process.exit(0);
  }
  if (args.length > 0 && !(args.length === 1 && args[0] === '--check')) {
    console.error(`error: the worker takes no arguments but --check (got ${args.join(' ')}); it reads environment variables (README, Configuration): npx tsx src/worker.ts --help`);
    process.exit(2);
  }
  const secrets = secretUrls(process.env);
  const run = args[0] === '--check'
    ? checkWorkerSettings().then((lines) => { for (const line of lines) console.log(redactUrls(line, secrets)); })
    : runWorker();
  // Exit explicitly: the Temporal runtime's native threads would otherwise keep the process alive.
  run.then(
    () => process.exit(0),
    (err: unknown) => {
      reportFatal(err, secrets);
      process.exit(1);
    },
  );
}

export type { Config };
