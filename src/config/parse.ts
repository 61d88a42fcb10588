import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { endpointLabel, endpointPhrase } from '../rpc/redact.js';

/**
 * The indexer's configuration, parsed once from the environment. Frozen.
 * Units: block numbers and block counts are plain numbers; `pollIntervalMs` and `rpcTimeoutMs` are ms.
 */
export type Config = Readonly<{
  /** JSON-RPC endpoint URLs from `RPC_URL` (comma-separated). Secret: print `rpcLabels` instead. */
  rpcUrls: readonly string[];
  /** `host#n` label of each endpoint, in the same order, safe to print. */
  rpcLabels: readonly string[];
  /** PostgreSQL connection string. Secret: print `databaseLabel` instead. */
  databaseUrl: string;
  databaseLabel: string;
  temporalAddress: string;
  temporalNamespace: string;
  taskQueue: string;
  /** EIP-155 chain id the endpoints must serve; null when unset (the worker requires it). */
  chainId: number | null;
  /** First block number the sync stores. */
  startBlock: number;
  /** Blocks per batch (one `indexRange` activity): of every batch when `batchRows` is 0, else of the first ones. */
  batchSize: number;
  /**
   * Rows (blocks + transactions + logs) a batch aims at once batches are stored (`BATCH_ROWS`):
   * later batches get as many blocks as hold about this many rows at the rows per block seen,
   * between 1 and `max(batchSize, min(10 × batchSize, 2,000))` (`createRangeSizer` in
   * src/domain). 0: every batch has `batchSize` blocks.
   */
  batchRows: number;
  /** Batches in flight at once in a sync or backfill workflow. */
  concurrency: number;
  /** Activity attempts before a batch fails (Temporal `maximumAttempts`; 0 = unlimited). */
  maxRetries: number;
  /** Blocks on top of a block before the sync stores it, when `finality` is `depth`. */
  confirmationDepth: number;
  finality: 'depth' | 'safe' | 'finalized';
  /** Sleep between head polls once caught up, in ms. */
  pollIntervalMs: number;
  /** Time between the sync's checks for gaps below its cursor once caught up, in ms. */
  gapCheckIntervalMs: number;
  /** Stall watchdog: the cursor not moving this long while behind is reported as a stall, in ms. */
  stallTimeoutMs: number;
  /** Timeout of one JSON-RPC HTTP request, in ms. */
  rpcTimeoutMs: number;
  /**
   * Most JSON-RPC calls in one HTTP request (`RPC_BATCH_CALLS`): a block is 2 calls, so a batch
   * holds at most half as many blocks. The pool also halves it per endpoint when the endpoint
   * refuses a batch; set it to a provider's known limit to spare those refusals.
   */
  rpcBatchCalls: number;
  /**
   * Activity executions one worker runs at once. A range goes to whichever worker asks first, so
   * for a sync shared by N workers about `concurrency` ÷ N keeps one worker from holding ranges
   * its request budget cannot work on while another idles (README, Scaling workers).
   */
  maxConcurrentActivities: number;
  /** Bytes of JSON-RPC answers one worker holds unwritten at once per chain (`FETCH_BUFFER_MB` × 2^20); sizes its requests in flight. */
  fetchBufferBytes: number;
  /**
   * Threads that parse, validate and convert JSON-RPC answers of blocks (`DECODE_THREADS`); 0: the
   * main thread does it; null: the default, 1 (`createDecodePool`).
   */
  decodeThreads: number | null;
  /**
   * Which transcoder turns JSON-RPC answers of blocks into COPY tuples (`NATIVE_TRANSCODER`):
   * `auto` the native one (native/, built by scripts/setup when cargo is installed) when it is
   * built, `on` the native one or an error at start, `off` the JavaScript one (src/decode/native.ts).
   */
  nativeTranscoder: 'auto' | 'on' | 'off';
  /**
   * Which HTTP client sends JSON-RPC batches (`RPC_HTTP_CLIENT`): `auto` the indexer's own
   * HTTP/1.1 client for `http:` endpoints (it reads answers into reused memory, src/rpc/http1.ts)
   * and fetch for `https:`; `fetch` fetch for every endpoint.
   */
  rpcHttpClient: 'auto' | 'fetch';
  instanceId: string;
  /** Recompute each block's transactionsRoot, receiptsRoot and withdrawalsRoot before storing it (`VERIFY_ROOTS`). */
  verifyRoots: boolean;
  /** Blocks per range partition of a chain's tables (`PARTITION_SIZE`); used only when the chain has none recorded yet. */
  partitionSize: number;
  /** Port of the metrics and health HTTP server; null disables it. */
  metricsPort: number | null;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  /** Path of the chains file (`CHAINS_FILE`, see `chains.ts`); absent in single-chain mode. */
  chainsFile?: string;
  /** Path of a workflow bundle built ahead (`WORKFLOW_BUNDLE`, `npm run build:workflows`); absent: the worker bundles src/workflows at start. */
  workflowBundlePath?: string;
}>;

