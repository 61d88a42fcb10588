/**
 * Many chains in one deployment: the chains file (`CHAINS_FILE`, JSON) and the per-chain settings
 * every worker and client command uses, whether they come from that file or from the single-chain
 * environment (`CHAIN_ID` + `RPC_URL`). Reads the file named by the parsed config; never reads
 * `process.env` itself (the caller passes the environment for `${VAR}` references).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { endpointLabel, endpointPhrase } from '../rpc/redact.js';
import { integerExpected, isHttpUrl, type Config } from './parse.js';

/** How the parsed chains file treats a `${VAR}` whose variable is unset: an error (the worker) or kept as written (the client, which never calls the endpoints). */
export type UnsetVariables = 'error' | 'keep';

/** A `${NAME}` reference to an environment variable inside an rpcUrl. */
const VARIABLE_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.custom<number>((v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max, {
    error: (issue) => integerExpected(min, max, issue.input),
  });

/**
 * The settings a chain entry may set for itself, in the order the README lists them, each with its
 * schema in the file; a chain that leaves one out takes the environment's value ({@link Config}).
 * Listed once: the file schema, {@link ChainConfig} and the merge all derive from it, so a new
 * tunable is a field of `Config` plus one line here. The ranges match the environment variables'
 * in parse.ts, so a value means the same in both places.
 */
const TUNABLE_SCHEMAS = {
  startBlock: integer(0),
  batchSize: integer(1, 10_000),
  batchRows: integer(0, 10_000_000),
  concurrency: integer(1, 500),
  maxRetries: integer(0, 1_000_000),
  confirmationDepth: integer(0, 100_000),
  // The value given, as the environment variable's error shows it (a typo is easier to see).
  finality: z.enum(['depth', 'safe', 'finalized'], { error: (issue) => `expected "depth", "safe" or "finalized" (got ${JSON.stringify(issue.input)})` }),
  pollIntervalMs: integer(10, 3_600_000),
  gapCheckIntervalMs: integer(100, 86_400_000),
  stallTimeoutMs: integer(1_000, 86_400_000),
  rpcTimeoutMs: integer(100, 600_000),
  rpcBatchCalls: integer(1, 1_000),
  maxConcurrentActivities: integer(1, 1000),
  verifyRoots: z.boolean({ message: 'expected true or false' }),
  partitionSize: integer(1, 1_000_000_000),
} satisfies { [K in keyof Config]?: z.ZodType<Config[K]> };

/** Names of the settings a chain may override (see {@link TUNABLE_SCHEMAS}). */
type ChainTunable = keyof typeof TUNABLE_SCHEMAS;

const TUNABLES = Object.keys(TUNABLE_SCHEMAS) as ChainTunable[];

/**
 * The settings of one chain: its id, endpoints and task queue, and the tunables of {@link Config}
 * (documented there: `startBlock`, `batchSize`, …, `partitionSize`) with the chain's own values
 * where it sets them. Frozen. Units as in {@link Config}: block numbers and block counts are plain
 * numbers, every `…Ms` is in ms. `partitionSize` is recorded in `chain_partitioning` the first
 * time the chain is served (a recorded size wins).
 */
export type ChainConfig = Readonly<{
  /** EIP-155 chain id the endpoints must serve. */
  chainId: number;
  /** JSON-RPC endpoint URLs, `${VAR}` references replaced. Secret: print `rpcLabels` instead. */
  rpcUrls: readonly string[];
  /** `host#n` label of each endpoint, in the same order, safe to print. */
  rpcLabels: readonly string[];
  /** Task queue of this chain's workflows and activities. */
  taskQueue: string;
} & Pick<Config, ChainTunable>>;

/**
 * Makes one chain's frozen settings: `identity` (id, endpoints, task queue), then every tunable
 * from `defaults` (the environment), with the chain's `overrides` on top. The one place a chain's
 * settings are put together, for the chains file and the single-chain environment alike. Pure.
 */
function createChainConfig(
  identity: Pick<ChainConfig, 'chainId' | 'rpcUrls' | 'rpcLabels' | 'taskQueue'>,
  defaults: Config,
  overrides: Partial<Pick<Config, ChainTunable>> = {},
): ChainConfig {
  const inherited = Object.fromEntries(TUNABLES.map((key) => [key, defaults[key]])) as Pick<Config, ChainTunable>;
  return Object.freeze({ ...identity, rpcUrls: Object.freeze(identity.rpcUrls), rpcLabels: Object.freeze(identity.rpcLabels), ...inherited, ...overrides });
}

const chainSchema = z.strictObject({
  chainId: integer(1),
  rpcUrl: z.union([z.string(), z.array(z.string())], { message: 'expected a string of comma-separated http(s) URLs or an array of them' }),
  taskQueue: z.string().trim().min(1, { message: 'expected a non-empty string' }).optional(),
  ...z.object(TUNABLE_SCHEMAS).partial().shape,
});

/** Names of the fields a chain entry may have, in the order the README lists them. */
const CHAIN_FIELDS = Object.keys(chainSchema.shape);

const fileSchema = z.strictObject({
  chains: z.array(chainSchema, { message: 'expected an array of chains' }).min(1, { message: 'expected at least one chain' }),
});

/** `['chains', 1, 'rpcUrl']` → `chains[1].rpcUrl`. */
function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : `${out}${out ? '.' : ''}${String(key)}`), '');
}

