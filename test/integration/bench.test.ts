/**
 * A small run of the throughput bench (`bench/run.ts`), so it cannot rot: 300 light blocks through
 * every phase (ceiling, seed baseline, product with a worker process on a Temporal dev server,
 * range activity without Temporal), (a), (c) and (d) in two rounds. No timing is asserted; the
 * rows each run stored must be exactly the generated ones, and the JSON result must carry every
 * field.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatResult, median, medianRun, runBench, type BenchResult } from '../../bench/run.js';
import { countGenerated } from '../../bench/phases/ceiling.js';
import { createSyntheticChain, PROFILES } from '../../bench/synthetic-chain.js';

const BLOCKS = 300;
/** What the deterministic light chain holds in blocks 0..299 (10 ± 2 transactions, 2 logs each on average). */
const GENERATED = { blocks: 300, transactions: 3022, logs: 6048, withdrawals: 0 };

const outDir = mkdtempSync(join(tmpdir(), 'bench-test-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('npm run bench', () => {
  it('runs every phase over 300 light blocks, (a), (c) and (d) twice, each run storing exactly the generated rows, and writes the JSON result', async () => {
    expect(await countGenerated(createSyntheticChain(PROFILES.light!, 1), BLOCKS)).toEqual(GENERATED);
    const result = await runBench({ profile: 'light', blocks: BLOCKS, latencyMs: 10, workers: 1, rateLimit: 0, phases: 'a,b,c,d', baselineBlocks: BLOCKS, outDir, rounds: 2 });

    // Two rounds of (a), (d) and (c): every run stored the rows; the table's run is each phase's slower one.
    for (const [runs, shown] of [[result.rounds.ceiling, result.phases.ceiling], [result.rounds.direct, result.phases.direct], [result.rounds.product, result.phases.product]] as const) {
      expect(runs).toHaveLength(2);
      for (const run of runs) expect([run.blocks, run.rows, run.rowsMatch]).toEqual([BLOCKS, GENERATED, true]);
      expect(shown).toBe(medianRun(runs));
      expect(shown!.blocksPerSecond).toBe(Math.min(...runs.map((run) => run.blocksPerSecond)));
    }
    // The ratios within each round pair the runs of the same round.
    const within = (x: number, y: number) => Math.round((x / y) * 1000) / 1000;
    expect(result.rounds.productToCeiling).toEqual([0, 1].map((i) => within(result.rounds.product[i]!.blocksPerSecond, result.rounds.ceiling[i]!.blocksPerSecond)));
    expect(result.rounds.temporalOverhead).toEqual([0, 1].map((i) => {
      const [c, d] = [result.rounds.product[i]!.blocksPerSecond, result.rounds.direct[i]!.blocksPerSecond];
      return Math.round(((d - c) / d) * 1000) / 1000;
    }));
    const printed = formatResult(result).split('\n');
    expect(printed).toContain(`ratios within each round: c/a ${result.rounds.productToCeiling.join(', ')} (median ${median(result.rounds.productToCeiling)}); (d−c)/d ${result.rounds.temporalOverhead.join(', ')} (median ${median(result.rounds.temporalOverhead)})`);
    expect(printed).toContain(`(c) worker peak RSS in each round: ${result.rounds.product.map((run) => run.workerPeakRssMb).join(', ')} MB`);
    const rs = (runs: readonly { blocksPerSecond: number }[]) => runs.map((run) => run.blocksPerSecond).join(', ');
    expect(printed).toContain(`rounds, blocks/s in the order run: (a) ${rs(result.rounds.ceiling)}; (d) ${rs(result.rounds.direct)}; (c) ${rs(result.rounds.product)}; the table, the CPU lines and the ratios are each phase's median run`);

    for (const phase of [result.phases.ceiling, result.phases.baseline, result.phases.product, result.phases.direct]) {
      expect(phase).not.toBeNull();
      expect(phase!.blocks).toBe(BLOCKS);
      expect(phase!.rows).toEqual(GENERATED);
      expect(phase!.rowsMatch).toBe(true);
    }
    expect(result.phases.productWithWorkers).toBeNull();
    // One JSON-RPC batch of 10 blocks (20 calls) per HTTP request in the product; 2 requests per block in the baseline.
    expect(result.phases.baseline!.rpcRequestsPerBlock).toBe(2);
    // Phase (d) reads the head first, as the sync does (latest, safe and finalized: 3 calls), then 2 calls per block: 603 / 300.
    expect(result.phases.direct!.rpcCallsPerBlock).toBe(2.01);
    // Phase (d) runs in a child process of its own, whose CPU is measured like the worker's.
    const directCpu = result.phases.direct!.cpuPerBlock!;
    expect(directCpu.workerMs).toBeGreaterThan(0);
    expect(directCpu.workerMainMs).toBeLessThanOrEqual(directCpu.workerMs);
    expect(result.phases.product!.workers).toBe(1);
    expect(result.phases.product!.workerPeakRssMb).toBeGreaterThan(0);
    // The worker parses and writes every block, Postgres stores it: both spend CPU; the machine at least their sum.
    const cpu = result.phases.product!.cpuPerBlock!;
    expect(Object.keys(cpu).sort()).toEqual(['autovacuumMs', 'machineMs', 'postgresMs', 'stolenMs', 'temporalMs', 'workerMainMs', 'workerMs']);
    expect(cpu.autovacuumMs).toBeGreaterThanOrEqual(0); // Postgres's autovacuum workers, watched apart (they come and go)
    expect(result.phases.ceiling!.autovacuumMsPerBlock).toBeGreaterThanOrEqual(0);
    expect(cpu.workerMs).toBeGreaterThan(0);
    expect(cpu.workerMainMs).toBeGreaterThan(0); // its JavaScript thread, part of the process's time
    expect(cpu.workerMainMs).toBeLessThanOrEqual(cpu.workerMs);
    expect(cpu.postgresMs).toBeGreaterThan(0);
    expect(cpu.temporalMs).toBeGreaterThanOrEqual(0); // the dev server's share (a number: its processes were found and read)
    expect(cpu.stolenMs).toBeGreaterThanOrEqual(0);
    expect(cpu.machineMs).toBeGreaterThanOrEqual(cpu.workerMs + cpu.postgresMs - 1); // ticks are 10 ms; one decimal

    const written = JSON.parse(readFileSync(result.file, 'utf8')) as BenchResult;
    expect(Object.keys(written).sort()).toEqual(['command', 'file', 'generated', 'machine', 'options', 'phases', 'productInput', 'ratios', 'rounds', 'startedAt', 'transcoder']);
    expect(written.rounds.product.map((run) => run.blocksPerSecond)).toEqual(result.rounds.product.map((run) => run.blocksPerSecond));
    expect(written.transcoder).toBe('native'); // scripts/test builds it (scripts/setup)
    expect(Object.keys(written.ratios).sort()).toEqual(['productToBaseline', 'productToCeiling', 'scaleOut', 'temporalOverhead']);
    for (const key of ['productToBaseline', 'productToCeiling', 'temporalOverhead'] as const) expect(typeof written.ratios[key]).toBe('number');
    expect(written.ratios.scaleOut).toBeNull();
    expect(Object.keys(written.phases.product!).sort()).toEqual([
      'blocks', 'blocksPerSecond', 'cpuPerBlock', 'rangesByWorker', 'rows', 'rowsMatch', 'rowsPerSecond', 'rpcCallsPerBlock', 'rpcRequestsPerBlock', 'seconds', 'serverCpuMs', 'workerPeakRssMb', 'workers',
    ]);
    // The sync's history names the one worker and the ranges it ran: 300 blocks in 3 batches of BATCH_SIZE (100) at first.
    const shares = Object.entries(written.phases.product!.rangesByWorker!);
    expect(shares.map(([worker, share]) => [worker.replace(/-\d+$/, ''), share])).toEqual([['bench-w1', { ranges: 3, blocks: BLOCKS }]]);
    expect(written.generated).toEqual({ blocks: BLOCKS, transactionsPerBlock: 10, logsPerBlock: 20 });
    expect(written.productInput).toMatchObject({ chainId: 1, startBlock: 0, batchSize: 100, batchRows: 50_000, concurrency: 8, confirmationDepth: 12, finality: 'depth' });
  }, 600_000);
});
