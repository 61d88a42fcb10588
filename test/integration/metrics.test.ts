/**
 * Metrics and health of the real worker process (`src/worker.ts` as a child, METRICS_PORT set)
 * during a devnet sync: anvil with real traffic plus a dead second endpoint → Temporal dev server
 * → Postgres. Scrapes `/metrics` and checks every metric the README lists with exact values,
 * counters growing between scrapes, the Temporal SDK metrics merged in, `/healthz`, `/readyz`
 * (200 here, 503 with Postgres unreachable), and that every metric the Grafana dashboard queries
 * is exported.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { sql } from 'kysely';
import { connectDatabase, rangeDeleteStatements } from '../../src/db/index.js';
import { createMetrics, createReadiness, startMetricsServer } from '../../src/metrics/index.js';
import { chainSyncWorkflowId, syncProgressQuery, verifyWorkflowId, type ChainSyncInput, type VerifyInput } from '../../src/workflows/definitions.js';
import { freePort, generateTraffic, retryOnPortTaken, startAnvil, type Anvil, type TrafficSummary } from '../support/devnet.js';
import { rpc } from '../support/chain-oracle.js';
import { startWorkerProcess, type GroupProcess } from '../support/processes.js';
import { familyOf, metricNamesInPromQL, scrape, valueOf, type Scrape } from '../support/prometheus.js';
import { mine, reorg } from '../support/reorg.js';
import { createTestDatabase, startTemporal, waitFor, type TestDatabase } from '../support/stack.js';

const CHAIN_ID = 31337;
const TASK_QUEUE = 'metrics-test';
const BATCH_SIZE_BLOCKS = 4;
const CONFIRMATION_DEPTH_BLOCKS = 2;
/** Part of the dead endpoint's URL: must never appear in a scrape. */
const SECRET = 'mEtr1csS3cr3tK3y';
const DASHBOARD = new URL('../../deploy/grafana/evm-indexer.json', import.meta.url);

/** Every metric the README's metrics table lists (the Temporal SDK's come on top). */
const OWN_METRICS = [
  'evm_indexer_head_block_number', 'evm_indexer_safe_block_number', 'evm_indexer_finalized_block_number',
  'evm_indexer_target_block_number', 'evm_indexer_cursor_block_number', 'evm_indexer_lag_blocks', 'evm_indexer_lag_seconds',
  'evm_indexer_blocks_written_total', 'evm_indexer_transactions_written_total', 'evm_indexer_logs_written_total',
  'evm_indexer_range_duration_seconds', 'evm_indexer_rpc_requests_total', 'evm_indexer_rpc_errors_total',
  'evm_indexer_rpc_request_duration_seconds', 'evm_indexer_rpc_breaker_state', 'evm_indexer_rpc_in_flight_budget_requests',
  'evm_indexer_rpc_benched_seconds', 'evm_indexer_reorgs_total', 'evm_indexer_reorg_depth_blocks', 'evm_indexer_gaps_found_total',
  'evm_indexer_gap_blocks_found_total', 'evm_indexer_gap_blocks_repaired_total', 'evm_indexer_verify_blocks_checked_total',
  'evm_indexer_verify_differences_total',
];

