/**
 * `verify --sample n`: the `verifyRange` inputs the workflow schedules check exactly min(n, range
 * size) blocks, spread over the range (expanded here with the activity's own `pickBlocks`), and a
 * run recorded before the `verify-exact-sample` patch replays on the current code.
 * `test/fixtures/histories/verify-sample-31337-0-399.binpb` is the whole history (23 events, the `History`
 * protobuf from `fetchHistory()`) of `verify` over blocks 0–399 with `sample: 2`, recorded on the
 * workflow code before the patch (src/workflows/verify.ts of commit 1da2e5b) with stand-in activities: four `verifyRange`
 * chunks of one sampled block each (4 blocks checked).
 */
import { readFileSync } from 'node:fs';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { pickBlocks } from '../../../src/activities/verify.js';
import { WORKFLOWS_PATH } from '../../../src/worker.js';
import { sampleChunks } from '../../../src/workflows/verify.js';

/** The blocks `verifyRange` checks for each input of `sampleChunks(from, to, sample, 100)`, in order. */
const checkedBlocks = (from: number, to: number, sample: number): number[] =>
  sampleChunks(from, to, sample, 100).flatMap((chunk) => pickBlocks(chunk.from, chunk.to, chunk.sample));

describe('sampleChunks()', () => {
  it.each([
    [0, 100, 1, [0]],
    [0, 100, 2, [0, 100]],
    [0, 100, 3, [0, 50, 100]],
    [0, 100, 4, [0, 33, 67, 100]],
    [0, 100, 5, [0, 25, 50, 75, 100]],
    [0, 100, 10, [0, 11, 22, 33, 44, 56, 67, 78, 89, 100]],
    [0, 180, 1, [0]],
    [0, 180, 2, [0, 180]],
    [0, 399, 2, [0, 399]],
    [1_000, 1_004, 9, [1_000, 1_001, 1_002, 1_003, 1_004]],
  ])('over blocks %i–%i with sample %i checks exactly %j', (from, to, sample, blocks) => {
    expect(checkedBlocks(from, to, sample)).toEqual(blocks);
  });

  it('cuts a large sample into inputs of at most 100 sampled blocks, 250 blocks checked over 0–999', () => {
    expect(sampleChunks(0, 999, 250, 100)).toEqual([
      { from: 0, to: 397, sample: 100 },
      { from: 401, to: 798, sample: 100 },
      { from: 802, to: 999, sample: 50 },
    ]);
    const blocks = checkedBlocks(0, 999, 250);
    expect([blocks.length, new Set(blocks).size, blocks[0], blocks.at(-1)]).toEqual([250, 250, 0, 999]);
  });

  it('checks every block, in 100-block inputs without sample, when the sample is not smaller than the range', () => {
    expect(sampleChunks(0, 150, 151, 100)).toEqual([{ from: 0, to: 99 }, { from: 100, to: 150 }]);
    expect(sampleChunks(7, 7, 1, 100)).toEqual([{ from: 7, to: 7 }]);
  });

  it('leaves out sample for an input whose sampled blocks are consecutive (it checks its whole span)', () => {
    // Blocks 0, 1, 3 and 4 of 0–4, two per input: 0–1 and 3–4 are whole spans.
    expect(sampleChunks(0, 4, 4, 2)).toEqual([{ from: 0, to: 1 }, { from: 3, to: 4 }]);
    expect(sampleChunks(0, 4, 4, 100)).toEqual([{ from: 0, to: 4, sample: 4 }]);
    expect(checkedBlocks(0, 4, 4)).toEqual([0, 1, 3, 4]);
  });
});

describe('verify determinism', () => {
  it('a sampled verify recorded before the verify-exact-sample patch replays on the current code', async () => {
    const history = proto.temporal.api.history.v1.History.decode(readFileSync(new URL('../../fixtures/histories/verify-sample-31337-0-399.binpb', import.meta.url)));
    const scheduled = history.events.filter((e) => e.activityTaskScheduledEventAttributes).length;
    expect([history.events.length, scheduled]).toEqual([23, 4]);
    await expect(Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH }, history, 'verify:31337:0-399')).resolves.toBeUndefined();
  }, 120_000);
});
