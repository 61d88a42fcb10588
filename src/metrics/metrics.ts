import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ActivityObserver } from '../activities/index.js';
import { syncTarget, type Finality } from '../domain/index.js';
import type { EndpointHealth, RpcObserver } from '../rpc/index.js';

/** Prefix of every metric this project defines (Prometheus naming: `<namespace>_<name>_<unit>`). */
export const METRIC_PREFIX = 'evm_indexer_';
/** Buckets of `indexRange` durations, in seconds: a batch takes from tens of ms (devnet) to minutes. */
const RANGE_DURATION_BUCKETS_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Buckets of one JSON-RPC HTTP request, in seconds: up to the default RPC_TIMEOUT of 15 s. */
const RPC_DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30];
/** Buckets of reorg depths, in blocks: most reorgs are 1–2 blocks, a deep one is a page. */
const REORG_DEPTH_BUCKETS_BLOCKS = [1, 2, 3, 5, 8, 13, 21, 34, 64, 128, 256];
/** Circuit breaker states, one series each (1 for the current state, 0 otherwise). */
const BREAKER_STATES = ['closed', 'half-open', 'open'] as const;

/** What one worker last saw of a chain; lag gauges are computed from it at scrape time. */
type ChainState = { head: number | null; cursor: number | null; cursorTimestampSeconds: number | null };

/**
 * The Prometheus metrics of one worker process (prom-client), with observers to hand to the RPC
 * pool and the activities. Every metric is listed, with its labels and meaning, in the README's
 * "Operations / metrics" section; names follow Prometheus conventions (`evm_indexer_` prefix,
 * unit in the name, `_total` counters). Gauges hold what this worker last saw: with several
 * replicas, take `max by (chain_id)` over them.
 * Invariant: every chain in `chainIds` has all its counter and histogram series from the start (at 0).
 */
export type Metrics = {
  /** The registry holding every metric (and Node's default process metrics). */
  readonly registry: Registry;
  /** Observer for `createActivities({ observer })`. */
  readonly activities: ActivityObserver;
  /** Observer for the RPC pool of chain `chainId` (`createRpcPool({ observer })`). */
  rpcObserver(chainId: number): RpcObserver;
  /** Reads breaker state and request budget of `pool`'s endpoints at each scrape. */
  watchPool(chainId: number, pool: { health(): EndpointHealth[] }): void;
  /** The Prometheus text exposition (format 0.0.4) of every metric. */
  render(): Promise<string>;
  /** Content-Type of {@link Metrics.render}'s text. */
  readonly contentType: string;
};

/**
 * Creates the metrics of one worker. `finality` and `confirmationDepth` are this worker's
 * `FINALITY` and `CONFIRMATION_DEPTH`, used to compute the target block the way the sync does
 * (`syncTarget`). `nowMs` is the clock for `lag_seconds` (default `Date.now`).
 * @example const metrics = createMetrics({ chainIds: [1], finality: 'finalized', confirmationDepth: 12 });
 */
