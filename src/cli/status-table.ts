/**
 * `client status` without a chain id: every running sync as one table row (cli-table3), block
 * numbers with thousands separators, lag in blocks.
 */
import Table from 'cli-table3';
import { formatBlockOr, formatCountOr } from '../domain/index.js';
import type { SyncProgress } from '../workflows/definitions.js';

/**
 * One running sync: its workflow ID, its `progress` query answer (null when it did not answer) and
 * what it has failing and retried (`retryingNote`: `1 activity retrying`; empty or absent: none).
 */
export type StatusRow = { workflowId: string; progress: SyncProgress | null; retrying?: string };

/** What a cell shows for a number the sync does not know yet. */
const NO_NUMBER = '-';

/**
 * Renders `rows` as a plain-ASCII table (no colours, so it reads the same in logs) with columns
 * chain, workflow, status (with what is retrying, when something is), head, target, cursor, lag
 * (blocks), blocks/s, reorgs. Pure.
 */
export function renderStatusTable(rows: readonly StatusRow[]): string {
  const table = new Table({
    head: ['chain', 'workflow', 'status', 'head', 'target', 'cursor', 'lag (blocks)', 'blocks/s', 'reorgs'],
    style: { head: [], border: [], compact: true },
    colAligns: ['right', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'right'],
  });
  for (const { workflowId, progress: p, retrying } of rows) {
    if (p === null) {
      table.push([workflowId.split(':')[1] ?? '?', workflowId, 'no answer', '-', '-', '-', '-', '-', '-']);
      continue;
    }
    table.push([String(p.chainId), workflowId, `${p.paused ? 'paused' : p.status}${retrying ? `, ${retrying}` : ''}`, ...[p.head, p.target, p.cursor].map((n) => formatBlockOr(n, NO_NUMBER)), formatCountOr(p.lagBlocks, NO_NUMBER), String(p.blocksPerSecond), String(p.reorgs)]);
  }
  return table.toString();
}
