/**
 * A running sync keeps the settings it was started with (its workflow input, carried over
 * continue-as-new): a `start` with other settings finds it running and changes nothing. This
 * says which settings differ, so the operator knows to stop and start it again.
 */
import type { ChainSyncInput } from '../workflows/definitions.js';

/** The settings of a sync's input an operator sets, with the variable that sets each (CHAINS_FILE fields have the same meaning). */
const SETTINGS: readonly { key: keyof ChainSyncInput; variable: string }[] = [
  { key: 'startBlock', variable: 'START_BLOCK' },
  { key: 'batchSize', variable: 'BATCH_SIZE' },
  { key: 'batchRows', variable: 'BATCH_ROWS' },
  { key: 'concurrency', variable: 'CONCURRENCY' },
  { key: 'finality', variable: 'FINALITY' },
  { key: 'confirmationDepth', variable: 'CONFIRMATION_DEPTH' },
  { key: 'pollIntervalMs', variable: 'POLL_INTERVAL' },
  { key: 'maxRetries', variable: 'MAX_RETRIES' },
  { key: 'gapCheckIntervalMs', variable: 'GAP_CHECK_INTERVAL' },
  { key: 'stallTimeoutMs', variable: 'STALL_TIMEOUT' },
];

/** The variables of the sync's settings, in the order `start` names them: START_BLOCK, BATCH_SIZE, … */
export const SYNC_SETTING_VARIABLES: readonly string[] = SETTINGS.map((s) => s.variable);

/**
 * The settings whose value in `wanted` (what `start` would start with) differs from `running` (the
 * running sync's input), as `VARIABLE running (now wanted)`, in the order of SETTINGS. A setting the
 * running input lacks (a run started before it existed, which uses the workflow's default) or
 * `wanted` lacks is not compared. Pure.
 * @example settingsDiff({ confirmationDepth: 12, batchSize: 100 }, { confirmationDepth: 3, batchSize: 100 }) // ['CONFIRMATION_DEPTH 12 (now 3)']
 */
export function settingsDiff(running: Partial<ChainSyncInput>, wanted: Partial<ChainSyncInput>): string[] {
  const differ: string[] = [];
  for (const { key, variable } of SETTINGS) {
    const was = running[key];
    const now = wanted[key];
    if (was === undefined || was === null || now === undefined || now === null || was === now) continue;
    differ.push(`${variable} ${String(was)} (now ${String(now)})`);
  }
  return differ;
}

/**
 * The `VARIABLE=value` words the `start` of the kept-settings note needs so that it starts the sync
 * with the settings asked for now: when any setting differs ({@link settingsDiff}'s lines), one per
 * sync setting (SETTINGS: `START_BLOCK` … `STALL_TIMEOUT`) that `env` sets, the differing ones and
 * the others alike, its value as `quote` writes it for a shell, in SETTINGS' order. Given on one
 * command line (`FINALITY=finalized CONFIRMATION_DEPTH=3 scripts/start`) and not exported, a
 * variable would be lost from a `start` typed afterwards, and the sync started again with its
 * default (`FINALITY=depth`), not only with the old value of the one that differed. A setting
 * `env` does not set (a default) needs none; with a CHAINS_FILE the caller passes none (the file's
 * fields win). Pure.
 * @example newSettingsAssignments(['CONFIRMATION_DEPTH 12 (now 3)'], { CONFIRMATION_DEPTH: '3', FINALITY: 'finalized' }, (w) => w) // ['CONFIRMATION_DEPTH=3', 'FINALITY=finalized']
 */
export function newSettingsAssignments(differ: readonly string[], env: NodeJS.ProcessEnv, quote: (word: string) => string): string[] {
  if (differ.length === 0) return [];
  return SYNC_SETTING_VARIABLES.flatMap((variable) => {
    const value = env[variable];
    return value === undefined || value === '' ? [] : [`${variable}=${quote(value)}`];
  });
}

/**
 * The note `start` prints under "already running" when the settings differ ({@link settingsDiff};
 * '' when none does): the running sync keeps its own, and how to adopt the new ones (`stop`, then
 * `start`, as `invocation` runs the client, the `start` after `assignments`, the new settings'
 * variables ({@link newSettingsAssignments}); `stop --force` when `force`: no worker runs the sync,
 * so a cancel would wait for one). Pure.
 * @example keptSettingsNote(['CONFIRMATION_DEPTH 12 (now 3)'], 'npx tsx src/client.ts', 1, false, ['CONFIRMATION_DEPTH=3'])
 *   // 'note: the running sync keeps the settings it started with: CONFIRMATION_DEPTH 12 (now 3); to use the new ones, stop it and start it again: npx tsx src/client.ts stop --chain-id 1, then CONFIRMATION_DEPTH=3 npx tsx src/client.ts start --chain-id 1'
 */
export function keptSettingsNote(differ: readonly string[], invocation: string, chainId: number, force = false, assignments: readonly string[] = []): string {
  if (differ.length === 0) return '';
  const start = [...assignments, invocation].join(' ');
  return `note: the running sync keeps the settings it started with: ${differ.join(', ')}; to use the new ones, stop it and start it again: ${invocation} stop --chain-id ${chainId}${force ? ' --force' : ''}, then ${start} start --chain-id ${chainId}`;
}
