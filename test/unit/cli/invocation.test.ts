/**
 * How the commands the client prints run it again (src/client.ts, createProgram): with the
 * CHAINS_FILE and the non-default TASK_QUEUE it was given, so they work as printed when those were
 * set on one command line only.
 */
import { describe, expect, it, vi } from 'vitest';
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

describe('misspelled settings', () => {
  it('are named on stderr before a command runs, not for --help or a bad command', async () => {
    const env = { CONFIRMATIONS: '3', DATABASE_URL: 'postgres://u:p@127.0.0.1:1/db' };
    const warned: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((line: unknown) => void warned.push(String(line)));
    try {
      const quiet = () => createProgram(env, 'npx tsx src/client.ts').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
      await quiet().parseAsync(['node', 'client', '--help']).catch(() => undefined);
      await quiet().parseAsync(['node', 'client', 'bogus']).catch(() => undefined);
      expect(warned).toEqual([]);
      // migrate then fails on the closed port; the warning came first.
      await expect(quiet().parseAsync(['node', 'client', 'migrate'])).rejects.toThrow(/^DATABASE_URL: cannot migrate postgres:\/\/u@127\.0\.0\.1:1\/db: /);
      expect(warned).toEqual(['warning: CONFIRMATIONS is not a variable the indexer reads, so it is ignored: did you mean CONFIRMATION_DEPTH? (README, Configuration)']);
    } finally {
      spy.mockRestore();
    }
  });
});