describe('worker metrics and health endpoints during a devnet sync', () => {
  let anvil: Anvil;
  let env: TestWorkflowEnvironment;
  let database: TestDatabase;
  let worker: GroupProcess;
  let traffic: TrafficSummary;
  let handle: WorkflowHandle;
  let base: string;
  let anvilLabel: string;
  let deadLabel: string;
  const chain = { chain_id: String(CHAIN_ID) };

  const syncInput: ChainSyncInput = {
    chainId: CHAIN_ID, startBlock: 0, batchSize: BATCH_SIZE_BLOCKS, concurrency: 3, confirmationDepth: CONFIRMATION_DEPTH_BLOCKS,
    finality: 'depth', pollIntervalMs: 200, maxRetries: 0, gapCheckIntervalMs: 300,
  };
  const value = async (name: string, labels: Record<string, string> = chain) => valueOf(await scrape(`${base}/metrics`), name, labels);
  /** Waits until the sync is caught up at `target` and the worker's cursor gauge says so too; returns that scrape. */
  const synced = async (target: number): Promise<Scrape> => {
    await waitFor(`the sync to reach block ${target}`, async () => {
      const p = await handle.query(syncProgressQuery);
      return p.cursor === target && p.status === 'caught-up';
    });
    return waitFor(`the cursor gauge to reach ${target}`, async () => {
      const s = await scrape(`${base}/metrics`);
      return valueOf(s, 'evm_indexer_cursor_block_number', chain) === target ? s : undefined;
    });
  };
  const storedCount = async (table: 'transactions' | 'logs') => {
    const row = await database.db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).where('chain_id', '=', CHAIN_ID).executeTakeFirstOrThrow();
    return Number(row.n);
  };

  let startedLine: string | undefined;

  beforeAll(async () => {
    [anvil, env, database] = await Promise.all([startAnvil({ chainId: CHAIN_ID }), startTemporal(), createTestDatabase('metrics')]);
    traffic = await generateTraffic(anvil.rpcUrl);
    await rpc(anvil.rpcUrl, 'anvil_mine', ['0xa']);
    const deadPort = await freePort();
    anvilLabel = `127.0.0.1:${anvil.port}#1`;
    deadLabel = `127.0.0.1:${deadPort}#2`;
    // A metrics port another process took before the worker bound it: the worker exits (EADDRINUSE), start it on another.
    worker = await retryOnPortTaken(async () => {
      const metricsPort = await freePort();
      base = `http://127.0.0.1:${metricsPort}`;
      return startWorkerProcess({
        RPC_URL: `${anvil.rpcUrl},http://127.0.0.1:${deadPort}/v2/${SECRET}`,
        CHAIN_ID: String(CHAIN_ID),
        DATABASE_URL: database.url,
        TEMPORAL_ADDRESS: env.address,
        TASK_QUEUE,
        INSTANCE_ID: 'metrics-worker-1',
        METRICS_PORT: String(metricsPort),
        CONFIRMATION_DEPTH: String(CONFIRMATION_DEPTH_BLOCKS),
        FINALITY: 'depth',
        LOG_LEVEL: 'info',
      }, env.connection);
    });
    startedLine = worker.tail.find((line) => line.includes('"worker-started"'));
    handle = await env.client.workflow.start('chainSync', { workflowId: chainSyncWorkflowId(CHAIN_ID), taskQueue: TASK_QUEUE, args: [syncInput] });
  });

  it('logs worker-started as one JSON line with each key once (chainId too)', () => {
    expect(startedLine?.match(/"chainId":/g)).toEqual(['"chainId":']);
    expect(JSON.parse(startedLine!)).toMatchObject({ msg: 'worker-started', chainId: CHAIN_ID, taskQueue: TASK_QUEUE, instanceId: 'metrics-worker-1' });
  });

  afterAll(async () => {
    await handle?.terminate().catch(() => undefined);
    await worker?.stop();
    await env?.teardown();
    await anvil?.stop();
    await database?.drop();
  });

  it('/healthz answers 200 and /readyz 200 with Postgres, Temporal and the worker ok', async () => {
    const health = await fetch(`${base}/healthz`);
    expect([health.status, await health.text()]).toEqual([200, 'ok\n']);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, checks: { postgres: 'ok', temporal: 'ok', worker: 'ok' } });
  });

  it('/metrics shows head, target and cursor (cursor ≤ target ≤ head), lag, and what was written', async () => {
    const head = Number(BigInt(await rpc(anvil.rpcUrl, 'eth_blockNumber')));
    const target = head - CONFIRMATION_DEPTH_BLOCKS;
    const s = await synced(target);
    expect(OWN_METRICS.filter((name) => !s.families.has(name))).toEqual([]);
    expect([
      valueOf(s, 'evm_indexer_head_block_number', chain), valueOf(s, 'evm_indexer_target_block_number', chain),
      valueOf(s, 'evm_indexer_cursor_block_number', chain), valueOf(s, 'evm_indexer_lag_blocks', chain),
    ]).toEqual([head, target, target, CONFIRMATION_DEPTH_BLOCKS]);
    const tag = async (name: string) => Number(BigInt((await rpc(anvil.rpcUrl, 'eth_getBlockByNumber', [name, false])).number));
    expect([valueOf(s, 'evm_indexer_safe_block_number', chain), valueOf(s, 'evm_indexer_finalized_block_number', chain)]).toEqual([await tag('safe'), await tag('finalized')]);
    const cursorBlock = await rpc(anvil.rpcUrl, 'eth_getBlockByNumber', [`0x${target.toString(16)}`, false]);
    const lagSeconds = valueOf(s, 'evm_indexer_lag_seconds', chain)!;
    expect(lagSeconds).toBeGreaterThanOrEqual(0);
    // Not above the block's age; anvil's clock runs a few seconds ahead (blocks mined with `interval`), so the age may be negative.
    expect(lagSeconds).toBeLessThanOrEqual(Math.max(0, Date.now() / 1000 - Number(BigInt(cursorBlock.timestamp))));
    expect([
      valueOf(s, 'evm_indexer_blocks_written_total', chain), valueOf(s, 'evm_indexer_transactions_written_total', chain),
      valueOf(s, 'evm_indexer_logs_written_total', chain),
    ]).toEqual([target + 1, traffic.txCount, await storedCount('logs')]);
    expect(valueOf(s, 'evm_indexer_range_duration_seconds_count', { ...chain, outcome: 'stored' })).toBe(Math.ceil((target + 1) / BATCH_SIZE_BLOCKS));
    expect(valueOf(s, 'evm_indexer_range_duration_seconds_count', { ...chain, outcome: 'failed' })).toBe(0);
    for (const name of ['evm_indexer_reorgs_total', 'evm_indexer_gaps_found_total', 'evm_indexer_verify_differences_total']) expect([name, valueOf(s, name, chain)]).toEqual([name, 0]);
  });

  it('/metrics shows RPC requests, latency and errors per endpoint and method, breaker state and budget, without secrets', async () => {
    // The dead endpoint fails every head read (a broadcast) until its breaker opens after 5 failures.
    const s = await waitFor('the dead endpoint\'s breaker to open', async () => {
      const x = await scrape(`${base}/metrics`);
      return valueOf(x, 'evm_indexer_rpc_breaker_state', { endpoint: deadLabel, state: 'open' }) === 1 ? x : undefined;
    });
    expect(s.text).not.toContain(SECRET);
    expect(['closed', 'half-open', 'open'].map((state) => valueOf(s, 'evm_indexer_rpc_breaker_state', { endpoint: anvilLabel, state }))).toEqual([1, 0, 0]);
    expect(valueOf(s, 'evm_indexer_rpc_breaker_state', { endpoint: deadLabel, state: 'closed' })).toBe(0);
    const fullBlocks = valueOf(s, 'evm_indexer_rpc_requests_total', { endpoint: anvilLabel, method: 'eth_getBlockReceipts' })!;
    expect(fullBlocks).toBeGreaterThanOrEqual(Number(valueOf(s, 'evm_indexer_blocks_written_total', chain)));
    expect(valueOf(s, 'evm_indexer_rpc_request_duration_seconds_count', { endpoint: anvilLabel, method: 'eth_getBlockReceipts' })).toBeGreaterThan(0);
    expect(valueOf(s, 'evm_indexer_rpc_errors_total', { endpoint: anvilLabel, method: 'eth_getBlockReceipts', kind: 'transient' })).toBeUndefined();
    // Every call sent to the dead endpoint failed, as a transient error (connection refused), and
    // the 5 failed HTTP requests that opened its breaker each carried eth_getBlockByNumber (a head
    // read, or a block range the pool's 5 % exploration sent there). Counted per request, not per
    // call: an explored 2-block range carries fewer calls than a head read.
    const sum = (name: string, labels: Record<string, string>) => s.samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v)).reduce((n, x) => n + x.value, 0);
    const deadCalls = sum('evm_indexer_rpc_requests_total', { endpoint: deadLabel });
    expect(sum('evm_indexer_rpc_errors_total', { endpoint: deadLabel })).toBe(deadCalls);
    expect(sum('evm_indexer_rpc_errors_total', { endpoint: deadLabel, kind: 'transient' })).toBe(deadCalls);
    expect(valueOf(s, 'evm_indexer_rpc_request_duration_seconds_count', { endpoint: deadLabel, method: 'eth_getBlockByNumber' })).toBeGreaterThanOrEqual(5);
    const budget = valueOf(s, 'evm_indexer_rpc_in_flight_budget_requests', { endpoint: anvilLabel })!;
    expect(budget >= 1 && budget <= 16).toBe(true);
    expect(valueOf(s, 'evm_indexer_rpc_benched_seconds', { endpoint: anvilLabel })).toBe(0);
  });

  it('/metrics includes the Temporal SDK (Core) metrics with Prometheus naming', async () => {
    const s = await scrape(`${base}/metrics`);
    const temporal = [...s.families.keys()].filter((name) => name.startsWith('temporal_'));
    expect(temporal).toContain('temporal_activity_execution_latency_seconds');
    expect(temporal).toContain('temporal_workflow_task_schedule_to_start_latency_seconds');
    expect(s.samples.some((x) => x.name === 'temporal_worker_task_slots_available' && x.labels.task_queue === TASK_QUEUE)).toBe(true);
    // The sync's stall watchdog reports through the SDK's workflow metric meter.
    expect(s.samples.filter((x) => x.name === 'evm_indexer_sync_stalled_seconds').map((x) => [x.labels.chain_id, x.value])).toEqual([['31337', 0]]);
    // Its labels as the README's metrics table names them (the SDK's workflow meter: taskQueue, workflowType).
    const stalled = s.samples.find((x) => x.name === 'evm_indexer_sync_stalled_seconds')!;
    expect(Object.keys(stalled.labels).sort()).toEqual(['chain_id', 'namespace', 'taskQueue', 'workflowType']);
    expect([stalled.labels.taskQueue, stalled.labels.workflowType]).toEqual([TASK_QUEUE, 'chainSync']);
  });

  it('counters grow between two scrapes after more blocks are mined', async () => {
    const before = await scrape(`${base}/metrics`);
    const head = await mine(anvil.rpcUrl, 10);
    const after = await synced(head - CONFIRMATION_DEPTH_BLOCKS);
    const grew = (name: string, labels: Record<string, string> = chain) => valueOf(after, name, labels)! - valueOf(before, name, labels)!;
    expect(grew('evm_indexer_blocks_written_total')).toBe(10);
    expect(grew('evm_indexer_head_block_number')).toBe(10);
    expect(grew('evm_indexer_rpc_requests_total', { endpoint: anvilLabel, method: 'eth_getBlockReceipts' })).toBeGreaterThanOrEqual(10);
    expect(grew('evm_indexer_range_duration_seconds_count', { ...chain, outcome: 'stored' })).toBeGreaterThanOrEqual(3);
    expect(grew('process_cpu_seconds_total', {})).toBeGreaterThan(0);
  });

  it('log lines of a range activity carry instance id, chain id, workflow id and range (JSON, not a terminal)', async () => {
    const stored = worker.tail.flatMap((line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        return entry.msg === 'batch-stored' ? [entry] : [];
      } catch {
        return [];
      }
    });
    expect(stored.length).toBeGreaterThan(0);
    const last = stored.at(-1)!;
    expect(last).toMatchObject({ level: 30, instanceId: 'metrics-worker-1', chainId: CHAIN_ID, workflowId: chainSyncWorkflowId(CHAIN_ID), activity: 'indexRange', attempt: 1 });
    expect([typeof last.from, typeof last.to, typeof last.durationMs, typeof last.time]).toEqual(['number', 'number', 'number', 'string']);
  });

  it('a gap made below the cursor is counted as found and repaired', async () => {
    const db = database.db;
    const written = Number(await value('evm_indexer_blocks_written_total'));
    await db.transaction().execute(async (trx) => {
      for (const statement of rangeDeleteStatements(CHAIN_ID, { from: 5, to: 7 })) await sql.raw(statement).execute(trx);
      await trx.deleteFrom('blocks').where('chain_id', '=', CHAIN_ID).where('number', '>=', 5).where('number', '<=', 7).execute();
    });
    await waitFor('the gap to be repaired', async () => (await value('evm_indexer_gap_blocks_repaired_total')) === 3);
    const s = await scrape(`${base}/metrics`);
    expect([
      valueOf(s, 'evm_indexer_gaps_found_total', chain), valueOf(s, 'evm_indexer_gap_blocks_found_total', chain),
      valueOf(s, 'evm_indexer_gap_blocks_repaired_total', chain), valueOf(s, 'evm_indexer_blocks_written_total', chain),
    ]).toEqual([1, 3, 3, written + 3]);
  });

  it('a reorg is counted with its depth', async () => {
    const head = Number(BigInt(await rpc(anvil.rpcUrl, 'eth_blockNumber')));
    const cursor = head - CONFIRMATION_DEPTH_BLOCKS;
    await synced(cursor);
    const { replacedFrom } = await reorg(anvil.rpcUrl, 4); // replaces head−3..head: the two stored blocks at the top are orphaned
    await mine(anvil.rpcUrl, 3); // the seam the sync notices the reorg at
    await synced(head + 3 - CONFIRMATION_DEPTH_BLOCKS);
    const s = await scrape(`${base}/metrics`);
    const reorgDepth = cursor - (replacedFrom - 1);
    expect(reorgDepth).toBe(2);
    expect([
      valueOf(s, 'evm_indexer_reorgs_total', chain), valueOf(s, 'evm_indexer_reorg_depth_blocks_count', chain),
      valueOf(s, 'evm_indexer_reorg_depth_blocks_sum', chain), valueOf(s, 'evm_indexer_reorg_depth_blocks_bucket', { ...chain, le: '1' }),
      valueOf(s, 'evm_indexer_reorg_depth_blocks_bucket', { ...chain, le: '2' }),
    ]).toEqual([1, 1, reorgDepth, 0, 1]);
  });

  it('a verify run is counted: blocks checked and differences', async () => {
    const input: VerifyInput = { chainId: CHAIN_ID, from: 0, to: 9 };
    const report = await env.client.workflow.execute('verify', { workflowId: verifyWorkflowId(CHAIN_ID, 0, 9), taskQueue: TASK_QUEUE, args: [input] });
    expect([report.checkedBlocks, report.differenceCount]).toEqual([10, 0]);
    const s = await scrape(`${base}/metrics`);
    expect([valueOf(s, 'evm_indexer_verify_blocks_checked_total', chain), valueOf(s, 'evm_indexer_verify_differences_total', chain)]).toEqual([10, 0]);
  });

  it('every metric the Grafana dashboard queries is exported by the worker', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThanOrEqual(10);
    const queried = [...new Set(exprs.flatMap(metricNamesInPromQL))].sort();
    const s = await scrape(`${base}/metrics`);
    expect(queried.filter((name) => !s.samples.some((x) => x.name === name) && familyOf(s, name) === undefined)).toEqual([]);
    expect(queried.filter((name) => name.startsWith('evm_indexer_')).length).toBeGreaterThanOrEqual(15);
  });
});

describe('/readyz with Postgres unreachable', () => {
  it('answers 503 naming the failed check, while /healthz stays 200', async () => {
    const deadPort = await freePort();
    const db = connectDatabase(`postgres://indexer:indexer@127.0.0.1:${deadPort}/indexer`);
    const metrics = createMetrics({ chainIds: [CHAIN_ID], finality: 'depth', confirmationDepth: 2 });
    const readiness = createReadiness({
      postgres: async () => void (await sql`select 1`.execute(db)),
      worker: async () => undefined,
    });
    const server = await startMetricsServer({ port: 0, host: '127.0.0.1', render: metrics.render, contentType: metrics.contentType, readiness });
    try {
      const ready = await fetch(`http://127.0.0.1:${server.port}/readyz`);
      expect(ready.status).toBe(503);
      const body = (await ready.json()) as { ready: boolean; checks: Record<string, string> };
      expect(body.ready).toBe(false);
      expect(body.checks.worker).toBe('ok');
      expect(body.checks.postgres).toMatch(/ECONNREFUSED/);
      expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${server.port}/nope`)).status).toBe(404);
    } finally {
      await server.close();
      await db.destroy();
    }
  });
});
