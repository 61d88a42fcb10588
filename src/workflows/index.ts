/**
 * Workflows: deterministic code only (activities through proxies, timers, conditions, signals,
 * queries). No I/O, no Node built-ins, no pg, kysely, viem transports, config, rpc or db imports.
 * This file is the worker's `workflowsPath` entry.
 */
export { chainSync } from './sync-chain.js';
export { backfill } from './backfill.js';
export { verify } from './verify.js';
