/**
 * `verify` of a long range continues as new when Temporal suggests it, carrying its next chunk and
 * the report so far: on a dev server that suggests it after 60 events and ends a run at 200, a
 * verify of 5,000 blocks (50 chunks of 100, about 5 events each) ends with the whole report.
 * Before the fix (review helper, session 34) the server ended such a run: "Workflow history count
 * exceeds limit" (at the default limits, a range of about a million blocks).
 */
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../src/activities/index.js';
import { WORKFLOWS_PATH } from '../../src/worker.js';
import type { VerifyInput, VerifyReport } from '../../src/workflows/definitions.js';
import { startTemporal, waitFor } from '../support/stack.js';

const TASK_QUEUE = 'verify-continue-as-new';
const unused = async (): Promise<never> => { throw new Error('not used'); };

describe('verify of a range longer than one run\'s history', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const chunks: string[] = [];

  const activities: Activities = {
    getChainHead: unused, indexRange: unused, readCursor: unused, saveCursor: unused,
    findCommonAncestor: unused, rollback: unused, findGaps: unused,
    // Every block checked; blocks 0 and 4,950 differ (one in the first run, one in the last).
    verifyRange: async ({ from, to }) => {
      chunks.push(`${from}-${to}`);
      const differences = [0, 4_950].filter((n) => n >= from && n <= to).map((n) => `block ${n}: hash differs`);
      return { checkedBlocks: to - from + 1, differenceCount: differences.length, differences };
    },
  };

  beforeAll(async () => {
    env = await startTemporal(['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=60', '--dynamic-config-value', 'limit.historyCount.error=200']);
    worker = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUE, workflowsPath: WORKFLOWS_PATH, activities });
    running = worker.run();
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  it('continues as new and ends with every chunk checked once and both differences', async () => {
    const input: VerifyInput = { chainId: 7, from: 0, to: 4_999 };
    const handle = await env.client.workflow.start('verify', { workflowId: 'verify:7:0-4999', taskQueue: TASK_QUEUE, args: [input] });
    const report: VerifyReport = await handle.result();
    expect(report).toEqual({ chainId: 7, from: 0, to: 4_999, checkedBlocks: 5_000, differenceCount: 2, differences: ['block 0: hash differs', 'block 4950: hash differs'] });
    expect([...chunks].sort((a, b) => Number(a.split('-')[0]) - Number(b.split('-')[0]))).toEqual(Array.from({ length: 50 }, (_, i) => `${i * 100}-${i * 100 + 99}`));
    let runs: string[] = [];
    await waitFor('the runs listed', async () => {
      runs = [];
      for await (const run of env.client.workflow.list({ query: `WorkflowId = 'verify:7:0-4999'` })) runs.push(run.status.name);
      return runs.includes('COMPLETED');
    });
    expect(runs.filter((s) => s === 'CONTINUED_AS_NEW').length).toBeGreaterThanOrEqual(1);
    expect(runs.filter((s) => s === 'COMPLETED')).toEqual(['COMPLETED']);
  });
});
