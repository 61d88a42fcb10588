import { readFileSync } from 'node:fs';

const texts = new Map<string, string>();

/**
 * Reads a recorded fixture from `test/fixtures/` (see `test/fixtures/PROVENANCE.md`).
 * The file is read once; it is parsed afresh on every call, so a test may mutate what it gets
 * without touching other tests.
 */
export function fixture<T = unknown>(path: string): T {
  let text = texts.get(path);
  if (text === undefined) {
    text = readFileSync(new URL(`../fixtures/${path}`, import.meta.url), 'utf8');
    texts.set(path, text);
  }
  return JSON.parse(text) as T;
}
