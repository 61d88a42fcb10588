/**
 * How `client backfill` reports progress while it waits: a live bar with blocks/s and ETA on a
 * terminal (cli-progress), a plain line every few seconds when output is not a terminal (CI,
 * logs), or one JSON object per line with `--json` (scripts).
 */
import cliProgress from 'cli-progress';
import { formatCount } from '../domain/index.js';
import type { BackfillProgress } from '../workflows/definitions.js';

/** Output style of the backfill progress. */
export type ProgressMode = 'bar' | 'lines' | 'json';

/** Receives progress snapshots and the final result; `stop()` ends the output without a result (Ctrl-C), giving the terminal its cursor back. */
export type ProgressReporter = { update(p: BackfillProgress): void; finish(p: BackfillProgress): void; stop(): void };

/** `bar` on a terminal, `lines` elsewhere, `json` when asked. Pure. */
export function chooseProgressMode(options: { json: boolean; isTTY: boolean }): ProgressMode {
  if (options.json) return 'json';
  return options.isTTY ? 'bar' : 'lines';
}

/** Seconds left at the current rate; null when the rate is 0 (unknown). Pure. */
export function etaSeconds(p: BackfillProgress): number | null {
  if (p.blocksPerSecond <= 0) return null;
  return Math.ceil((p.blocksTotal - p.blocksDone) / p.blocksPerSecond);
}

/** `95` → `1m35s`, `3725` → `1h02m05s`, null → `?`. Pure. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null) return '?';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  if (h > 0) return `${h}h${two(m)}m${two(s)}s`;
  if (m > 0) return `${m}m${two(s)}s`;
  return `${s}s`;
}

/** The last block stored contiguously from the backfill's start, or `-` while there is none (`doneThrough` is `from − 1`). Pure. */
function throughText(p: BackfillProgress): string {
  return p.doneThrough < p.from ? '-' : formatCount(p.doneThrough);
}

/**
 * The end of a progress line: `35.2 blocks/s, ETA 16s`, or, while the rest of the range is above
 * the endpoints' head, `waiting for block 1,450 (the endpoints' head is 1,449)`; `separator`
 * goes between the rate and the ETA. Pure.
 */
function rateText(p: BackfillProgress, separator = ', '): string {
  if (p.waitingAtHead !== undefined) return `waiting for block ${formatCount(p.doneThrough + 1)} (the endpoints' head is ${formatCount(p.waitingAtHead)})`;
  return `${p.blocksPerSecond} blocks/s${separator}ETA ${formatDuration(etaSeconds(p))}`;
}

/**
 * One plain progress line: `  450/1,000 blocks (45%), through block 1,449, 35.2 blocks/s, ETA 16s`
 * (`…, waiting for block 1,450 (the endpoints' head is 1,449)` while it waits for the head). Pure.
 */
export function progressLine(p: BackfillProgress): string {
  const percent = p.blocksTotal === 0 ? 100 : Math.floor((p.blocksDone / p.blocksTotal) * 100);
  return `  ${formatCount(p.blocksDone)}/${formatCount(p.blocksTotal)} blocks (${percent}%), through block ${throughText(p)}, ${rateText(p)}`;
}

/**
 * Creates the reporter for `mode`, writing to `out` (the bar and plain lines go to stderr in the
 * CLI, so stdout keeps only results; JSON goes to stdout).
 */
export function createProgressReporter(mode: ProgressMode, out: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): ProgressReporter {
  if (mode === 'json') {
    return {
      update: (p) => out.stdout.write(`${JSON.stringify({ event: 'progress', ...p, etaSeconds: etaSeconds(p) })}\n`),
      finish: (p) => out.stdout.write(`${JSON.stringify({ event: 'done', ...p })}\n`),
      stop: () => undefined,
    };
  }
  if (mode === 'lines') {
    return { update: (p) => out.stderr.write(`${progressLine(p)}\n`), finish: () => undefined, stop: () => undefined };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream: out.stderr,
      format: '  {bar} {percentage}% | {value}/{total} blocks | through block {through} | {rateText}',
      hideCursor: true,
      clearOnComplete: false,
      noTTYOutput: true, // draw on any stream given (the mode chooser only picks the bar for a terminal)
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const show = (p: BackfillProgress) => {
    const payload = { through: throughText(p), rateText: rateText(p, ' | ') };
    if (!started) {
      bar.start(p.blocksTotal, p.blocksDone, payload);
      started = true;
    } else bar.update(p.blocksDone, payload);
  };
  return {
    update: show,
    finish: (p) => {
      show(p);
      bar.stop();
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
