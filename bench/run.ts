/**
 * The throughput bench (`npm run bench`): in ONE run, on the same synthetic blocks and schema,
 *   (a) ceiling   — the rows COPY'd straight into the schema (product's indexes), writing only;
 *   (b) baseline  — the seed's approach: 2 requests per block, p-limit(10), INSERTs per block;
 *   (c) product   — worker process(es) + the chainSync workflow on a Temporal dev server, default config;
 *   (d) direct    — the product's range activity (`runIndexRange`) called without Temporal.
 * Prints blocks/s, rows/s, RPC requests per block, worker peak RSS and the ratios c/a, c/b,
 * (d − c)/d (and c with N workers / c with 1 worker when `--workers` > 1); appends the JSON to
 * `bench/results/<timestamp>.json`. `--rounds N` runs (a), (d) and (c) N times, interleaved, and
 * reports each one's median run and the ratios within each round (the machine's speed drifts
 * between phases). Needs Postgres (`scripts/stack up`; `DATABASE_URL`) and the
 * pinned Temporal CLI (`scripts/setup`); starts its own chain server and Temporal dev server.
 *
 * @example npm run bench -- --profile mainnet --latency-ms 100 --baseline-blocks 500 --rounds 3   # 10,000 blocks, issue 6's reading
 * @example npm run bench -- --profile light --latency-ms 100 --baseline-blocks 5000                # 100,000 blocks
 * @example npm run bench -- --profile light --blocks 20000 --latency-ms 300 --max-in-flight 4 --workers 2 --phases c --max-concurrent-activities 4
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { createSyntheticChain, nonNegativeInteger, positiveInteger, PROFILES, profileName } from './synthetic-chain.js';
import { countGenerated, runCeiling } from './phases/ceiling.js';
import { runBaseline } from './phases/baseline.js';
import { countRows, phaseResult, startChainServer, truncateChainTables, type PhaseResult } from './phases/common.js';
import { runDirectProcess } from './phases/direct.js';
import { buildProduct, runProduct, type RangesByWorker } from './phases/product.js';
import { freePageReportingOrder, pageReportingSetting, type CpuPerBlock } from './phases/cpu.js';
import { startTemporalServer } from '../test/support/processes.js';
import { createTestDatabase } from '../test/support/stack.js';
import { parseConfig } from '../src/config/parse.js';
import { ensurePartitions } from '../src/db/partitions.js';
import { loadNativeTranscoder } from '../src/decode/native.js';
import { WORKFLOWS_PATH } from '../src/worker.js';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';

const CHAIN_ID = 1;
/** Blocks the baseline indexes at most by default: it is slow, and its rate is what counts. */
const DEFAULT_BASELINE_BLOCKS = 2_000;
/**
 * Blocks each phase indexes when `--blocks` is not given: the counts issue 6's targets are read
 * over (mainnet 10,000, about 35 s of (c), where the sync's fixed start, about 0.35 s of its
 * workflow start, cursor and head reads and first round trip, weighs about 1 %; light 100,000).
 */
export const DEFAULT_BLOCKS: Readonly<Record<string, number>> = { mainnet: 10_000, light: 100_000 };

/** Options of one bench run (see the CLI flags). */
export type BenchOptions = {
  profile: string; blocks: number; latencyMs: number; concurrency?: number; batchSize?: number;
  /** BATCH_ROWS of the product and of (d) (0 = fixed batchSize); default: the product default. */
  batchRows?: number;
  workers: number; rateLimit: number;
  /** Activities one worker runs at once (MAX_CONCURRENT_ACTIVITIES); default: the product default. */
  maxConcurrentActivities?: number;
  /** FETCH_BUFFER_MB of the product's workers and of (d); default: the product default. */
  fetchBufferMb?: number;
  /** DECODE_THREADS of the product's workers and of (d) (0 = decode on the main thread); default: the product default. */
  decodeThreads?: number;
  /** Requests each worker's endpoint path serves at once (the per-worker request budget; 0 = no cap). */
  maxInFlight?: number;
  phases: string; baselineBlocks: number; outDir: string; env?: Record<string, string>;
  /**
   * Times phases (a), (d) and (c) with one worker each run, interleaved round by round (a, d, c,
   * a, d, c, …; (b) and the run with `workers` go once, in the first round and after the last);
   * the table, the CPU lines and the ratios take each phase's median run ({@link medianRun}),
   * and the ratios within each round are printed and kept beside them (`rounds`). With more than
   * one round the Temporal dev server runs from the first round's start. Default 1.
   */
  rounds?: number;
  /** Extra `node` flags for the worker processes, e.g. `--cpu-prof` (from `BENCH_WORKER_NODE_ARGS`). */
  workerNodeArgs?: string[];
};

