import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { chooseProgressMode, createProgressReporter, etaSeconds, formatDuration, progressLine } from '../../../src/cli/backfill-progress.js';
import { renderStatusTable } from '../../../src/cli/status-table.js';
import type { BackfillProgress, SyncProgress } from '../../../src/workflows/definitions.js';

const running: BackfillProgress = { chainId: 1, from: 1000, to: 1999, status: 'running', doneThrough: 1449, blocksDone: 450, blocksTotal: 1000, blocksPerSecond: 35.2, inFlightBatches: 4 };

const capture = () => {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { stream, text: () => text };
};

describe('backfill progress', () => {
  it('picks json when asked, the bar on a terminal, plain lines elsewhere', () => {
    expect([
      chooseProgressMode({ json: true, isTTY: true }),
      chooseProgressMode({ json: false, isTTY: true }),
      chooseProgressMode({ json: false, isTTY: false }),
    ]).toEqual(['json', 'bar', 'lines']);
  });

  it('computes the ETA in seconds from blocks left and the rate, unknown at rate 0', () => {
    expect(etaSeconds(running)).toBe(16); // 550 / 35.2 = 15.6 → 16
    expect(etaSeconds({ ...running, blocksPerSecond: 0 })).toBeNull();
    expect([null, 0, 59, 95, 3725].map(formatDuration)).toEqual(['?', '0s', '59s', '1m35s', '1h02m05s']);
  });

  it('prints a plain line with done/total, percent, block, rate and ETA', () => {
    expect(progressLine(running)).toBe('  450/1,000 blocks (45%), through block 1,449, 35.2 blocks/s, ETA 16s');
    // At the start nothing is stored yet: doneThrough is from − 1 (−1 for a backfill from block 0).
    // The rest of the range above the endpoints' head: what it waits for instead of a rate and an ETA.
    expect(progressLine({ ...running, waitingAtHead: 1449 })).toBe("  450/1,000 blocks (45%), through block 1,449, waiting for block 1,450 (the endpoints' head is 1,449)");
    expect(progressLine({ ...running, from: 0, to: 999, doneThrough: -1, blocksDone: 0, blocksPerSecond: 0 })).toMatch(/^ {2}0\/1,000 blocks \(0%\), through block -, 0 blocks\/s, ETA /);
  });

  it('writes one JSON object per line to stdout in json mode', () => {
    const stdout = capture();
    const stderr = capture();
    const reporter = createProgressReporter('json', { stdout: stdout.stream, stderr: stderr.stream });
    reporter.update(running);
    reporter.finish({ ...running, status: 'done', doneThrough: 1999, blocksDone: 1000 });
    const lines = stdout.text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      { event: 'progress', ...running, etaSeconds: 16 },
      { event: 'done', ...running, status: 'done', doneThrough: 1999, blocksDone: 1000 },
    ]);
    expect(stderr.text()).toBe('');
  });

  it('stop() (Ctrl-C) ends a drawn bar with its line ended, and writes nothing otherwise', () => {
    const written = (mode: 'bar' | 'lines' | 'json', draw: boolean) => {
      const stdout = capture();
      const stderr = capture();
      const reporter = createProgressReporter(mode, { stdout: stdout.stream, stderr: stderr.stream });
      if (draw) reporter.update(running);
      const before = stdout.text() + stderr.text();
      reporter.stop();
      return (stdout.text() + stderr.text()).slice(before.length);
    };
    expect([written('bar', false), written('lines', true), written('json', true)]).toEqual(['', '', '']);
    expect(written('bar', true)).toBe('  ██████████████████░░░░░░░░░░░░░░░░░░░░░░ 45% | 450/1000 blocks | through block 1,449 | 35.2 blocks/s | ETA 16s\n\n');
  });

  it('draws the bar on stderr and leaves stdout alone', () => {
    const stdout = capture();
    const stderr = capture();
    const reporter = createProgressReporter('bar', { stdout: stdout.stream, stderr: stderr.stream });
    reporter.update(running);
    reporter.finish({ ...running, status: 'done', doneThrough: 1999, blocksDone: 1000, blocksPerSecond: 40 });
    expect(stdout.text()).toBe('');
    expect(stderr.text()).toContain('100% | 1000/1000 blocks | through block 1,999 | 40 blocks/s | ETA 0s');
  });
});

describe('status table', () => {
  it('shows every sync as a row, and a sync that did not answer', () => {
    const p: SyncProgress = {
      chainId: 1, status: 'syncing', cursor: 18_000_000, cursorHash: null, target: 18_000_100, head: 18_000_164, lagBlocks: 164, finality: 'finalized',
      confirmationDepth: 12, inFlightBatches: 4, blocksStoredThisRun: 5, blocksPerSecond: 41.5, reorgs: 2, gapsRepaired: 0, headReadAtMs: 0, paused: false, stalledForSeconds: null,
    };
    const young: SyncProgress = { ...p, chainId: 5, cursor: -1, target: -1, head: 7, lagBlocks: 8, finality: 'depth', confirmationDepth: 100_000 };
    expect(renderStatusTable([{ workflowId: 'chain-sync:5', progress: young }]).split('\n')[3]).toBe(
      '│     5 │ chain-sync:5 │ syncing │    7 │      - │      - │            8 │     41.5 │      2 │');
    // An endpoint outage: the sync's state, and what is failing and retried.
    expect(renderStatusTable([{ workflowId: 'chain-sync:1', progress: p, retrying: '2 activities retrying' }]).split('\n')[3]).toBe(
      '│     1 │ chain-sync:1 │ syncing, 2 activities retrying │ 18,000,164 │ 18,000,100 │ 18,000,000 │          164 │     41.5 │      2 │');
    expect(renderStatusTable([{ workflowId: 'chain-sync:1', progress: p }, { workflowId: 'chain-sync:10', progress: null }]).split('\n')).toEqual([
      '┌───────┬───────────────┬───────────┬────────────┬────────────┬────────────┬──────────────┬──────────┬────────┐',
      '│ chain │ workflow      │ status    │       head │     target │     cursor │ lag (blocks) │ blocks/s │ reorgs │',
      '├───────┼───────────────┼───────────┼────────────┼────────────┼────────────┼──────────────┼──────────┼────────┤',
      '│     1 │ chain-sync:1  │ syncing   │ 18,000,164 │ 18,000,100 │ 18,000,000 │          164 │     41.5 │      2 │',
      '│    10 │ chain-sync:10 │ no answer │          - │          - │          - │            - │        - │      - │',
      '└───────┴───────────────┴───────────┴────────────┴────────────┴────────────┴──────────────┴──────────┴────────┘',
    ]);
  });
});
