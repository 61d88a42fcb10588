/**
 * The commands the client prints as hints (`start it with: …`, `cancel it with: …`), written so
 * that they work when pasted as printed: the client as the operator ran it, the `temporal` CLI
 * with the client's server address and namespace, `--chain-id` whenever a chain is meant.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';

/** The `temporal` CLI as `scripts/setup` installs it, relative to the repository root. */
const REPO_TEMPORAL_CLI = '.tools/temporal';

/**
 * How to run the client again, from the path of the script being run (`process.argv[1]`):
 * `npx evm-indexer` for the package's bin, `node dist/src/client.js` for the compiled client (the
 * Docker image), else `npx tsx src/client.ts` (the README's form). Pure.
 * @example clientInvocation('/app/dist/src/client.js') // 'node dist/src/client.js'
 */
export function clientInvocation(scriptPath: string | undefined): string {
  const path = (scriptPath ?? '').replaceAll('\\', '/');
  if (basename(path).startsWith('evm-indexer')) return 'npx evm-indexer';
  if (path.endsWith('/dist/src/client.js')) return 'node dist/src/client.js';
  return 'npx tsx src/client.ts';
}

/**
 * The `temporal` CLI to name in hints: `.tools/temporal` when it exists under `cwd` (a checkout
 * after `scripts/setup`, where it is not on PATH), else `temporal`. Reads the file system.
 */
export function temporalBinary(cwd: string): string {
  return existsSync(join(cwd, REPO_TEMPORAL_CLI)) ? REPO_TEMPORAL_CLI : 'temporal';
}

/**
 * A `temporal` command line against the server the client uses: `<binary> <args> --address
 * <address>`, plus `--namespace <namespace>` unless it is `default`. Pure.
 * @example temporalCommand('temporal', { address: '127.0.0.1:7233', namespace: 'default' }, 'workflow cancel --workflow-id verify:1:0-9')
 *   // 'temporal workflow cancel --workflow-id verify:1:0-9 --address 127.0.0.1:7233'
 */
export function temporalCommand(binary: string, server: { address: string; namespace: string }, args: string): string {
  return `${binary} ${args} --address ${server.address}${server.namespace === 'default' ? '' : ` --namespace ${server.namespace}`}`;
}

/**
 * The line printed when Ctrl-C (SIGINT) ends the client while it waits for workflow `workflowId`
 * (a `verify` or `backfill`), which goes on without it; `end` is the command that ends it: a cancel,
 * or, when no worker polled its task queue (`unserved`: a cancel would wait for one), a terminate. Pure.
 */
export function keepsRunningNotice(command: string, workflowId: string, end: string, unserved = false): string {
  return `interrupted: ${command} ${workflowId} keeps running in Temporal; ${unserved ? 'no worker polls its task queue, so a cancel would wait for one; end it now with' : 'cancel it with'}: ${end}`;
}
