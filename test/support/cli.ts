/**
 * The operator CLI (`src/client.ts`) as a child process, run the way a user types it: a clean
 * environment (PATH and HOME, then only the settings the test gives), exit code and output
 * captured. Test support only: `src/` never imports it.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** How one CLI run ended: its exit code (0 on success) and everything it wrote to stdout and stderr. */
export type CliResult = { code: number; stdout: string; stderr: string };

/**
 * The environment of a CLI child: this process's `PATH` and `HOME` (to find node and tsx), then
 * `settings` (`TEMPORAL_ADDRESS`, `DATABASE_URL`, …); nothing else, so the developer's own variables
 * never reach the test. Pure.
 * @example cliEnvironment({ CHAIN_ID: '31337' }) // { PATH: …, HOME: …, CHAIN_ID: '31337' }
 */
export function cliEnvironment(settings: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...settings };
}

/**
 * Runs `node --import tsx src/client.ts ...args` from the repository root in `env` (see
 * {@link cliEnvironment}) and waits for it to exit. Never rejects: a failing command resolves with
 * its exit code and output.
 * @example const { code, stdout } = await runClient(env, ['status'])
 */
export async function runClient(env: NodeJS.ProcessEnv, args: readonly string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/client.ts', ...args], { cwd: REPO, env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