export function createMetrics(options: { chainIds: readonly number[]; finality: Finality; confirmationDepth: number; nowMs?: () => number }): Metrics {
  const nowMs = options.nowMs ?? Date.now;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const chains = new Map<number, ChainState>();
  const pools: { chainId: string; pool: { health(): EndpointHealth[] } }[] = [];
  const registers = [registry];
  const chainLabel = ['chain_id'] as const;
  const endpointLabels = ['chain_id', 'endpoint'] as const;

  const gauge = (name: string, help: string) => new Gauge({ name: METRIC_PREFIX + name, help, labelNames: chainLabel, registers });
  const counter = (name: string, help: string) => new Counter({ name: METRIC_PREFIX + name, help, labelNames: chainLabel, registers });

  const head = gauge('head_block_number', 'Highest block number the RPC pool reports for `latest` (last read by this worker).');
  const safe = gauge('safe_block_number', 'Block number of the `safe` tag (absent when the chain has none).');
  const finalized = gauge('finalized_block_number', 'Block number of the `finalized` tag (absent when the chain has none).');
  const target = gauge('target_block_number', 'Highest block the sync may store: the finality tag, or head minus CONFIRMATION_DEPTH.');
  const cursor = gauge('cursor_block_number', 'Last block committed contiguously for the chain (the cursor).');
  new Gauge({
    name: `${METRIC_PREFIX}lag_blocks`, help: 'Blocks between the head and the cursor.', labelNames: chainLabel, registers,
    collect() {
      this.reset();
      for (const [chainId, s] of chains) if (s.head !== null && s.cursor !== null) this.set({ chain_id: String(chainId) }, Math.max(0, s.head - s.cursor));
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}lag_seconds`, help: 'Seconds between now and the timestamp of the cursor block (grows while the cursor stalls).', labelNames: chainLabel, registers,
    collect() {
      this.reset();
      const now = nowMs() / 1000;
      for (const [chainId, s] of chains) if (s.cursorTimestampSeconds !== null) this.set({ chain_id: String(chainId) }, Math.max(0, now - s.cursorTimestampSeconds));
    },
  });
  const blocksWritten = counter('blocks_written_total', 'Blocks written to Postgres by indexRange (a rewrite counts again).');
  const transactionsWritten = counter('transactions_written_total', 'Transactions (with receipts) written to Postgres by indexRange.');
  const logsWritten = counter('logs_written_total', 'Event logs written to Postgres by indexRange.');
  const rangeDuration = new Histogram({
    name: `${METRIC_PREFIX}range_duration_seconds`, help: 'Duration of indexRange activities (fetch, validate, write), by outcome (stored or failed).',
    labelNames: ['chain_id', 'outcome'], buckets: RANGE_DURATION_BUCKETS_SECONDS, registers,
  });
  const reorgs = counter('reorgs_total', 'Reorgs rolled back (stored blocks that left the canonical chain).');
  const reorgDepth = new Histogram({
    name: `${METRIC_PREFIX}reorg_depth_blocks`, help: 'Depth of the reorgs rolled back: stored blocks replaced.',
    labelNames: chainLabel, buckets: REORG_DEPTH_BUCKETS_BLOCKS, registers,
  });
  const gapsFound = counter('gaps_found_total', 'Gaps (missing ranges below the cursor) found by the gap check.');
  const gapBlocksFound = counter('gap_blocks_found_total', 'Blocks in the gaps found by the gap check.');
  const gapBlocksRepaired = counter('gap_blocks_repaired_total', 'Blocks re-indexed to repair gaps.');
  const verifyChecked = counter('verify_blocks_checked_total', 'Blocks compared with the chain by verifyRange.');
  const verifyDifferences = counter('verify_differences_total', 'Differences between Postgres and the chain found by verifyRange.');

  const rpcRequests = new Counter({
    name: `${METRIC_PREFIX}rpc_requests_total`, help: 'JSON-RPC calls sent, per endpoint (redacted label host#n) and method; a batch counts each call.',
    labelNames: ['chain_id', 'endpoint', 'method'], registers,
  });
  const rpcErrors = new Counter({
    name: `${METRIC_PREFIX}rpc_errors_total`, help: 'JSON-RPC calls in failed requests, per endpoint, method and kind (rate-limit, transient, unsupported, bad-response, invalid-request, batch-too-large, circuit-open).',
    labelNames: ['chain_id', 'endpoint', 'method', 'kind'], registers,
  });
  const rpcDuration = new Histogram({
    name: `${METRIC_PREFIX}rpc_request_duration_seconds`, help: 'Duration of JSON-RPC HTTP requests (one batch), per endpoint and each method the batch carried.',
    labelNames: ['chain_id', 'endpoint', 'method'], buckets: RPC_DURATION_BUCKETS_SECONDS, registers,
  });
  new Gauge({
    name: `${METRIC_PREFIX}rpc_breaker_state`, help: 'Circuit breaker state per endpoint: 1 for the current state (closed, half-open, open), 0 for the others.',
    labelNames: [...endpointLabels, 'state'], registers,
    collect() {
      this.reset();
      for (const { chainId, pool } of pools) {
        for (const h of pool.health()) for (const state of BREAKER_STATES) this.set({ chain_id: chainId, endpoint: h.endpoint, state }, h.breaker === state ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}rpc_in_flight_budget_requests`, help: 'Adaptive budget of HTTP requests in flight per endpoint (halved on rate limits, grown on success).',
    labelNames: endpointLabels, registers,
    collect() {
      this.reset();
      for (const { chainId, pool } of pools) for (const h of pool.health()) this.set({ chain_id: chainId, endpoint: h.endpoint }, h.inFlightBudget);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}rpc_benched_seconds`, help: 'Seconds an endpoint stays benched after a rate limit (0 when usable).',
    labelNames: endpointLabels, registers,
    collect() {
      this.reset();
      for (const { chainId, pool } of pools) for (const h of pool.health()) this.set({ chain_id: chainId, endpoint: h.endpoint }, h.benchedForMs / 1000);
    },
  });

  const stateOf = (chainId: number): ChainState => {
    let s = chains.get(chainId);
    if (!s) {
      s = { head: null, cursor: null, cursorTimestampSeconds: null };
      chains.set(chainId, s);
      const labels = { chain_id: String(chainId) };
      for (const c of [blocksWritten, transactionsWritten, logsWritten, reorgs, gapsFound, gapBlocksFound, gapBlocksRepaired, verifyChecked, verifyDifferences]) c.inc(labels, 0);
      for (const outcome of ['stored', 'failed']) rangeDuration.zero({ ...labels, outcome });
      reorgDepth.zero(labels);
    }
    return s;
  };
  for (const chainId of options.chainIds) stateOf(chainId);

  const activities: ActivityObserver = {
    onChainHead(chainId, chainHead) {
      const labels = { chain_id: String(chainId) };
      stateOf(chainId).head = chainHead.head;
      head.set(labels, chainHead.head);
      if (chainHead.safeBlockNumber !== null) safe.set(labels, chainHead.safeBlockNumber);
      if (chainHead.finalizedBlockNumber !== null) finalized.set(labels, chainHead.finalizedBlockNumber);
      target.set(labels, syncTarget(chainHead, options.finality, options.confirmationDepth).target);
    },
    onCursor(chainId, blockNumber, blockTimestampSeconds) {
      const s = stateOf(chainId);
      s.cursor = blockNumber;
      s.cursorTimestampSeconds = blockTimestampSeconds;
      cursor.set({ chain_id: String(chainId) }, blockNumber);
    },
    onRangeFinished(chainId, durationMs, batch, gapRepair) {
      stateOf(chainId);
      const labels = { chain_id: String(chainId) };
      rangeDuration.observe({ ...labels, outcome: batch ? 'stored' : 'failed' }, durationMs / 1000);
      if (!batch) return;
      blocksWritten.inc(labels, batch.blockCount);
      transactionsWritten.inc(labels, batch.transactionCount);
      logsWritten.inc(labels, batch.logCount);
      if (gapRepair) gapBlocksRepaired.inc(labels, batch.blockCount);
    },
    onReorg(chainId, depth) {
      stateOf(chainId);
      reorgs.inc({ chain_id: String(chainId) });
      reorgDepth.observe({ chain_id: String(chainId) }, depth);
    },
    onGapsFound(chainId, gaps) {
      stateOf(chainId);
      gapsFound.inc({ chain_id: String(chainId) }, gaps.length);
      gapBlocksFound.inc({ chain_id: String(chainId) }, gaps.reduce((sum, g) => sum + g.to - g.from + 1, 0));
    },
    onVerified(chainId, result) {
      stateOf(chainId);
      verifyChecked.inc({ chain_id: String(chainId) }, result.checkedBlocks);
      verifyDifferences.inc({ chain_id: String(chainId) }, result.differenceCount);
    },
  };

  return {
    registry,
    activities,
    rpcObserver: (chainId) => ({
      onRequest(event) {
        for (const [method, calls] of Object.entries(event.calls)) {
          const labels = { chain_id: String(chainId), endpoint: event.endpoint, method };
          rpcRequests.inc(labels, calls);
          rpcDuration.observe(labels, event.durationMs / 1000);
          if (event.failure !== null) rpcErrors.inc({ ...labels, kind: event.failure }, calls);
        }
      },
    }),
    watchPool(chainId, pool) {
      pools.push({ chainId: String(chainId), pool });
    },
    render: () => registry.metrics(),
    contentType: registry.contentType,
  };
}
