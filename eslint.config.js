// Lint rules that hold the architecture (see ../shared/STYLE.md §1): workflows and domain stay
// deterministic and I/O-free; no floating promises; no default exports.
import tseslint from 'typescript-eslint';

const IO_MODULES = ['node:*', 'pg', 'kysely', 'viem', 'p-limit', 'pino', '@temporalio/worker', '@temporalio/client', '@temporalio/activity'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.data/**', '.tools/**', 'coverage/**'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      'no-restricted-syntax': ['error', { selector: 'ExportDefaultDeclaration', message: 'No default exports (STYLE.md §1).' }],
    },
  },
  {
    files: ['src/workflows/**/*.ts', 'src/domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          { group: IO_MODULES, message: 'Workflows and domain code do no I/O (STYLE.md §1).', allowTypeImports: true },
          { group: ['**/rpc/**', '**/db/**', '**/config/**', '**/activities/**', '**/worker*', '**/client*'], message: 'Workflows and domain import only domain (types excepted).', allowTypeImports: true },
        ],
      }],
    },
  },
  { files: ['vitest.config.ts'], rules: { 'no-restricted-syntax': 'off' } },
);