export const DEFAULTS = {
  DATABASE_URL: 'postgres://indexer:indexer@127.0.0.1:5432/indexer',
  TEMPORAL_ADDRESS: '127.0.0.1:7233',
  TEMPORAL_NAMESPACE: 'default',
  TASK_QUEUE: 'evm-indexer',
  START_BLOCK: '0',
  BATCH_SIZE: '100',
  BATCH_ROWS: '50000',
  CONCURRENCY: '8',
  MAX_RETRIES: '0',
  CONFIRMATION_DEPTH: '12',
  FINALITY: 'depth',
  POLL_INTERVAL: '2000',
  GAP_CHECK_INTERVAL: '60000',
  STALL_TIMEOUT: '300000',
  RPC_TIMEOUT: '15000',
  RPC_BATCH_CALLS: '100',
  MAX_CONCURRENT_ACTIVITIES: '16',
  FETCH_BUFFER_MB: '48',
  LOG_LEVEL: 'info',
  NATIVE_TRANSCODER: 'auto',
  RPC_HTTP_CLIENT: 'auto',
  VERIFY_ROOTS: 'false',
  PARTITION_SIZE: '1000000',
} as const;

/** `FETCH_BUFFER_MB`'s default in bytes. */
export const DEFAULT_FETCH_BUFFER_BYTES = Number(DEFAULTS.FETCH_BUFFER_MB) * 2 ** 20;

/**
 * What an integer setting expects, for the value `input` it got: `an integer from min to max`, or,
 * with no upper bound but JavaScript's (Number.MAX_SAFE_INTEGER), `an integer ≥ min`, unless the
 * value is above that bound, which is then named (9,007,199,254,740,991, 2^53 − 1). Pure.
 * @example integerExpected(1, Number.MAX_SAFE_INTEGER, 0) // 'expected an integer ≥ 1'
 */
export function integerExpected(min: number, max: number, input: unknown): string {
  if (max !== Number.MAX_SAFE_INTEGER) return `expected an integer from ${min} to ${max}`;
  return Number(input) > max ? `expected an integer from ${min} to 9,007,199,254,740,991 (2^53 − 1)` : `expected an integer ≥ ${min}`;
}

const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, { message: `expected an integer ≥ ${min}` })
    .transform(Number)
    .refine((n) => Number.isSafeInteger(n) && n >= min && n <= max, {
      error: (issue) => integerExpected(min, max, issue.input),
    });

/** True when `value` parses as a URL with protocol http: or https:. Pure; never throws. */
export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

