/**
 * The Temporal Web UI as an operator sees it: headless Chromium (Debian's, driven by
 * playwright-core) opens the UI of a dev server, finds `chain-sync:<chainId>` through the `ChainId`
 * search attribute, opens its User Metadata tab and reads the cursor and the lag from the sync's
 * current details. The sync is started with the project's CLI, as a user does. A screenshot is
 * saved under `test-output/web-ui/`.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { freePort, generateTraffic, startAnvil, type Anvil } from '../support/devnet.js';
import { rpc } from '../support/chain-oracle.js';
import { cliEnvironment, runClient } from '../support/cli.js';
import { createTestDatabase, startIndexerWorker, temporalCliPath, waitFor, type TestDatabase, type TestWorker } from '../support/stack.js';
import { chainIdSearchAttribute, cursorSearchAttribute, type SyncProgress } from '../../src/workflows/definitions.js';

const OUTPUT_DIR = fileURLToPath(new URL('../../test-output/web-ui/', import.meta.url));
const CHAIN_ID = 31337;
const TASK_QUEUE = 'evm-indexer';
/** Debian's Chromium; `scripts/test` installs it and exports CHROMIUM_PATH. */
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('Temporal Web UI', () => {
  let anvil: Anvil;
  let env: TestWorkflowEnvironment;
  let database: TestDatabase;
  let worker: TestWorker;
  let browser: Browser;
  let uiPort: number;

  beforeAll(async () => {
    uiPort = await freePort();
    [anvil, env, database] = await Promise.all([
      startAnvil({ chainId: CHAIN_ID }),
      TestWorkflowEnvironment.createLocal({
        server: {
          executable: { type: 'existing-path', path: temporalCliPath() },
          ip: '127.0.0.1',
          ui: true,
          uiPort,
          searchAttributes: [chainIdSearchAttribute, cursorSearchAttribute],
        },
      }),
      createTestDatabase('web_ui'),
    ]);
    await generateTraffic(anvil.rpcUrl);
    worker = await startIndexerWorker({ env, taskQueue: TASK_QUEUE, db: database.db, rpcUrls: [anvil.rpcUrl], chainId: CHAIN_ID });
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox'] });
  });

  afterAll(async () => {
    await browser?.close();
    await worker?.stop();
    await env?.teardown();
    await anvil?.stop();
    await database?.drop();
  });

  it('finds chain-sync:31337 by ChainId and shows its cursor and lag in the current details', async () => {
    const started = await runClient(cliEnvironment({
      TEMPORAL_ADDRESS: env.address, DATABASE_URL: database.url, RPC_URL: anvil.rpcUrl,
      CHAIN_ID: String(CHAIN_ID), CONFIRMATION_DEPTH: '3', BATCH_SIZE: '5', POLL_INTERVAL: '500',
    }), ['start']);
    expect(started.code, started.stderr).toBe(0);
    const handle = env.client.workflow.getHandle(`chain-sync:${CHAIN_ID}`);
    const head = Number(BigInt(await rpc(anvil.rpcUrl, 'eth_blockNumber')));
    await waitFor('the sync to catch up', async () => {
      const progress = await handle.query<SyncProgress>('progress');
      return progress.cursor === head - 3 && progress.status === 'caught-up';
    });

    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    mkdirSync(OUTPUT_DIR, { recursive: true });
    try {
      await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows?query=${encodeURIComponent(`ChainId = ${CHAIN_ID}`)}`);
      const link = page.getByRole('link', { name: `chain-sync:${CHAIN_ID}`, exact: true });
      await link.first().waitFor({ timeout: 30_000 });
      expect(await link.count()).toBe(1);
      await link.click();
      await page.getByText('User Metadata', { exact: true }).click();
      // The UI renders user markdown inside a sandboxed iframe: find the frame that holds the details.
      const details = await waitFor('the current details to render', async () => {
        for (const frame of page.frames()) {
          if ((await frame.getByText(`Sync of chain ${CHAIN_ID}`, { exact: true }).count()) > 0) return frame;
        }
        return undefined;
      });
      const cell = async (name: string) => (await details.locator('tr', { has: details.locator('td', { hasText: new RegExp(`^${name}$`) }) }).locator('td').nth(1).innerText()).trim();
      expect(await cell('cursor')).toBe(String(head - 3));
      expect(await cell('lag')).toBe('3 blocks');
      expect(await cell('status')).toBe('caught-up');
      const summaries = await Promise.all(page.frames().map((f) => f.getByText(`sync of chain ${CHAIN_ID}`, { exact: true }).count()));
      expect(summaries.reduce((a, b) => a + b, 0)).toBe(1); // the static summary
    } finally {
      // Also on failure, so a CI log's failure can be looked at.
      await page.screenshot({ path: `${OUTPUT_DIR}chain-sync-${CHAIN_ID}.png`, fullPage: true });
    }
  });
});