/** Characters V8 quotes on each side of the failing one in a JSON error ("…"context"… is not valid JSON"). */
const V8_JSON_CONTEXT_CHARS = 10;

/**
 * Where `JSON.parse` failed, as `at line L, column C`, with a hint for the usual mistakes. V8's
 * wording differs between Node versions: Node 20 gives a position for some errors ("… at position
 * 3") and for others the character and up to 10 characters on each side of it (`Unexpected token
 * 'a', ..."lse, "x": abc}]" is not valid JSON`), whose place in `text` gives the position; a text
 * too short for that context is quoted whole, and the place is then the first such character
 * outside a string.
 */
function jsonErrorPlace(text: string, err: unknown): string {
  const message = err instanceof Error ? err.message : '';
  if (text.trim() === '') return '(the file is empty)';
  const position = jsonErrorPosition(text, message);
  if (position < 0 || position >= text.trimEnd().length) return '(it ends too early)';
  const lines = text.slice(0, position).split('\n');
  const found = text[position]!;
  const hint = found === '/' ? ' (JSON has no comments)'
    : /[A-Za-z']/.test(found) ? ` (unexpected ${found === "'" ? 'a single quote' : `'${found}'`}: strings need double quotes; true, false and null are lower case)`
    : found === ']' || found === '}' || found === '"' ? ` (unexpected '${found}': a comma before it?)`
    : ` (unexpected '${found}')`;
  return `at line ${lines.length}, column ${lines.at(-1)!.length + 1}${hint}`;
}

/** The index in `text` where V8's JSON.parse `message` says it failed, or −1 when it does not say. */
function jsonErrorPosition(text: string, message: string): number {
  const given = /at position (\d+)/.exec(message);
  if (given) return Number(given[1]);
  const context = /^Unexpected token '(.)', (\.\.\.)?"([\s\S]*)"(\.\.\.)? is not valid JSON$/su.exec(message);
  if (!context) return -1;
  const [, token, before, snippet, after] = context as unknown as [string, string, string | undefined, string, string | undefined];
  if (before) return (after ? text.indexOf(snippet) : text.length - snippet.length) + V8_JSON_CONTEXT_CHARS;
  if (after) return snippet.length - V8_JSON_CONTEXT_CHARS;
  return firstOutsideStrings(text, token); // the whole text was quoted: too short for a context
}

/** Index of the first `token` in `text` outside double-quoted strings (escapes honoured), or −1. */
function firstOutsideStrings(text: string, token: string): number {
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i += 1;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (text.startsWith(token, i)) {
      return i;
    }
  }
  return -1;
}

/**
 * Splits a chain's `rpcUrl` into URLs and replaces each `${VAR}` with `env[VAR]`. Pure.
 * Returns the URLs, or the problems (URLs shown only as labels, never raw).
 */
