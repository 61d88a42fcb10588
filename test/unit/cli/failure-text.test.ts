import { ActivityFailure, ApplicationFailure, ServiceError, WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { failureText } from '../../../src/cli/failure-text.js';

describe('failureText (the one line the client prints for a failure)', () => {
  it('names the activity and its own message under the SDK\'s "Workflow execution failed"', () => {
    const app = ApplicationFailure.nonRetryable('this worker indexes chain 31337, not chain 1: chain 1 needs a task queue of its own, polled only by workers of chain 1 (CHAIN_ID=1 and its endpoints, or a CHAINS_FILE that lists it)', 'InvalidInputError');
    const activity = new ActivityFailure('Activity task failed', 'indexRange', '1', 'NON_RETRYABLE_FAILURE', 'w1', app);
    const err = new WorkflowFailedError('Workflow execution failed', activity, 'NON_RETRYABLE_FAILURE');
    expect(failureText(err)).toBe('Workflow execution failed: activity indexRange failed: this worker indexes chain 31337, not chain 1: chain 1 needs a task queue of its own, polled only by workers of chain 1 (CHAIN_ID=1 and its endpoints, or a CHAINS_FILE that lists it)');
  });

  it('adds the gRPC cause of a ServiceError and leaves out a cause already said', () => {
    const grpc = new Error('4 DEADLINE_EXCEEDED: query timed out before a worker could process it');
    expect(failureText(new ServiceError('Failed to query Workflow', { cause: grpc }))).toBe('Failed to query Workflow: 4 DEADLINE_EXCEEDED: query timed out before a worker could process it');
    expect(failureText(new Error('sync chain-sync:1 is not running', { cause: new Error('not running') }))).toBe('sync chain-sync:1 is not running');
  });

  it('a plain error, a string, and a cause loop end', () => {
    expect(failureText(new Error('boom'))).toBe('boom');
    expect(failureText('text')).toBe('text');
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(failureText(a)).toBe('a: b');
  });
});
