/**
 * Shapes of real blocks, read from the recorded fixtures in `test/fixtures/ethereum/` so the
 * synthetic chain looks like mainnet: calldata sizes (bytes) of every transaction in four recorded
 * blocks, and (topic count, data size) of every log in the recorded receipts of block 18,000,000.
 * Bench support only: `src/` never imports it.
 */
import { readFileSync } from 'node:fs';

const FIXTURES = new URL('../../test/fixtures/ethereum/', import.meta.url);
/** Recorded full blocks whose transactions' calldata sizes are sampled (shanghai, cancun, prague, 7702). */
const CALLDATA_BLOCKS = [
  'block-18000000-shanghai-full-txs.json',
  'block-19900000-cancun-full-txs-blob.json',
  'block-22780451-prague-full-txs-types-0-1-2-3-4.json',
  'block-25139942-full-txs-seven-7702.json',
];
/** Recorded `eth_getBlockReceipts` answer whose logs are sampled. */
const LOG_RECEIPTS = 'receipts-18000000-eth_getBlockReceipts.json';

/** What the generator samples from: calldata sizes in bytes, logs as [topic count, data bytes]. */
export type RecordedShapes = { calldataBytes: readonly number[]; logShapes: readonly (readonly [number, number])[] };

let cached: RecordedShapes | undefined;

/** Reads the recorded shapes once (about 650 transactions, 290 logs). @throws when a fixture is missing. */
export function recordedShapes(): RecordedShapes {
  if (cached) return cached;
  const read = (name: string): unknown => {
    const parsed = JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as { result?: unknown };
    return parsed.result ?? parsed;
  };
  const calldataBytes = CALLDATA_BLOCKS.flatMap((name) =>
    (read(name) as { transactions: { input: string }[] }).transactions.map((t) => (t.input.length - 2) / 2),
  );
  const logShapes = (read(LOG_RECEIPTS) as { logs: { topics: string[]; data: string }[] }[]).flatMap((r) =>
    r.logs.map((l) => [l.topics.length, (l.data.length - 2) / 2] as const),
  );
  cached = { calldataBytes, logShapes };
  return cached;
}