function resolveRpcUrls(rpcUrl: string | string[], env: Readonly<Record<string, string | undefined>>, unsetVariables: UnsetVariables): { urls: string[]; problems: string[] } {
  const written = (Array.isArray(rpcUrl) ? rpcUrl : rpcUrl.split(',')).map((s) => s.trim()).filter((s) => s.length > 0);
  if (written.length === 0) return { urls: [], problems: ['expected at least one http(s) URL'] };
  const problems: string[] = [];
  const urls = written.map((url, i) => {
    let unresolved = false;
    const resolved = url.replace(VARIABLE_REFERENCE, (reference, name: string) => {
      const value = env[name];
      if (value !== undefined && value !== '') return value;
      if (unsetVariables === 'error') problems.push(`${endpointPhrase(url, i)}: environment variable ${name} is not set (referenced as ${reference})`);
      unresolved = true;
      return reference;
    });
    // An unresolved reference kept for the client may stand for any part of the URL: it is not checked.
    if (!unresolved && !isHttpUrl(resolved)) problems.push(`${endpointPhrase(resolved, i)} is not an http(s) URL`);
    return resolved;
  });
  return { urls, problems };
}

/**
 * Parses and validates the text of a chains file: a JSON array of chain entries, or an object
 * `{ "chains": [...] }`. Each entry needs `chainId` and `rpcUrl` (comma-separated string or array,
 * `${VAR}` replaced from `env`); every other field defaults to the environment's value in
 * `defaults`, and `taskQueue` to `<TASK_QUEUE>-<chainId>`. Chain ids and task queues must be
 * unique (two chains on one queue would take each other's activities). Pure. Every problem is
 * reported at once, one line each, as `CHAINS_FILE chains[1].rpcUrl: …`; URLs appear only as labels.
 * @throws ConfigError listing every problem; never retried (the process exits 1).
 * @example parseChainsFile('[{"chainId":1,"rpcUrl":"https://a.example"}]', { env: {}, defaults: parseConfig({}) })[0].taskQueue // 'evm-indexer-1'
 */
