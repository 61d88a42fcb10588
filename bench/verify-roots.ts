/**
 * Cost of the header proof (`VERIFY_ROOTS`) per block: `verifyRoots` on recorded blocks, next to
 * `toBatchRows` (the CPU work every batch does anyway), single-threaded, after a warm-up. Prints one
 * JSON line per block: ms per block (median of the runs) and the ratio to `toBatchRows`.
 *
 * Run: `npm run bench:roots` (no services needed). Env: BENCH_RUNS (30).
 */
import { toBatchRows } from '../src/db/rows.js';
import { verifyRoots } from '../src/rpc/verify-roots.js';
import { RECORDED_BLOCKS, loadRecorded } from '../test/fixtures/recorded-blocks.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
/** Runs before measuring, so the JIT and the keccak wasm are warm. */
const WARM_UP_RUNS = 5;
const BLOCKS = ['ethereum/18000000', 'polygon/50000000', 'optimism/154497277'];

/** Median wall time of `RUNS` calls of `work`, in ms. */
async function medianMs(work: () => unknown): Promise<number> {
  for (let i = 0; i < WARM_UP_RUNS; i++) await work();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const startedAt = performance.now();
    await work();
    times.push(performance.now() - startedAt);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

for (const name of BLOCKS) {
  const recorded = RECORDED_BLOCKS.find((b) => b.name === name)!;
  const { block, receipts } = loadRecorded(recorded);
  const verifyMs = await medianMs(() => verifyRoots(recorded.chainId, block, receipts, 'bench'));
  const rowsMs = await medianMs(() => toBatchRows(recorded.chainId, [{ block, receipts: receipts! }]));
  const logs = receipts!.reduce((sum, r) => sum + r.logs.length, 0);
  console.log(JSON.stringify({
    block: name, transactions: block.transactions.length, logs, runs: RUNS,
    verifyRootsMsPerBlock: Number(verifyMs.toFixed(1)), toBatchRowsMsPerBlock: Number(rowsMs.toFixed(1)), ratio: Number((verifyMs / rowsMs).toFixed(1)),
  }));
}
