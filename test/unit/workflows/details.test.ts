import { describe, expect, it } from 'vitest';
import { backfillDetails, rangeSummary, syncDetails } from '../../../src/workflows/details.js';
import type { SyncProgress } from '../../../src/workflows/definitions.js';

describe('Web UI texts', () => {
  it('summarises a range activity as "blocks a–b"', () => {
    expect(rangeSummary(1000, 1499)).toBe('blocks 1,000–1,499');
  });

  it('renders a sync as a markdown table with head age, lag and endpoints', () => {
    const progress: SyncProgress = {
      chainId: 1, status: 'syncing', cursor: 18_000_000, cursorHash: null, target: 18_000_100, head: 18_000_164, lagBlocks: 164,
      finality: 'finalized', confirmationDepth: 12, inFlightBatches: 4, blocksStoredThisRun: 500, blocksPerSecond: 41.5, reorgs: 2,
      gapsRepaired: 1, headReadAtMs: 1_000_000, paused: false, stalledForSeconds: null,
    };
    expect(syncDetails(progress, ['rpc.example#1', 'other.example#2'], 1_003_400)).toBe([
      '**Sync of chain 1**', '', '| | |', '|---|---|',
      '| chain | 1 |', '| status | syncing |', "| finality | 'finalized' tag |", '| head | 18,000,164 (read 3 s ago) |',
      '| target | 18,000,100 |', '| cursor | 18,000,000 |', '| lag | 164 blocks |', '| blocks/s | 41.5 |', '| batches in flight | 4 |',
      '| reorgs | 2 |', '| gaps repaired | 1 |', '| endpoints | rpc.example#1, other.example#2 |',
    ].join('\n'));
    expect(syncDetails({ ...progress, head: null, headReadAtMs: null, lagBlocks: null, target: null, paused: true, finality: 'depth' }, [], 0)).toContain(
      '| status | paused |\n| finality | head − 12 blocks |\n| head | – |\n| target | – |',
    );
    expect(syncDetails({ ...progress, stalledForSeconds: 312 }, [], 1_003_400)).toContain('| status | stalled: cursor not moving for 312 s |');
  });

  it('renders a backfill with blocks done of total', () => {
    expect(backfillDetails({ chainId: 10, from: 100, to: 1099, status: 'running', doneThrough: 599, blocksDone: 500, blocksTotal: 1000, blocksPerSecond: 12, inFlightBatches: 2 })).toBe([
      '**Backfill of chain 10**', '', '| | |', '|---|---|', '| range | 100–1,099 |', '| status | running |', '| done | 500 / 1,000 blocks |',
      '| through block | 599 |', '| blocks/s | 12 |', '| batches in flight | 2 |',
    ].join('\n'));
    expect(backfillDetails({ chainId: 10, from: 100, to: 1099, status: 'running', doneThrough: 1_000, blocksDone: 901, blocksTotal: 1000, blocksPerSecond: 12, inFlightBatches: 0, waitingAtHead: 1_000 }))
      .toContain("| status | waiting for block 1,001 (the endpoints' head is 1,000) |");
  });
});

describe('static details of a sync', () => {
  it('lists the settings it started with', async () => {
    const { syncStartDetails } = await import('../../../src/workflows/details.js');
    expect(syncStartDetails({ chainId: 1, startBlock: 15_537_394, batchSize: 50, concurrency: 8, confirmationDepth: 12, finality: 'depth', pollIntervalMs: 2000, maxRetries: 0 })).toBe([
      '**Started with**', '', '| | |', '|---|---|', '| start block | 15,537,394 |', '| finality | head − 12 blocks |', '| batch size | 50 blocks |',
      '| concurrency | 8 batches |', '| poll interval | 2000 ms |', '| activity attempts | unlimited |',
    ].join('\n'));
  });

  it('shows adaptive batches as the first size, then the rows they aim at', async () => {
    const { syncStartDetails } = await import('../../../src/workflows/details.js');
    expect(syncStartDetails({ chainId: 1, startBlock: 0, batchSize: 100, batchRows: 50_000, concurrency: 8, confirmationDepth: 12, finality: 'depth', pollIntervalMs: 2000, maxRetries: 0 }))
      .toContain('| batch size | 100 blocks, then about 50,000 rows |');
  });
});
