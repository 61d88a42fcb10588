/**
 * Writes the workflow bundle (webpack, `bundleWorkflowCode` of @temporalio/worker) of
 * `src/workflows` to a file, for workers started with `WORKFLOW_BUNDLE=<file>`: they skip bundling
 * at start (seconds of CPU and about 115 MB of peak memory per worker; measured with
 * `/usr/bin/time -v`). The Docker image builds one. Rebuild it whenever src/workflows changes: a
 * worker runs the bundle it is given, not the source beside it.
 *
 * Run: `npm run build:workflows -- [file=dist/workflow-bundle.js]`
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOWS_PATH } from '../src/worker.js';

const out = resolve(process.argv[2] ?? 'dist/workflow-bundle.js');
const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH });
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, code);
console.log(`workflow bundle written to ${out} (${(code.length / 1024).toFixed(0)} KiB); start workers with WORKFLOW_BUNDLE=${out}`);