/** What a run appends to `bench/results/`: options, machine, phases and ratios (null when a phase was skipped). */
export type BenchResult = {
  startedAt: string; command: string; options: BenchOptions; machine: { cpus: number; loadAverage1m: number; freePageReportingOrder: number | null; pageReportingSetting?: number | null };
  /** Which transcoder the product's decode threads run (NATIVE_TRANSCODER and whether native/build/transcode.node is built; src/decode/native.ts). */
  transcoder: 'native' | 'javascript';
  generated: { blocks: number; transactionsPerBlock: number; logsPerBlock: number };
  phases: { ceiling: PhaseResult | null; baseline: PhaseResult | null; product: PhaseResult | null; productWithWorkers: PhaseResult | null; direct: PhaseResult | null };
  ratios: { productToCeiling: number | null; productToBaseline: number | null; temporalOverhead: number | null; scaleOut: number | null };
  /**
   * Every run of (a), (d) and (c) with one worker, in the order run (one each unless `--rounds`;
   * `phases` holds each one's median run), and the ratios within each round: c/a and (d − c)/d of
   * the runs of the same round (empty when a phase of the pair did not run).
   */
  rounds: { ceiling: PhaseResult[]; direct: PhaseResult[]; product: PhaseResult[]; productToCeiling: number[]; temporalOverhead: number[] };
  productInput: unknown;
  file: string;
};

