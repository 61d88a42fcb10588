/**
 * Determinism guard: histories recorded from real runs of the workflows must replay on the current
 * workflow code. A change that would break running syncs on a worker upgrade (a new command where
 * an old history has another) fails here; guard such changes with `patched()`.
 * `test/fixtures/histories/chain-sync-31337.binpb` holds the first 197 events of a `chainSync` run
 * on the devnet (the `History` protobuf from `fetchHistory()`, binary): a reset chain rolled back
 * (findCommonAncestor, rollback), windows of indexRange, a gap check, search-attribute upserts and
 * the stall-watchdog patch marker.
 */
import { readFileSync } from 'node:fs';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { WORKFLOWS_PATH } from '../../../src/worker.js';

const HISTORIES = new URL('../../fixtures/histories/', import.meta.url);

describe('workflow determinism', () => {
  it('the recorded chainSync history replays on the current code', async () => {
    const history = proto.temporal.api.history.v1.History.decode(readFileSync(new URL('chain-sync-31337.binpb', HISTORIES)));
    expect(history.events).toHaveLength(197);
    await expect(Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH }, history, 'chain-sync:31337')).resolves.toBeUndefined();
  }, 120_000);
});
