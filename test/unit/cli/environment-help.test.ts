/**
 * The "Environment" part of the client's --help (src/cli/environment-help.ts).
 */
import { describe, expect, it } from 'vitest';
import { createProgram } from '../../../src/client.js';
import { environmentHelp } from '../../../src/cli/environment-help.js';
import { SYNC_SETTING_VARIABLES } from '../../../src/cli/running-settings.js';

describe('environmentHelp()', () => {
  const text = environmentHelp();

  it('names the connection variables with their defaults, the database password hidden', () => {
    expect(text.split('\n').slice(0, 3)).toEqual([
      '',
      "Environment (the worker's variables; README, Configuration):",
      '  CHAIN_ID            the chain a command works on, when --chain-id is not given',
    ]);
    expect(text).toContain('  TEMPORAL_ADDRESS    Temporal frontend, host:port (default 127.0.0.1:7233)\n');
    expect(text).toContain('postgres://indexer:…@127.0.0.1:5432/indexer)');
    expect(text).not.toContain('indexer:indexer@');
  });

  it('names every setting start passes to a new sync, and fits 80 columns', () => {
    const words = text.replace(/\s+/g, ' ');
    for (const variable of SYNC_SETTING_VARIABLES) expect(words).toContain(`${variable}`);
    expect(words).toContain('STALL_TIMEOUT: the settings start gives a new sync (a running one keeps its own: stop it, then start it)');
    expect(text.split('\n').filter((line) => line.length > 80)).toEqual([]);
  });

  it('is printed after the commands by --help', async () => {
    let out = '';
    const program = createProgram({}, 'evm-indexer').exitOverride().configureOutput({ writeOut: (s) => { out += s; } });
    await expect(program.parseAsync(['node', 'client', '--help'])).rejects.toMatchObject({ code: 'commander.helpDisplayed' });
    expect(out.indexOf('  help [command]')).toBeGreaterThan(0);
    expect(out.endsWith(`${text}\n`)).toBe(true);
  });
});
