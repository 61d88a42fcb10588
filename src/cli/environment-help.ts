/**
 * The "Environment" part of the client's `--help`: the variables the client reads (the worker's,
 * README Configuration), so that `--help` alone tells an operator how to point it at a chain, a
 * Temporal server and a database.
 */
import { SYNC_SETTING_VARIABLES } from './running-settings.js';
import { DEFAULTS } from '../config/parse.js';

/**
 * The text after the client's command list: one line per variable, with its default where it has
 * one (DATABASE_URL's password shown as `…`). Pure.
 * @example environmentHelp().startsWith('\nEnvironment') // true
 */
export function environmentHelp(): string {
  const database = DEFAULTS.DATABASE_URL.replace(/:\/\/([^:@/]+):[^@/]*@/, '://$1:…@');
  const rows: [string, string][] = [
    ['CHAIN_ID', 'the chain a command works on, when --chain-id is not given (EIP-155 chain id)'],
    ['CHAINS_FILE', 'JSON file of several chains: each chain\'s task queue, endpoints and settings (README, Many chains)'],
    ['TEMPORAL_ADDRESS', `Temporal frontend, host:port (default ${DEFAULTS.TEMPORAL_ADDRESS})`],
    ['TEMPORAL_NAMESPACE', `Temporal namespace (default ${DEFAULTS.TEMPORAL_NAMESPACE})`],
    ['TASK_QUEUE', `the workers' task queue, where start, backfill and verify put their workflows (default ${DEFAULTS.TASK_QUEUE})`],
    ['DATABASE_URL', `PostgreSQL, read by status, verify, gaps, export-block, archive, migrate and start (default ${database})`],
    ['RPC_URL', 'endpoints start compares the stored cursor with (comma-separated; the workers fetch from their own)'],
    ['MAX_RETRIES', 'attempts per activity of the workflows start, backfill and verify start (default 0: retry forever)'],
  ];
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  const settings = SYNC_SETTING_VARIABLES.filter((v) => v !== 'MAX_RETRIES');
  return [
    '',
    'Environment (the worker\'s variables; README, Configuration):',
    ...rows.flatMap(([name, text]) => wrap(text, HELP_COLUMNS - 2 - width).map((line, i) => `  ${(i === 0 ? name : '').padEnd(width)}${line}`)),
    ...wrap(`${settings.join(', ')}: the settings start gives a new sync (a running one keeps its own: stop it, then start it)`, HELP_COLUMNS - 2).map((line) => `  ${line}`),
  ].join('\n');
}

/** Columns the help is wrapped to (commander wraps its own part to the terminal, at most 80 here alike). */
const HELP_COLUMNS = 80;

/** `text` cut at spaces into lines of at most `columns` characters (a longer word stays whole). Pure. */
function wrap(text: string, columns: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > columns) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}
