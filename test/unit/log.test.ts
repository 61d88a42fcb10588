/**
 * The chain id a multi-chain worker adds to Temporal's log lines (pure).
 */
import { describe, expect, it } from 'vitest';
import { temporalLogChainId } from '../../src/log.js';

const QUEUES = new Map([['evm-indexer-31337', 31337], ['op-mainnet', 10]]);

describe('temporalLogChainId()', () => {
  it('from the workflow id of a sync, a backfill or a verify', () => {
    expect(temporalLogChainId({ workflowId: 'chain-sync:31338', taskQueue: 'evm-indexer-31337' }, QUEUES)).toBe(31338);
    expect(temporalLogChainId({ workflowId: 'backfill:10:0-99' }, QUEUES)).toBe(10);
    expect(temporalLogChainId({ workflowId: 'verify:1:5-9:2' }, QUEUES)).toBe(1);
  });
  it('else from the task queue (a worker state line), else none', () => {
    expect(temporalLogChainId({ taskQueue: 'op-mainnet', workflowId: 'someone-elses' }, QUEUES)).toBe(10);
    expect(temporalLogChainId({ taskQueue: 'other' }, QUEUES)).toBeNull();
    expect(temporalLogChainId({ workflowId: 'chain-sync:abc' }, QUEUES)).toBeNull();
    expect(temporalLogChainId({}, QUEUES)).toBeNull();
  });
});