const schema = z.object({
  RPC_URL: z
    .string()
    .optional()
    .transform((value) => (value ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0))
    .superRefine((urls, ctx) => {
      urls.forEach((url, i) => {
        if (!isHttpUrl(url)) {
          ctx.addIssue({ code: 'custom', message: `${endpointPhrase(url, i)} is not an http(s) URL (expected comma-separated http(s) URLs)` });
        }
      });
    }),
  DATABASE_URL: z.string().default(DEFAULTS.DATABASE_URL).refine(
    (value) => {
      try {
        return ['postgres:', 'postgresql:'].includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: 'expected a postgres://user:password@host:port/database URL' },
  ),
  TEMPORAL_ADDRESS: z.string().trim().default(DEFAULTS.TEMPORAL_ADDRESS).refine((v) => /^([^\s/:[\]]+|\[[0-9A-Fa-f:.]+\]):\d+$/.test(v), {
    message: 'expected host:port (an IPv6 address in brackets: [::1]:7233)',
  }),
  TEMPORAL_NAMESPACE: z.string().trim().min(1).default(DEFAULTS.TEMPORAL_NAMESPACE),
  TASK_QUEUE: z.string().trim().min(1).default(DEFAULTS.TASK_QUEUE),
  CHAIN_ID: integer(1).optional(),
  START_BLOCK: integer(0).default(Number(DEFAULTS.START_BLOCK)),
  BATCH_SIZE: integer(1, 10_000).default(Number(DEFAULTS.BATCH_SIZE)),
  BATCH_ROWS: integer(0, 10_000_000).default(Number(DEFAULTS.BATCH_ROWS)),
  CONCURRENCY: integer(1, 500).default(Number(DEFAULTS.CONCURRENCY)),
  MAX_RETRIES: integer(0, 1_000_000).default(Number(DEFAULTS.MAX_RETRIES)),
  CONFIRMATION_DEPTH: integer(0, 100_000).default(Number(DEFAULTS.CONFIRMATION_DEPTH)),
  FINALITY: z.enum(['depth', 'safe', 'finalized']).default(DEFAULTS.FINALITY),
  POLL_INTERVAL: integer(10, 3_600_000).default(Number(DEFAULTS.POLL_INTERVAL)),
  GAP_CHECK_INTERVAL: integer(100, 86_400_000).default(Number(DEFAULTS.GAP_CHECK_INTERVAL)),
  STALL_TIMEOUT: integer(1_000, 86_400_000).default(Number(DEFAULTS.STALL_TIMEOUT)),
  RPC_TIMEOUT: integer(100, 600_000).default(Number(DEFAULTS.RPC_TIMEOUT)),
  RPC_BATCH_CALLS: integer(1, 1_000).default(Number(DEFAULTS.RPC_BATCH_CALLS)),
  MAX_CONCURRENT_ACTIVITIES: integer(1, 1000).default(Number(DEFAULTS.MAX_CONCURRENT_ACTIVITIES)),
  FETCH_BUFFER_MB: integer(1, 65_536).default(Number(DEFAULTS.FETCH_BUFFER_MB)),
  DECODE_THREADS: integer(0, 64).optional(),
  NATIVE_TRANSCODER: z.enum(['auto', 'on', 'off']).default(DEFAULTS.NATIVE_TRANSCODER),
  RPC_HTTP_CLIENT: z.enum(['auto', 'fetch']).default(DEFAULTS.RPC_HTTP_CLIENT),
  INSTANCE_ID: z.string().trim().min(1).optional(),
  METRICS_PORT: integer(1, 65_535).optional(),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default(DEFAULTS.LOG_LEVEL),
  VERIFY_ROOTS: z
    .enum(['true', 'false'], { message: 'expected true or false' })
    .default(DEFAULTS.VERIFY_ROOTS)
    .transform((value) => value === 'true'),
  PARTITION_SIZE: integer(1, 1_000_000_000).default(Number(DEFAULTS.PARTITION_SIZE)),
  CHAINS_FILE: z.string().trim().min(1).optional(),
  WORKFLOW_BUNDLE: z.string().trim().min(1).optional(),
});

/** The names of the environment variables {@link parseConfig} reads, in its order. */
export const SETTING_NAMES: readonly string[] = Object.freeze(Object.keys(schema.shape));

/** Removes credentials from a Postgres URL for printing: `postgres://user@host:port/db`. Pure. */
export function redactDatabaseUrl(value: string): string {
  try {
    const url = new URL(value);
    return `${url.protocol}//${url.username ? `${url.username}@` : ''}${url.host}${url.pathname}`;
  } catch {
    return '<unparsable DATABASE_URL>';
  }
}

/**
 * Parses and validates the whole environment in one pass and returns a frozen {@link Config}.
 * Empty strings count as unset. Every problem is reported at once, one line each, naming the
 * variable and the expected shape; secrets (URLs) never appear in the message.
 * @throws ConfigError listing every problem; never retried (the process exits 1).
 * @example parseConfig({ RPC_URL: 'http://127.0.0.1:8545', CHAIN_ID: '31337' }).batchSize // 100
 */
export function parseConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const cleaned = Object.fromEntries(
    Object.keys(schema.shape).map((key) => [key, env[key] === '' ? undefined : env[key]]),
  );
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? 'environment');
      const shown = variable === 'RPC_URL' || variable === 'DATABASE_URL' ? '' : ` (got ${JSON.stringify(env[variable] ?? '')})`;
      return `${variable}: ${issue.message}${shown}`;
    });
    throw new ConfigError(problems);
  }
  const e = result.data;
  return Object.freeze({
    rpcUrls: Object.freeze([...e.RPC_URL]),
    rpcLabels: Object.freeze(e.RPC_URL.map((url, i) => endpointLabel(url, i))),
    databaseUrl: e.DATABASE_URL,
    databaseLabel: redactDatabaseUrl(e.DATABASE_URL),
    temporalAddress: e.TEMPORAL_ADDRESS,
    temporalNamespace: e.TEMPORAL_NAMESPACE,
    taskQueue: e.TASK_QUEUE,
    chainId: e.CHAIN_ID ?? null,
    startBlock: e.START_BLOCK,
    batchSize: e.BATCH_SIZE,
    batchRows: e.BATCH_ROWS,
    concurrency: e.CONCURRENCY,
    maxRetries: e.MAX_RETRIES,
    confirmationDepth: e.CONFIRMATION_DEPTH,
    finality: e.FINALITY,
    pollIntervalMs: e.POLL_INTERVAL,
    rpcTimeoutMs: e.RPC_TIMEOUT,
    rpcBatchCalls: e.RPC_BATCH_CALLS,
    gapCheckIntervalMs: e.GAP_CHECK_INTERVAL,
    stallTimeoutMs: e.STALL_TIMEOUT,
    maxConcurrentActivities: e.MAX_CONCURRENT_ACTIVITIES,
    fetchBufferBytes: e.FETCH_BUFFER_MB * 2 ** 20,
    decodeThreads: e.DECODE_THREADS ?? null,
    nativeTranscoder: e.NATIVE_TRANSCODER,
    rpcHttpClient: e.RPC_HTTP_CLIENT,
    instanceId: e.INSTANCE_ID ?? `worker-${process.pid}`,
    verifyRoots: e.VERIFY_ROOTS,
    partitionSize: e.PARTITION_SIZE,
    metricsPort: e.METRICS_PORT ?? null,
    logLevel: e.LOG_LEVEL,
    ...(e.CHAINS_FILE === undefined ? {} : { chainsFile: e.CHAINS_FILE }),
    ...(e.WORKFLOW_BUNDLE === undefined ? {} : { workflowBundlePath: e.WORKFLOW_BUNDLE }),
  });
}

/**
 * Asserts the settings a worker cannot run without: at least one `RPC_URL` and a `CHAIN_ID`.
 * @throws ConfigError naming each missing variable.
 */
export function assertWorkerConfig(config: Config): asserts config is Config & { chainId: number } {
  const problems: string[] = [];
  if (config.rpcUrls.length === 0) problems.push('RPC_URL: required: comma-separated http(s) URLs of JSON-RPC endpoints');
  if (config.chainId === null) problems.push('CHAIN_ID: required: the EIP-155 chain id the endpoints serve (integer ≥ 1, e.g. 1 for Ethereum, 31337 for anvil)');
  if (problems.length > 0) throw new ConfigError(problems);
}
