/**
 * What `start` says when the sync runs already with other settings (src/cli/running-settings.ts).
 */
import { describe, expect, it } from 'vitest';
import { keptSettingsNote, newSettingsAssignments, settingsDiff } from '../../../src/cli/running-settings.js';

describe('settingsDiff()', () => {
  it('names each setting that differs by its variable, the running value and the new one, in a fixed order', () => {
    expect(settingsDiff(
      { confirmationDepth: 12, batchSize: 100, concurrency: 8, finality: 'depth', pollIntervalMs: 2_000 },
      { confirmationDepth: 3, batchSize: 7, concurrency: 8, finality: 'finalized', pollIntervalMs: 2_000 },
    )).toEqual(['BATCH_SIZE 100 (now 7)', 'FINALITY depth (now finalized)', 'CONFIRMATION_DEPTH 12 (now 3)']);
  });

  it('skips a setting the running input lacks (a run started before it existed) and says nothing when all agree', () => {
    expect(settingsDiff({ batchSize: 100 }, { batchSize: 100, stallTimeoutMs: 300_000, batchRows: 50_000 })).toEqual([]);
  });
});

describe('keptSettingsNote()', () => {
  it('says the running sync keeps them and how to adopt the new ones, with commands that work as printed', () => {
    expect(keptSettingsNote(['CONFIRMATION_DEPTH 12 (now 3)', 'BATCH_SIZE 100 (now 7)'], 'npx tsx src/client.ts', 31337)).toBe(
      'note: the running sync keeps the settings it started with: CONFIRMATION_DEPTH 12 (now 3), BATCH_SIZE 100 (now 7); to use the new ones, stop it and start it again: '
        + 'npx tsx src/client.ts stop --chain-id 31337, then npx tsx src/client.ts start --chain-id 31337',
    );
    expect(keptSettingsNote([], 'npx tsx src/client.ts', 1)).toBe('');
    // No worker runs it: a cancel would wait for one, so the note gives stop --force.
    expect(keptSettingsNote(['task queue a (now b)'], 'TASK_QUEUE=b npx tsx src/client.ts', 5, true)).toBe(
      'note: the running sync keeps the settings it started with: task queue a (now b); to use the new ones, stop it and start it again: '
        + 'TASK_QUEUE=b npx tsx src/client.ts stop --chain-id 5 --force, then TASK_QUEUE=b npx tsx src/client.ts start --chain-id 5',
    );
  });
});

describe('newSettingsAssignments()', () => {
  const quote = (word: string) => (/^[\w.-]+$/.test(word) ? word : `'${word}'`);

  it('repeats every sync setting the environment sets, the differing ones and the others, so a start typed later starts the sync as asked', () => {
    const differ = ['BATCH_SIZE 100 (now 7)', 'CONFIRMATION_DEPTH 12 (now 3)'];
    // FINALITY is the running sync's already; without it here the start typed later would start it with depth finality.
    expect(newSettingsAssignments(differ, { CONFIRMATION_DEPTH: '3', FINALITY: 'finalized', BATCH_SIZE: '7', POLL_INTERVAL: '', RPC_URL: 'http://x' }, quote))
      .toEqual(['BATCH_SIZE=7', 'FINALITY=finalized', 'CONFIRMATION_DEPTH=3']);
  });

  it('none when no setting differs, or the environment sets none (a CHAINS_FILE field, a default, the task queue line)', () => {
    expect(newSettingsAssignments([], { CONFIRMATION_DEPTH: '3' }, quote)).toEqual([]);
    expect(newSettingsAssignments(['CONFIRMATION_DEPTH 12 (now 3)', 'task queue a (now b)'], { TASK_QUEUE: 'b' }, quote)).toEqual([]);
  });

  it('quotes a value for the shell', () => {
    expect(newSettingsAssignments(['POLL_INTERVAL 2000 (now 5000)'], { POLL_INTERVAL: '5 s' }, quote)).toEqual(["POLL_INTERVAL='5 s'"]);
  });

  it('puts them before the start of the note, not before its stop', () => {
    expect(keptSettingsNote(['CONFIRMATION_DEPTH 12 (now 3)'], 'npx tsx src/client.ts', 31337, false, ['CONFIRMATION_DEPTH=3'])).toBe(
      'note: the running sync keeps the settings it started with: CONFIRMATION_DEPTH 12 (now 3); to use the new ones, stop it and start it again: '
        + 'npx tsx src/client.ts stop --chain-id 31337, then CONFIRMATION_DEPTH=3 npx tsx src/client.ts start --chain-id 31337',
    );
  });
});
