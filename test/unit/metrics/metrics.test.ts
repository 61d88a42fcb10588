import { describe, expect, it } from 'vitest';
import { RpcBadResponseError, RpcBatchTooLargeError, RpcTransientError, RpcUnsupportedError } from '../../../src/errors.js';
import { createMetrics } from '../../../src/metrics/index.js';
import { failureKind } from '../../../src/rpc/index.js';
import { metricNamesInPromQL, parsePrometheusText, valueOf } from '../../support/prometheus.js';

const chain = { chain_id: '1' };
const NOW_MS = 1_700_000_100_000;

async function scrapeOf(metrics: ReturnType<typeof createMetrics>) {
  return parsePrometheusText(await metrics.render());
}

describe('createMetrics()', () => {
  it('exports every counter of a configured chain at 0 before anything happened', async () => {
    const s = await scrapeOf(createMetrics({ chainIds: [1], finality: 'depth', confirmationDepth: 12 }));
    const counters = ['blocks_written_total', 'transactions_written_total', 'logs_written_total', 'reorgs_total', 'gaps_found_total',
      'gap_blocks_found_total', 'gap_blocks_repaired_total', 'verify_blocks_checked_total', 'verify_differences_total'];
    expect(counters.map((c) => valueOf(s, `evm_indexer_${c}`, chain))).toEqual(counters.map(() => 0));
    expect(valueOf(s, 'evm_indexer_range_duration_seconds_count', { ...chain, outcome: 'failed' })).toBe(0);
    expect(valueOf(s, 'evm_indexer_head_block_number', chain)).toBeUndefined();
  });

  it.each([
    ['depth', 88],
    ['safe', 90],
    ['finalized', 80],
  ] as const)('computes the target with FINALITY=%s as %i (head 100, safe 90, finalized 80, depth 12)', async (finality, target) => {
    const metrics = createMetrics({ chainIds: [1], finality, confirmationDepth: 12 });
    metrics.activities.onChainHead(1, { head: 100, headHash: '0xaa', safeBlockNumber: 90, finalizedBlockNumber: 80 });
    const s = await scrapeOf(metrics);
    expect(['head', 'safe', 'finalized', 'target'].map((n) => valueOf(s, `evm_indexer_${n}_block_number`, chain))).toEqual([100, 90, 80, target]);
  });

  it('computes lag in blocks from head and cursor, and in seconds from the cursor block timestamp', async () => {
    const metrics = createMetrics({ chainIds: [1], finality: 'depth', confirmationDepth: 0, nowMs: () => NOW_MS });
    metrics.activities.onChainHead(1, { head: 100, headHash: '0xaa', safeBlockNumber: null, finalizedBlockNumber: null });
    metrics.activities.onCursor(1, 95, 1_700_000_040);
    const s = await scrapeOf(metrics);
    expect([valueOf(s, 'evm_indexer_cursor_block_number', chain), valueOf(s, 'evm_indexer_lag_blocks', chain), valueOf(s, 'evm_indexer_lag_seconds', chain)]).toEqual([95, 5, 60]);
    expect(valueOf(s, 'evm_indexer_safe_block_number', chain)).toBeUndefined();
  });

  it('counts stored and failed ranges, rows written, repaired gap blocks, reorgs, gaps and verify results', async () => {
    const metrics = createMetrics({ chainIds: [1], finality: 'depth', confirmationDepth: 0 });
    const batch = { from: 10, to: 13, firstParentHash: '0x01', lastHash: '0x02', blockCount: 4, transactionCount: 7, logCount: 3 };
    metrics.activities.onRangeFinished(1, 250, batch, false);
    metrics.activities.onRangeFinished(1, 1500, batch, true);
    metrics.activities.onRangeFinished(1, 40, null, false);
    metrics.activities.onReorg(1, 3);
    metrics.activities.onGapsFound(1, [{ from: 5, to: 7, belowHash: null, aboveParentHash: null }, { from: 20, to: 20, belowHash: null, aboveParentHash: null }]);
    metrics.activities.onVerified(1, { checkedBlocks: 50, differenceCount: 2, differences: [] });
    const s = await scrapeOf(metrics);
    const v = (name: string, labels: Record<string, string> = chain) => valueOf(s, `evm_indexer_${name}`, labels);
    expect([v('blocks_written_total'), v('transactions_written_total'), v('logs_written_total'), v('gap_blocks_repaired_total')]).toEqual([8, 14, 6, 4]);
    expect([v('range_duration_seconds_count', { ...chain, outcome: 'stored' }), v('range_duration_seconds_sum', { ...chain, outcome: 'stored' })]).toEqual([2, 1.75]);
    expect([v('range_duration_seconds_count', { ...chain, outcome: 'failed' }), v('range_duration_seconds_bucket', { ...chain, outcome: 'stored', le: '0.25' })]).toEqual([1, 1]);
    expect([v('reorgs_total'), v('reorg_depth_blocks_sum'), v('reorg_depth_blocks_bucket', { ...chain, le: '2' }), v('reorg_depth_blocks_bucket', { ...chain, le: '3' })]).toEqual([1, 3, 0, 1]);
    expect([v('gaps_found_total'), v('gap_blocks_found_total'), v('verify_blocks_checked_total'), v('verify_differences_total')]).toEqual([2, 4, 50, 2]);
  });

  it('counts RPC calls and errors per method, and reads breaker state and budget from the pool at each scrape', async () => {
    const metrics = createMetrics({ chainIds: [1], finality: 'depth', confirmationDepth: 0 });
    const observer = metrics.rpcObserver(1);
    observer.onRequest({ endpoint: 'a.example#1', calls: { eth_getBlockByNumber: 2, eth_getBlockReceipts: 2 }, durationMs: 120, failure: null });
    observer.onRequest({ endpoint: 'b.example#2', calls: { eth_getBlockByNumber: 3 }, durationMs: 5000, failure: 'rate-limit' });
    let breaker: 'closed' | 'open' | 'half-open' = 'open';
    const health = () => [{ endpoint: 'b.example#2', requests: 1, errors: {}, latencyMs: 5000, breaker, inFlightBudget: 4, benchedForMs: 2500, maxBatchCalls: 200, unsupportedMethods: [], excluded: false }];
    metrics.watchPool(1, { health });
    const ep = (endpoint: string, more: Record<string, string> = {}) => ({ ...chain, endpoint, ...more });
    const s = await scrapeOf(metrics);
    expect([
      valueOf(s, 'evm_indexer_rpc_requests_total', ep('a.example#1', { method: 'eth_getBlockReceipts' })),
      valueOf(s, 'evm_indexer_rpc_requests_total', ep('b.example#2', { method: 'eth_getBlockByNumber' })),
      valueOf(s, 'evm_indexer_rpc_errors_total', ep('b.example#2', { method: 'eth_getBlockByNumber', kind: 'rate-limit' })),
      valueOf(s, 'evm_indexer_rpc_request_duration_seconds_sum', ep('a.example#1', { method: 'eth_getBlockByNumber' })),
    ]).toEqual([2, 3, 3, 0.12]);
    expect(['closed', 'half-open', 'open'].map((state) => valueOf(s, 'evm_indexer_rpc_breaker_state', ep('b.example#2', { state })))).toEqual([0, 0, 1]);
    expect([valueOf(s, 'evm_indexer_rpc_in_flight_budget_requests', ep('b.example#2')), valueOf(s, 'evm_indexer_rpc_benched_seconds', ep('b.example#2'))]).toEqual([4, 2.5]);
    breaker = 'closed';
    const later = await scrapeOf(metrics);
    expect(['closed', 'half-open', 'open'].map((state) => valueOf(later, 'evm_indexer_rpc_breaker_state', ep('b.example#2', { state })))).toEqual([1, 0, 0]);
  });
});