export function parseChainsFile(
  text: string,
  options: { env: Readonly<Record<string, string | undefined>>; defaults: Config; unsetVariables?: UnsetVariables },
): ChainConfig[] {
  let json: unknown;
  const source = text.replace(/^\uFEFF/, ''); // a UTF-8 byte order mark (some editors write one) is not JSON, but harmless
  try {
    json = JSON.parse(source);
  } catch (err) {
    throw new ConfigError([`CHAINS_FILE: not valid JSON ${jsonErrorPlace(source, err)}`]);
  }
  if (!Array.isArray(json) && (typeof json !== 'object' || json === null || !('chains' in json))) {
    throw new ConfigError(['CHAINS_FILE: expected a JSON array of chains or an object with a "chains" array']);
  }
  const result = fileSchema.safeParse(Array.isArray(json) ? { chains: json } : json);
  const { defaults } = options;
  // The checks below the schema's run on every entry that has what they read, valid or not, so a
  // file's problems are all reported in one go.
  const rawChains: unknown = Array.isArray(json) ? json : (json as { chains?: unknown }).chains;
  const entries = (Array.isArray(rawChains) ? rawChains : []).map((raw) => (typeof raw === 'object' && raw !== null ? raw as Record<string, unknown> : {}));
  const problems: string[] = [];
  const resolved = entries.map((entry, i) => {
    const rpcUrl = entry.rpcUrl;
    if (typeof rpcUrl !== 'string' && !(Array.isArray(rpcUrl) && rpcUrl.every((u) => typeof u === 'string'))) return [];
    const { urls, problems: urlProblems } = resolveRpcUrls(rpcUrl, options.env, options.unsetVariables ?? 'error');
    problems.push(...urlProblems.map((p) => `CHAINS_FILE chains[${i}].rpcUrl: ${p}`));
    return urls;
  });
  const ids = entries.map((e) => (Number.isSafeInteger(e.chainId) ? (e.chainId as number) : undefined));
  // As the schema reads them: a queue trimmed; none given, the default for the chain; not a string, none (the schema says why).
  const queues = entries.map((e, i) => (typeof e.taskQueue === 'string' ? e.taskQueue.trim() : e.taskQueue !== undefined || ids[i] === undefined ? undefined : `${defaults.taskQueue}-${ids[i]}`));
  entries.forEach((_, i) => {
    const sameId = ids.indexOf(ids[i]);
    if (ids[i] !== undefined && sameId < i) problems.push(`CHAINS_FILE chains[${i}].chainId: chain ${ids[i]} is listed twice (also chains[${sameId}])`);
    const sameQueue = queues.indexOf(queues[i]);
    if (queues[i] !== undefined && sameQueue < i) problems.push(`CHAINS_FILE chains[${i}].taskQueue: task queue ${queues[i]} is used twice (also chains[${sameQueue}]); each chain needs its own`);
  });
  if (!result.success) {
    throw new ConfigError([...result.error.issues.map((issue) => {
      const where = formatPath(issue.path);
      const message = issue.code === 'unrecognized_keys'
        ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} (expected ${where === '' ? '"chains"' : CHAIN_FIELDS.join(', ')})`
        : issue.message;
      return `CHAINS_FILE${where === '' ? '' : ` ${where}`}: ${message}`;
    }), ...problems]);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return result.data.chains.map((entry, i): ChainConfig => {
    const urls = resolved[i]!;
    const { chainId, rpcUrl: _written, taskQueue, ...overrides } = entry;
    return createChainConfig(
      { chainId, rpcUrls: urls, rpcLabels: urls.map((url, n) => endpointLabel(url, n)), taskQueue: taskQueue ?? `${defaults.taskQueue}-${chainId}` },
      defaults,
      overrides,
    );
  });
}

/**
 * The chain's settings from the single-chain environment: `RPC_URL` (may be empty for the client),
 * `TASK_QUEUE` as it is, and the sync settings (`BATCH_SIZE`, …). Pure; never throws.
 */
export function chainFromEnv(config: Config, chainId: number): ChainConfig {
  return createChainConfig({ chainId, rpcUrls: config.rpcUrls, rpcLabels: config.rpcLabels, taskQueue: config.taskQueue }, config);
}

/**
 * Reads and parses the chains file named by `config.chainsFile` (see {@link parseChainsFile}), or
 * returns null when `CHAINS_FILE` is unset (single-chain mode). With a chains file, `RPC_URL` must
 * be unset (each chain lists its own endpoints).
 * @throws ConfigError when the file cannot be read or is invalid, or `RPC_URL` is set as well.
 */
export function loadChainsFile(
  config: Config,
  env: Readonly<Record<string, string | undefined>>,
  options: { unsetVariables?: UnsetVariables; readFile?: (path: string) => string } = {},
): ChainConfig[] | null {
  if (config.chainsFile === undefined) return null;
  if (config.rpcUrls.length > 0) throw new ConfigError(['RPC_URL: not used with CHAINS_FILE (each chain lists its rpcUrl in the file); unset one of them']);
  let text: string;
  try {
    text = (options.readFile ?? ((path) => readFileSync(path, 'utf8')))(config.chainsFile);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new ConfigError([`CHAINS_FILE: cannot read ${config.chainsFile}${code ? ` (${code})` : ''}`]);
  }
  return parseChainsFile(text, { env, defaults: config, unsetVariables: options.unsetVariables ?? 'error' });
}

/**
 * The chains a process works on: every chain of the file, or only `chainId` when given (from
 * `CHAIN_ID` or `--chain-id`). Pure.
 * @throws ConfigError when `chainId` is not in the file.
 */
export function selectChains(chains: readonly ChainConfig[], chainId: number | null | undefined, source = 'CHAIN_ID'): ChainConfig[] {
  if (chainId === null || chainId === undefined) return [...chains];
  const chain = chains.find((c) => c.chainId === chainId);
  if (!chain) throw new ConfigError([`${source}: chain ${chainId} is not in CHAINS_FILE (it lists ${chains.map((c) => c.chainId).join(', ')})`]);
  return [chain];
}
