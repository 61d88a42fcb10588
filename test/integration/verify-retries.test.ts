/**
 * `verify` honours `maxRetries` (`MAX_RETRIES`, which the client passes): on a real Temporal dev
 * server with in-process stand-in activities whose `verifyRange` always fails as an unreachable
 * endpoint would, the workflow fails after exactly that many attempts instead of retrying forever.
 */
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../src/activities/index.js';
import { failureText } from '../../src/cli/failure-text.js';
import { WORKFLOWS_PATH } from '../../src/worker.js';
import type { VerifyInput } from '../../src/workflows/definitions.js';
import { startTemporal } from '../support/stack.js';

const TASK_QUEUE = 'verify-retries';
const unused = async (): Promise<never> => { throw new Error('not used'); };

describe('verify with maxRetries', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  let attempts = 0;

  const activities: Activities = {
    getChainHead: unused, indexRange: unused, readCursor: unused, saveCursor: unused,
    findCommonAncestor: unused, rollback: unused, findGaps: unused,
    verifyRange: async () => {
      attempts += 1;
      throw ApplicationFailure.retryable('no RPC endpoint answered (127.0.0.1:1#1: connection refused)', 'RpcTransientError');
    },
  };

  beforeAll(async () => {
    env = await startTemporal();
    worker = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUE, workflowsPath: WORKFLOWS_PATH, activities });
    running = worker.run();
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  it('fails after 2 attempts of the chunk with MAX_RETRIES 2, saying why', async () => {
    const input: VerifyInput = { chainId: 7, from: 0, to: 9, maxRetries: 2 };
    const err = await env.client.workflow.execute('verify', { workflowId: 'verify:7:0-9', taskQueue: TASK_QUEUE, args: [input] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect([attempts, failureText(err)]).toEqual([2, 'Workflow execution failed: activity verifyRange failed: no RPC endpoint answered (127.0.0.1:1#1: connection refused)']);
  });

  it('fails at once, without running a chunk, when maxRetries is not an integer ≥ 0', async () => {
    const before = attempts;
    const err = await env.client.workflow.execute('verify', { workflowId: 'verify:7:0-9-bad', taskQueue: TASK_QUEUE, args: [{ chainId: 7, from: 0, to: 9, maxRetries: 1.5 }] }).catch((e: unknown) => e);
    expect([attempts - before, failureText(err)]).toEqual([0, 'Workflow execution failed: verify needs maxRetries to be an integer ≥ 0, got 1.5']);
  });
});