describe('failureKind()', () => {
  it.each([
    ['a rate-limited RpcTransientError', new RpcTransientError('x', { rateLimited: true }), 'rate-limit'],
    ['a plain RpcTransientError', new RpcTransientError('x'), 'transient'],
    ['RpcUnsupportedError', new RpcUnsupportedError('x'), 'unsupported'],
    ['RpcBadResponseError', new RpcBadResponseError('x'), 'bad-response'],
    ['RpcBatchTooLargeError', new RpcBatchTooLargeError('x'), 'batch-too-large'],
    ['an unknown Error', new Error('x'), 'transient'],
  ])('classifies %s as %s', (_name, err, kind) => {
    expect(failureKind(err)).toBe(kind);
  });
});

describe('metricNamesInPromQL()', () => {
  it.each([
    ['max by (chain_id) (evm_indexer_lag_blocks{chain_id=~"$chain_id"})', ['evm_indexer_lag_blocks']],
    ['histogram_quantile(0.95, sum by (le, endpoint) (rate(evm_indexer_rpc_request_duration_seconds_bucket{state!="closed"}[$__rate_interval])))', ['evm_indexer_rpc_request_duration_seconds_bucket']],
    ['sum by (instance) (process_resident_memory_bytes{job=~"$job"}) / 1e9', ['process_resident_memory_bytes']],
    ['evm_indexer_head_block_number - on (chain_id) evm_indexer_cursor_block_number', ['evm_indexer_cursor_block_number', 'evm_indexer_head_block_number']],
  ])('finds the metrics of %s', (expr, names) => {
    expect(metricNamesInPromQL(expr)).toEqual(names);
  });
});