/** Runs the bench once and returns (and writes) its result. */
export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const startedAt = new Date();
  const phases = new Set(options.phases.split(',').map((p) => p.trim()));
  const rounds = options.rounds ?? 1;
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a whole number of at least 1, got ${rounds}`);
  const chain = createSyntheticChain(PROFILES[options.profile]!, CHAIN_ID);
  const env = {
    ...(options.env ?? {}),
    ...(options.concurrency ? { CONCURRENCY: String(options.concurrency) } : {}),
    ...(options.batchSize ? { BATCH_SIZE: String(options.batchSize) } : {}),
    ...(options.batchRows !== undefined ? { BATCH_ROWS: String(options.batchRows) } : {}),
    ...(options.maxConcurrentActivities ? { MAX_CONCURRENT_ACTIVITIES: String(options.maxConcurrentActivities) } : {}),
    ...(options.fetchBufferMb ? { FETCH_BUFFER_MB: String(options.fetchBufferMb) } : {}),
    ...(options.decodeThreads !== undefined ? { DECODE_THREADS: String(options.decodeThreads) } : {}),
  };
  const cfg = parseConfig({ RPC_URL: 'http://127.0.0.1', CHAIN_ID: String(CHAIN_ID), ...env });
  const database = await createTestDatabase('bench');
  // Every phase finds the partitions made, whichever phases run: (a) made them before its timed
  // writes, so a run without (a) had its first (c) or (d) ranges create them (60–110 ms, session 32).
  await ensurePartitions(database.db, CHAIN_ID, { from: 0, to: Math.max(0, options.blocks - 1) });
  const server = await startChainServer([
    '--profile', options.profile, '--blocks', String(options.blocks + cfg.confirmationDepth), '--latency-ms', String(options.latencyMs),
    '--rate-limit', String(options.rateLimit), '--max-in-flight', String(options.maxInFlight ?? 0), '--chain-id', String(CHAIN_ID), '--prewarm',
  ]);
  const temporalDir = mkdtempSync(join(tmpdir(), 'bench-temporal-'));
  const result: BenchResult['phases'] = { ceiling: null, baseline: null, product: null, productWithWorkers: null, direct: null };
  const runs: Pick<BenchResult['rounds'], 'ceiling' | 'direct' | 'product'> = { ceiling: [], direct: [], product: [] };
  let temporal: Awaited<ReturnType<typeof startTemporalServer>> | undefined;
  let productInput: unknown = null;
  try {
    const expected = await countGenerated(chain, options.blocks);
    const measure = async (blocks: number, want: typeof expected, run: () => Promise<number>, rpc = true): Promise<PhaseResult> => {
      await truncateChainTables(database.db);
      const before = await server.stats();
      const seconds = await run();
      const after = await server.stats();
      return phaseResult(blocks, seconds, await countRows(database.db, CHAIN_ID), want, rpc ? { before, after } : null);
    };
    const ceilingRun = async (): Promise<PhaseResult> => {
      let postgresMs = 0;
      let autovacuumMs = 0;
      const ceiling = await measure(options.blocks, expected, async () => {
        const run = await runCeiling({ chain, databaseUrl: database.url, blocks: options.blocks, batchSize: cfg.batchSize });
        postgresMs = run.postgresMs;
        autovacuumMs = run.autovacuumMs;
        return run.seconds;
      }, false);
      const perBlock = (ms: number) => Math.round((ms / options.blocks) * 10) / 10;
      return { ...ceiling, postgresMsPerBlock: perBlock(postgresMs), autovacuumMsPerBlock: perBlock(autovacuumMs) };
    };
    const directRun = async (): Promise<PhaseResult> => {
      let cpu: CpuPerBlock | undefined;
      const phase = await measure(options.blocks, expected, async () => {
        const run = await runDirectProcess({
          url: `${server.url}/d`, databaseUrl: database.url, chainId: CHAIN_ID, blocks: options.blocks, batchSize: cfg.batchSize, batchRows: cfg.batchRows, concurrency: cfg.concurrency, rpcTimeoutMs: cfg.rpcTimeoutMs, fetchBufferBytes: cfg.fetchBufferBytes,
          startBlock: cfg.startBlock, finality: cfg.finality, confirmationDepth: cfg.confirmationDepth,
          decodeThreads: cfg.decodeThreads,
          nodeArgs: options.workerNodeArgs ?? [],
        });
        cpu = run.cpuPerBlock;
        return run.seconds;
      });
      return { ...phase, ...(cpu ? { cpuPerBlock: cpu } : {}) };
    };
    // Phase (c)'s Temporal dev server and worker entry, made at its first run.
    let product: { address: string; entry: string; env: Record<string, string> } | undefined;
    const prepareProduct = async (): Promise<NonNullable<typeof product>> => {
      if (!product) {
        temporal = await startTemporalServer({ dbFile: join(temporalDir, 'temporal.db') });
        // Workers start as the Docker image starts them: compiled, with a workflow bundle built ahead.
        const entry = buildProduct();
        const bundle = join(temporalDir, 'workflow-bundle.js');
        writeFileSync(bundle, (await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') })).code);
        product = { address: temporal.address, entry, env: { WORKFLOW_BUNDLE: bundle, ...env } };
      }
      return product;
    };
    const productRun = async (workers: number): Promise<PhaseResult> => {
      const { address, entry, env: productEnv } = await prepareProduct();
      let peak = 0;
      let cpu: CpuPerBlock | undefined;
      let rangesByWorker: RangesByWorker | undefined;
      const phase = await measure(options.blocks, expected, async () => {
        const run = await runProduct({ serverUrl: server.url, databaseUrl: database.url, temporalAddress: address, chainId: CHAIN_ID, blocks: options.blocks, workers, env: productEnv, nodeArgs: options.workerNodeArgs ?? [], entry });
        peak = run.workerPeakRssMb;
        cpu = run.cpuPerBlock;
        rangesByWorker = run.rangesByWorker;
        productInput = run.input;
        return run.seconds;
      });
      return { ...phase, workers, workerPeakRssMb: peak, ...(cpu ? { cpuPerBlock: cpu } : {}), ...(rangesByWorker ? { rangesByWorker } : {}) };
    };
    // Rounds interleave (a), (d) and (c) so that a slow spell of the machine falls on every phase
    // alike; (b) and the run with N workers go once. With several rounds the Temporal dev server
    // runs from the first, so that every round's (a) and (d) run beside it alike.
    if (rounds > 1 && phases.has('c')) await prepareProduct();
    for (let round = 1; round <= rounds; round++) {
      if (phases.has('a')) runs.ceiling.push(await ceilingRun());
      if (phases.has('b') && round === 1) {
        const blocks = Math.min(options.blocks, options.baselineBlocks);
        const want = blocks === options.blocks ? expected : await countGenerated(chain, blocks);
        result.baseline = await measure(blocks, want, () => runBaseline({ url: `${server.url}/b`, db: database.db, chainId: CHAIN_ID, blocks }));
      }
      if (phases.has('d')) runs.direct.push(await directRun());
      if (phases.has('c')) runs.product.push(await productRun(1));
    }
    if (phases.has('c') && options.workers > 1) result.productWithWorkers = await productRun(options.workers);
    result.ceiling = medianRun(runs.ceiling);
    result.direct = medianRun(runs.direct);
    result.product = medianRun(runs.product);
  } finally {
    await temporal?.stop();
    await server.stop();
    await database.drop();
    rmSync(temporalDir, { recursive: true, force: true });
  }
  const rate = (p: PhaseResult | null) => p?.blocksPerSecond ?? null;
  const ratio = (x: number | null, y: number | null) => (x === null || y === null || y === 0 ? null : Math.round((x / y) * 1000) / 1000);
  const c = rate(result.product);
  const d = rate(result.direct);
  const file = join(options.outDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  const output: BenchResult = {
    startedAt: startedAt.toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    options,
    machine: { cpus: availableParallelism(), loadAverage1m: Math.round(loadavg()[0]! * 100) / 100, freePageReportingOrder: freePageReportingOrder(), pageReportingSetting: pageReportingSetting() },
    transcoder: loadNativeTranscoder().transcode ? 'native' : 'javascript',
    generated: { blocks: options.blocks, transactionsPerBlock: Math.round((chainTotals(result)?.transactions ?? 0) / options.blocks), logsPerBlock: Math.round((chainTotals(result)?.logs ?? 0) / options.blocks) },
    phases: result,
    ratios: {
      productToCeiling: ratio(c, rate(result.ceiling)),
      productToBaseline: ratio(c, rate(result.baseline)),
      temporalOverhead: c === null || d === null ? null : overhead(c, d),
      scaleOut: ratio(rate(result.productWithWorkers), c),
    },
    rounds: {
      ...runs,
      productToCeiling: pairs(runs.product, runs.ceiling).map(([c, a]) => ratio(c.blocksPerSecond, a.blocksPerSecond)!),
      temporalOverhead: pairs(runs.product, runs.direct).map(([c, d]) => overhead(c.blocksPerSecond, d.blocksPerSecond)),
    },
    productInput,
    file,
  };
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(output, null, 2)}\n`);
  return output;
}

