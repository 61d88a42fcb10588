/**
 * What the Temporal Web UI shows for the indexer's workflows: the one-line summary of a range
 * activity, and the markdown "current details" of a sync or backfill (set with
 * `setCurrentDetails`, served through the `__temporal_workflow_metadata` query, so keeping it
 * current adds nothing to the history). Pure formatting; deterministic.
 */
import { formatCount, formatCountOr, formatRange } from '../domain/index.js';
import type { BackfillProgress, ChainSyncInput, SyncProgress } from './definitions.js';

/** Summary of one `indexRange` activity in the UI: `blocks 1,000–1,499`. Pure. */
export function rangeSummary(from: number, to: number): string {
  return formatRange({ from, to });
}

/** Static one-line summary of a sync, set by the client at start: `sync of chain 1`. Pure. */
export function syncSummary(chainId: number): string {
  return `sync of chain ${chainId}`;
}

/**
 * Static markdown details of a sync, set by the client at start: the settings it started with
 * (start block, finality, batch size in blocks and the rows later batches aim at, concurrency,
 * poll interval in ms). Pure.
 */
export function syncStartDetails(input: ChainSyncInput): string {
  return table(`**Started with**`, [
    ['start block', formatCount(input.startBlock)],
    ['finality', input.finality === 'depth' ? `head − ${input.confirmationDepth} blocks` : `'${input.finality}' tag`],
    ['batch size', batchSizeText(input.batchSize, input.batchRows ?? 0)],
    ['concurrency', `${input.concurrency} batches`],
    ['poll interval', `${input.pollIntervalMs} ms`],
    ['activity attempts', input.maxRetries === 0 ? 'unlimited' : String(input.maxRetries)],
  ]);
}

/**
 * How batches are sized, in words: `100 blocks` (fixed) or `100 blocks, then about 50,000 rows`
 * (adaptive, `batchRows` > 0). Pure.
 */
export function batchSizeText(batchSize: number, batchRows: number): string {
  const first = `${formatCount(batchSize)} blocks`;
  return batchRows > 0 ? `${first}, then about ${formatCount(batchRows)} rows` : first;
}

/** What the Web UI shows for a number not known yet (an en dash). */
const NO_NUMBER = '–';

/**
 * Markdown details of a running sync: chain, finality, endpoints (redacted labels, as the client
 * passed them), status, head, target, cursor, lag (blocks and seconds since the head was read),
 * blocks/s, batches in flight, reorgs and gaps repaired. Pure.
 * @param nowMs workflow time (ms since epoch), for the age of the head reading.
 */
export function syncDetails(progress: SyncProgress, endpoints: readonly string[], nowMs: number): string {
  const finality = progress.finality === 'depth' ? `head − ${progress.confirmationDepth} blocks` : `'${progress.finality}' tag`;
  const headAge = progress.headReadAtMs === null ? '' : ` (read ${Math.max(0, Math.round((nowMs - progress.headReadAtMs) / 1000))} s ago)`;
  const rows: Array<[string, string]> = [
    ['chain', String(progress.chainId)],
    ['status', progress.paused ? 'paused' : progress.stalledForSeconds !== null ? `stalled: cursor not moving for ${progress.stalledForSeconds} s` : progress.status],
    ['finality', finality],
    ['head', formatCountOr(progress.head, NO_NUMBER) + headAge],
    ['target', formatCountOr(progress.target, NO_NUMBER)],
    ['cursor', formatCountOr(progress.cursor, NO_NUMBER)],
    ['lag', progress.lagBlocks === null ? NO_NUMBER : `${formatCount(progress.lagBlocks)} blocks`],
    ['blocks/s', String(progress.blocksPerSecond)],
    ['batches in flight', String(progress.inFlightBatches)],
    ['reorgs', String(progress.reorgs)],
    ['gaps repaired', String(progress.gapsRepaired)],
  ];
  if (endpoints.length > 0) rows.push(['endpoints', endpoints.join(', ')]);
  return table(`**Sync of chain ${progress.chainId}**`, rows);
}

/** Markdown details of a running backfill: range, blocks done, through which block, blocks/s. Pure. */
export function backfillDetails(progress: BackfillProgress): string {
  return table(`**Backfill of chain ${progress.chainId}**`, [
    ['range', `${formatCount(progress.from)}–${formatCount(progress.to)}`],
    ['status', progress.waitingAtHead === undefined ? progress.status : `waiting for block ${formatCount(progress.doneThrough + 1)} (the endpoints' head is ${formatCount(progress.waitingAtHead)})`],
    ['done', `${formatCount(progress.blocksDone)} / ${formatCount(progress.blocksTotal)} blocks`],
    ['through block', formatCount(progress.doneThrough)],
    ['blocks/s', String(progress.blocksPerSecond)],
    ['batches in flight', String(progress.inFlightBatches)],
  ]);
}

function table(title: string, rows: ReadonlyArray<[string, string]>): string {
  return [title, '', '| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
}
