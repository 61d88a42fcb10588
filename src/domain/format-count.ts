/**
 * Counts and block numbers as people read them: thousands separated by commas (`1,234,567`), the
 * one number format of the CLI, the logs and the Temporal Web UI texts. Pure; no Intl, so a
 * workflow sandbox prints the same as Node (`toLocaleString('en-US')` gives the same for integers).
 */

/**
 * `1234567` → `1,234,567`, `-12345` → `-12,345`. For integers (block numbers, block and row
 * counts); a fraction is truncated toward zero. Pure; never throws.
 * @example formatCount(18_000_000) // '18,000,000'
 */
export function formatCount(n: number): string {
  const sign = n < 0 ? '-' : '';
  return sign + String(Math.trunc(Math.abs(n))).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * {@link formatCount} of `n`, or `missing` when there is no number (null or undefined): the CLI
 * prints `-`, the Web UI `–`. Pure; never throws.
 * @example formatCountOr(null, '-') // '-'
 */
export function formatCountOr(n: number | null | undefined, missing: string): string {
  return n === null || n === undefined ? missing : formatCount(n);
}

/**
 * A block number as {@link formatCount} writes it, or `missing` when there is none: null, absent, or
 * below 0 (the workflows' −1 for "no block yet": a cursor before the first block, a target while
 * the chain is shorter than its confirmation depth). Pure.
 */
export function formatBlockOr(n: number | null | undefined, missing: string): string {
  return n === null || n === undefined || n < 0 ? missing : formatCount(n);
}