/** Temporal's overhead (d − c)/d of the product's `c` against the direct range activity's `d` blocks/s, to three decimals. Pure. */
function overhead(c: number, d: number): number {
  return Math.round(((d - c) / d) * 1000) / 1000;
}

/** The runs of `x` and `y` of the same rounds, paired (as many as the shorter has). */
function pairs<T>(x: readonly T[], y: readonly T[]): [T, T][] {
  return x.slice(0, y.length).map((v, i) => [v, y[i]!]);
}

/** The median of `values` (of an even count, the mean of the two middle ones), to three decimals; null for none. Pure. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  const m = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return Math.round(m * 1000) / 1000;
}

/**
 * The run with the median blocks/s of `runs` (of an even count, the slower of the two middle
 * ones, so two rounds report their slower run); null for none. Pure.
 */
export function medianRun<T extends { blocksPerSecond: number }>(runs: readonly T[]): T | null {
  if (runs.length === 0) return null;
  return [...runs].sort((x, y) => x.blocksPerSecond - y.blocksPerSecond)[Math.floor((runs.length - 1) / 2)]!;
}

function chainTotals(phases: BenchResult['phases']) {
  return (phases.ceiling ?? phases.direct ?? phases.product ?? phases.baseline)?.rows;
}

/** The result as a table and the acceptance lines of issue 6, for the terminal. */
export function formatResult(r: BenchResult): string {
  const rows: [string, PhaseResult | null][] = [
    ['(a) ceiling: COPY only', r.phases.ceiling], ['(b) seed baseline', r.phases.baseline], ['(c) product, 1 worker', r.phases.product],
    [`(c) product, ${r.options.workers} workers`, r.phases.productWithWorkers], ['(d) range activity, no Temporal', r.phases.direct],
  ];
  const lines = [`profile ${r.options.profile}, ${r.options.blocks} blocks (~${r.generated.transactionsPerBlock} txs, ~${r.generated.logsPerBlock} logs each), latency ${r.options.latencyMs} ms, ${r.transcoder} transcoder, load ${r.machine.loadAverage1m} on ${r.machine.cpus} cpus`,
    'phase                              blocks/s     rows/s  req/block  server cpu ms  peak RSS MB  rows ok'];
  for (const [name, p] of rows) {
    if (!p) continue;
    lines.push(`${name.padEnd(34)}${String(p.blocksPerSecond).padStart(9)}${String(p.rowsPerSecond).padStart(11)}${String(p.rpcRequestsPerBlock ?? '–').padStart(11)}${String(p.serverCpuMs ?? '–').padStart(15)}${String(p.workerPeakRssMb ?? '–').padStart(13)}  ${p.rowsMatch}`);
  }
  const repeated = ([['(a)', r.rounds.ceiling], ['(d)', r.rounds.direct], ['(c)', r.rounds.product]] as const).filter(([, runs]) => runs.length > 0);
  if (repeated.some(([, runs]) => runs.length > 1)) {
    lines.push(`rounds, blocks/s in the order run: ${repeated.map(([name, runs]) => `${name} ${runs.map((p) => p.blocksPerSecond).join(', ')}`).join('; ')}; the table, the CPU lines and the ratios are each phase's median run`);
    if (r.rounds.product.length > 1) lines.push(`(c) worker peak RSS in each round: ${r.rounds.product.map((p) => p.workerPeakRssMb ?? '–').join(', ')} MB`);
    const byRound = ([['c/a', r.rounds.productToCeiling], ['(d−c)/d', r.rounds.temporalOverhead]] as const).filter(([, values]) => values.length > 1);
    if (byRound.length > 0) lines.push(`ratios within each round: ${byRound.map(([name, values]) => `${name} ${values.join(', ')} (median ${median(values)})`).join('; ')}`);
  }
  const a = r.phases.ceiling;
  if (a?.postgresMsPerBlock !== undefined) lines.push(`(a) CPU per block: postgres ${a.postgresMsPerBlock} ms${a.autovacuumMsPerBlock ? ` (+ its autovacuum workers ${a.autovacuumMsPerBlock} ms)` : ''} (the timed writes only)`);
  for (const [name, p] of rows) {
    const c = p?.cpuPerBlock;
    if (c) {
      const worker = p === r.phases.direct ? 'range activity (its process)' : 'worker';
      lines.push(`${name.slice(0, 3)} CPU per block: ${worker} ${c.workerMs} ms (main thread ${c.workerMainMs ?? '–'} ms), postgres ${c.postgresMs} ms${c.autovacuumMs ? ` (+ its autovacuum workers ${c.autovacuumMs} ms)` : ''}, chain server ${p.serverCpuMs === null ? '–' : Math.round((p.serverCpuMs / p.blocks) * 100) / 100} ms, temporal server ${c.temporalMs ?? '–'} ms, whole machine ${c.machineMs} ms of the ${Math.round((r.machine.cpus * 1000 * p.seconds / p.blocks) * 10) / 10} ms its ${r.machine.cpus} cpus had (${c.stolenMs ?? '–'} ms stolen by the hypervisor)`);
    }
  }
  const shares = r.phases.productWithWorkers?.rangesByWorker;
  if (shares) lines.push(`(c) ${r.options.workers} workers ran: ${Object.entries(shares).sort().map(([w, s]) => `${w.replace(/-\d+$/, '')} ${s.ranges} ranges, ${s.blocks} blocks`).join('; ')}`);
  const t = r.ratios;
  lines.push(`c/a ${t.productToCeiling ?? '–'}   c/b ${t.productToBaseline ?? '–'}   (d−c)/d ${t.temporalOverhead ?? '–'}${t.scaleOut === null ? '' : `   ${r.options.workers} workers / 1 worker ${t.scaleOut}`}`);
  const order = r.machine.freePageReportingOrder;
  if (order !== null && order !== undefined) {
    lines.push(`note: this virtual machine gives free memory back to its host (virtio balloon page reporting, order ${order}): phases that touch memory it gave back run slower, the ceiling's too, so the ratios move with it; runs after a pause are the slowest; \`sudo npm run bench:prepare-vm\` turns the reporting off and writes the free memory once (README, Performance: Comparable runs on a virtual machine)`);
  }
  lines.push(`written to ${r.file}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const opts = new Command('bench')
    .option('--profile <name>', 'mainnet or light', profileName, 'mainnet')
    .option('--blocks <n>', `blocks to index in each phase (default: ${Object.entries(DEFAULT_BLOCKS).map(([p, n]) => `${p} ${n}`).join(', ')})`, nonNegativeInteger)
    .option('--latency-ms <ms>', 'round trip the chain server adds to every HTTP request', nonNegativeInteger, 100)
    .option('--concurrency <n>', 'batches in flight (the workflow window, CONCURRENCY); default: the product default', nonNegativeInteger)
    .option('--batch-size <blocks>', 'blocks per batch (BATCH_SIZE): of all, or of the first ones when adaptive; default: the product default', nonNegativeInteger)
    .option('--batch-rows <rows>', 'rows later batches aim at (BATCH_ROWS; 0 = every batch has --batch-size blocks); default: the product default', nonNegativeInteger)
    .option('--max-concurrent-activities <n>', 'activities per worker (MAX_CONCURRENT_ACTIVITIES); default: the product default', nonNegativeInteger)
    .option('--fetch-buffer-mb <n>', 'MB of JSON-RPC answers a worker holds unwritten per chain (FETCH_BUFFER_MB); default: the product default', nonNegativeInteger)
    .option('--decode-threads <n>', 'threads that decode JSON-RPC answers in a worker (DECODE_THREADS; 0 = the main thread); default: the product default', nonNegativeInteger)
    .option('--workers <n>', 'worker processes for a second product run (ratio against 1 worker)', nonNegativeInteger, 1)
    .option('--rate-limit <n>', 'requests per second per worker endpoint path (0 = none)', nonNegativeInteger, 0)
    .option('--max-in-flight <n>', 'HTTP requests served at once per worker endpoint path, others wait (0 = no cap)', nonNegativeInteger, 0)
    .option('--phases <list>', 'phases to run, of a,b,c,d', 'a,b,c,d')
    .option('--rounds <n>', 'runs of (a), (d) and (c) with 1 worker, interleaved (≥ 1); each phase\'s median run is reported, and the ratios of each round', positiveInteger, 1)
    .option('--baseline-blocks <n>', 'blocks the baseline indexes at most (it is slow)', nonNegativeInteger, DEFAULT_BASELINE_BLOCKS)
    .option('--out-dir <dir>', 'where the JSON result goes', fileURLToPath(new URL('./results', import.meta.url)))
    .parse()
    .opts<Omit<BenchOptions, 'outDir' | 'blocks'> & { outDir: string; blocks?: number }>();
  const workerNodeArgs = process.env.BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean);
  const blocks = opts.blocks ?? DEFAULT_BLOCKS[opts.profile]!;
  const result = await runBench({ ...opts, blocks, ...(workerNodeArgs ? { workerNodeArgs } : {}) });
  process.stdout.write(`${formatResult(result)}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(() => process.exit(0), (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}
