/**
 * The commands the client prints as hints work as printed: the client as it was run, and the
 * `temporal` CLI with the client's address (and namespace when it is not `default`).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clientInvocation, keepsRunningNotice, temporalBinary, temporalCommand } from '../../../src/cli/hints.js';

describe('clientInvocation()', () => {
  it.each([
    ['/work/main/src/client.ts', 'npx tsx src/client.ts'],
    [undefined, 'npx tsx src/client.ts'],
    ['/app/dist/src/client.js', 'node dist/src/client.js'],
    ['/work/main/bin/evm-indexer.js', 'npx evm-indexer'],
    ['/work/main/node_modules/.bin/evm-indexer', 'npx evm-indexer'],
  ])('%s runs again as %s', (scriptPath, expected) => {
    expect(clientInvocation(scriptPath)).toBe(expected);
  });
});

describe('temporalCommand() and temporalBinary()', () => {
  it('adds --address always and --namespace unless it is default', () => {
    expect(temporalCommand('temporal', { address: '127.0.0.1:7233', namespace: 'default' }, 'workflow cancel --workflow-id verify:1:0-9')).toBe(
      'temporal workflow cancel --workflow-id verify:1:0-9 --address 127.0.0.1:7233');
    expect(temporalCommand('.tools/temporal', { address: 'temporal:7233', namespace: 'indexer' }, 'workflow cancel --workflow-id backfill:1:0-9')).toBe(
      '.tools/temporal workflow cancel --workflow-id backfill:1:0-9 --address temporal:7233 --namespace indexer');
  });

  it('names .tools/temporal where setup installed it, else temporal (on PATH)', () => {
    const checkout = mkdtempSync(join(tmpdir(), 'hints-'));
    const elsewhere = mkdtempSync(join(tmpdir(), 'hints-'));
    mkdirSync(join(checkout, '.tools'));
    writeFileSync(join(checkout, '.tools', 'temporal'), '');
    expect([temporalBinary(checkout), temporalBinary(elsewhere)]).toEqual(['.tools/temporal', 'temporal']);
  });

  it('says which workflow keeps running after Ctrl-C and how to cancel it', () => {
    expect(keepsRunningNotice('verify', 'verify:1:0-9', 'temporal workflow cancel --workflow-id verify:1:0-9 --address 127.0.0.1:7233')).toBe(
      'interrupted: verify verify:1:0-9 keeps running in Temporal; cancel it with: temporal workflow cancel --workflow-id verify:1:0-9 --address 127.0.0.1:7233');
    // No worker polled its queue: a cancel would wait for one, so the line gives a terminate.
    expect(keepsRunningNotice('backfill', 'backfill:1:0-9', 'temporal workflow terminate --workflow-id backfill:1:0-9 --reason interrupted --address 127.0.0.1:7233', true)).toBe(
      'interrupted: backfill backfill:1:0-9 keeps running in Temporal; no worker polls its task queue, so a cancel would wait for one; end it now with: '
        + 'temporal workflow terminate --workflow-id backfill:1:0-9 --reason interrupted --address 127.0.0.1:7233');
  });
});
