import { defineConfig } from 'vitest/config';

/**
 * Unit tests take milliseconds; integration tests start their own Temporal dev server, anvil and
 * Postgres database per file. Files run one at a time so the 2-core machine is not oversubscribed.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    reporters: ['default'],
  },
});
