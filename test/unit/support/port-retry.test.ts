import { describe, expect, it } from 'vitest';
import { retryOnPortTaken } from '../../support/devnet.js';

/** A start that fails with each of `errors` in turn, then answers its attempt number. */
function failing(errors: readonly string[]): { start: () => Promise<number>; calls: () => number } {
  let calls = 0;
  return {
    start: async () => {
      calls += 1;
      const message = errors[calls - 1];
      if (message !== undefined) throw new Error(message);
      return calls;
    },
    calls: () => calls,
  };
}

describe('retryOnPortTaken (test support: a port freePort gave was taken before the server bound it)', () => {
  it('tries again after anvil\'s and the Temporal server\'s "address already in use", then answers the third start', async () => {
    const s = failing([
      'anvil exited with code 0 before answering eth_chainId; last output:\nError: Address already in use (os error 98)',
      "temporal server exited (code 1):\nError: can't set frontend port 55835: listen tcp 127.0.0.1:55835: bind: address already in use",
    ]);
    expect(await retryOnPortTaken(s.start)).toBe(3);
    expect(s.calls()).toBe(3);
  });

  it('throws any other error at once', async () => {
    const s = failing(['anvil did not answer eth_chainId within 20000 ms']);
    await expect(retryOnPortTaken(s.start)).rejects.toThrow('anvil did not answer eth_chainId within 20000 ms');
    expect(s.calls()).toBe(1);
  });

  it('gives up after 5 starts whose port was taken, with the last error', async () => {
    const s = failing(['Address already in use (1)', 'Address already in use (2)', 'Address already in use (3)',
      'Address already in use (4)', 'Address already in use (5)', 'Address already in use (6)']);
    await expect(retryOnPortTaken(s.start)).rejects.toThrow('Address already in use (5)');
    expect(s.calls()).toBe(5);
  });
});
