import { distance } from 'fastest-levenshtein';
import { SETTING_NAMES } from './parse.js';

/** Variables of this project read outside {@link SETTING_NAMES} that look like settings' names (src/decode/native.ts, scripts/lib.sh). */
const OTHER_VARIABLES: ReadonlySet<string> = new Set(['TRANSCODER_SIMD', 'NATIVE_TRANSCODER_FILE']);

/**
 * Words of setting names specific enough that a variable holding one of them (or one letter off)
 * is very likely meant as that setting: `CONFIRMATIONS`, `BLOCK_CONFIRMATIONS`, `FINALITY_TAG`.
 * Words other tools' variables use are left out (`TEMPORAL`, `TIMEOUT`, `URL`, and `RETRY`,
 * `RETRIES`, `CONCURRENCY`, `PARTITION`: `PIP_RETRIES`, `AWS_RETRY_MODE`, `UV_CONCURRENCY`,
 * `KAFKA_PARTITION`), as names within two letters catch their misspellings.
 */
const DISTINCTIVE_WORDS: ReadonlyMap<string, readonly string[]> = new Map([
  ['CONFIRMATION', ['CONFIRMATION_DEPTH']],
  ['CONFIRMATIONS', ['CONFIRMATION_DEPTH']],
  ['FINALITY', ['FINALITY']],
  ['TRANSCODER', ['NATIVE_TRANSCODER']],
]);

/**
 * The settings a variable name of the environment may be a misspelling of, closest first: those
 * within two edits (Levenshtein distance; one for names under 6 characters) of the name, the same
 * name in other letter case, or a setting one of whose distinctive words ({@link DISTINCTIVE_WORDS},
 * one edit allowed) the name holds. Empty for a setting's own name, for the project's other variables ({@link OTHER_VARIABLES}) and for any other name. Pure.
 * @example settingsNear('CONFIRMATIONS') // ['CONFIRMATION_DEPTH']
 * @example settingsNear('rpc_url') // ['RPC_URL']
 * @example settingsNear('PATH') // []
 */
export function settingsNear(name: string): string[] {
  if (SETTING_NAMES.includes(name) || OTHER_VARIABLES.has(name)) return [];
  const upper = name.toUpperCase();
  if (SETTING_NAMES.includes(upper)) return [upper];
  const near = new Map<string, number>();
  const limit = upper.length < 6 ? 1 : 2;
  for (const setting of SETTING_NAMES) {
    const d = distance(upper, setting);
    if (d <= limit) near.set(setting, d);
  }
  for (const word of upper.split('_')) {
    for (const [distinctive, settings] of DISTINCTIVE_WORDS) {
      if (distance(word, distinctive) > 1) continue;
      for (const setting of settings) if (!near.has(setting)) near.set(setting, 3);
    }
  }
  return [...near].sort((x, y) => x[1] - y[1] || x[0].localeCompare(y[0])).map(([setting]) => setting);
}

/** A variable of the environment that looks like a misspelled setting. */
export type MisspelledSetting = Readonly<{
  /** The variable's name as set. */
  name: string;
  /** The settings it may be meant as, closest first ({@link settingsNear}). */
  near: readonly string[];
  /** `CONFIRMATIONS is not a variable the indexer reads, so it is ignored: did you mean CONFIRMATION_DEPTH? (README, Configuration)` */
  warning: string;
}>;

/**
 * Each variable of `env` that is not a setting but looks like a misspelling of one
 * ({@link settingsNear}), which the indexer would otherwise ignore without a word. Names only:
 * values (which may hold API keys) never appear. Sorted by name. Pure.
 */
export function misspelledSettings(env: Readonly<Record<string, string | undefined>>): MisspelledSetting[] {
  return Object.keys(env)
    .filter((name) => env[name] !== undefined)
    .sort()
    .flatMap((name) => {
      const near = settingsNear(name);
      if (near.length === 0) return [];
      const settings = near.length === 1 ? near[0] : `${near.slice(0, -1).join(', ')} or ${near.at(-1)}`;
      return [{ name, near, warning: `${name} is not a variable the indexer reads, so it is ignored: did you mean ${settings}? (README, Configuration)` }];
    });
}
