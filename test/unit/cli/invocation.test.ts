/**
 * How the commands the client prints run it again (src/client.ts, createProgram): with the
 * CHAINS_FILE and the non-default TASK_QUEUE it was given, so they work as printed when those were
 * set on one command line only.
 */
import { describe, expect, it } from 'vitest';
import { createProgram } from '../../../src/client.js';

/** What the client prints on stderr for an unknown command with `env`. */
async function usageLine(env: NodeJS.ProcessEnv): Promise<string> {
  let err = '';
  const program = createProgram(env, 'npx tsx src/client.ts').exitOverride().configureOutput({ writeErr: (s) => { err += s; }, writeOut: () => undefined });
  await program.parseAsync(['node', 'client', 'bogus']).catch(() => undefined);
  return err.trim().split('\n').at(-1)!;
}

describe('printed commands', () => {
  it('carry a non-default TASK_QUEUE, also beside a CHAINS_FILE (its chains without a queue of their own use TASK_QUEUE-<chain id>)', async () => {
    expect(await usageLine({})).toBe('(usage: npx tsx src/client.ts --help)');
    expect(await usageLine({ TASK_QUEUE: 'evm-indexer' })).toBe('(usage: npx tsx src/client.ts --help)');
    expect(await usageLine({ TASK_QUEUE: 'myq' })).toBe('(usage: TASK_QUEUE=myq npx tsx src/client.ts --help)');
    expect(await usageLine({ CHAINS_FILE: '/etc/my chains.json', TASK_QUEUE: 'myq' })).toBe("(usage: CHAINS_FILE='/etc/my chains.json' TASK_QUEUE=myq npx tsx src/client.ts --help)");
  });
});
