#!/usr/bin/env node
// The `evm-indexer` command: runs src/client.ts through tsx (TypeScript, no build step).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/client.ts');
await main();
