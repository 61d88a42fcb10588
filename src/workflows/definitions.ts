/**
 * Names shared by workflows, the worker and the client, defined once: workflow IDs, the task
 * queue default, signals, queries, and the JSON inputs and outputs of the workflows.
 * Deterministic and import-free apart from types: safe inside the workflow sandbox.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { Finality } from '../domain/finality.js';
import type { Cursor } from '../domain/cursor.js';

/** Default task queue of workers and workflows (`TASK_QUEUE`). */
export const DEFAULT_TASK_QUEUE = 'evm-indexer';

/** Workflow ID of the sync of chain `chainId`: the singleton, `chain-sync:<chainId>`. Pure. */
export function chainSyncWorkflowId(chainId: number): string {
  return `chain-sync:${chainId}`;
}

/** Workflow ID of the backfill of chain `chainId` over `[from, to]`: `backfill:<chainId>:<from>-<to>`. Pure. */
export function backfillWorkflowId(chainId: number, from: number, to: number): string {
  return `backfill:${chainId}:${from}-${to}`;
}

/**
 * Search attribute `ChainId` (Int): the EIP-155 chain id of a sync or backfill, set by the client
 * at start, so `temporal workflow list --query 'ChainId = 1'` finds a chain's workflows.
 * Registered by `scripts/stack up` (`temporal operator search-attribute create` elsewhere).
 */
export const chainIdSearchAttribute = defineSearchAttributeKey('ChainId', SearchAttributeType.INT);
/**
 * Search attribute `CursorBlockNumber` (Int): the sync's cursor, updated by the workflow at most
 * once per minute (each update is a history event).
 */
export const cursorSearchAttribute = defineSearchAttributeKey('CursorBlockNumber', SearchAttributeType.INT);

/** Input of `chainSync`. Plain JSON; config reaches the workflow only this way, so history shows it. */
export type ChainSyncInput = {
  /** EIP-155 chain id. */
  chainId: number;
  /** First block number to store when the chain has no cursor yet. */
  startBlock: number;
  /** Blocks per `indexRange` activity: of every one, or with `batchRows` of the first ones. */
  batchSize: number;
  /**
   * Rows (blocks + transactions + logs) an `indexRange` activity aims at once batches are stored:
   * later batches are sized from the rows per block seen (between 1 and `max(batchSize, min(10 ×
   * batchSize, 2,000))` blocks; `createRangeSizer`).
   * 0 or absent (runs started before it existed): every batch has `batchSize` blocks.
   */
  batchRows?: number;
  /** `indexRange` activities in flight at once (sliding window). */
  concurrency: number;
  /** Blocks on top of a block before it is stored, when `finality` is `depth`. */
  confirmationDepth: number;
  finality: Finality;
  /** Sleep between head polls once caught up, in ms. */
  pollIntervalMs: number;
  /** Attempts per activity before it fails (0 = unlimited). */
  maxRetries: number;
  /** How often the sync looks for gaps below its cursor once caught up, in ms (default 60,000). */
  gapCheckIntervalMs?: number;
  /**
   * Stall watchdog: when the cursor has not moved for this long (ms, default 300,000) while there
   * are blocks to store (target above the cursor) and the sync is not paused, it is reported as
   * stalled (status, details, a `sync-stalled` warning). Stuck batches themselves are retried by
   * Temporal (heartbeat timeout 30 s, start-to-close 10 min).
   */
  stallTimeoutMs?: number;
  /**
   * True when the namespace has `CursorBlockNumber` registered (the client checks): the sync then
   * keeps it current. Off by default, since upserting an unregistered attribute fails the workflow task.
   */
  searchAttributes?: boolean;
  /** The endpoints, redacted (no keys), as shown in the Web UI's details. Display only. */
  endpoints?: string[];
  /** Carried across continue-as-new: the cursor and the pause state. Omit when starting. */
  carried?: {
    cursor: Cursor; paused: boolean; blocksStored: number; reorgs: number;
    /** Below this block the last gap check found nothing missing, and when the last full one was (workflow ms): the next run's checks go on from there. Absent: a full check first. */
    gapFreeBelow?: number; lastFullGapCheckMs?: number;
  };
};

/** Input of `backfill`. Only `chainId`, `from` and `to` are required, so the `temporal` CLI can send it. */
export type BackfillInput = {
  chainId: number;
  /** First block number, inclusive. */
  from: number;
  /** Last block number, inclusive. */
  to: number;
  /** Blocks per batch (default 100): of every batch, or with `batchRows` of the first ones. */
  batchSize?: number;
  /** Rows a batch aims at once batches are stored, as in {@link ChainSyncInput}; absent or 0: fixed `batchSize`. */
  batchRows?: number;
  concurrency?: number;
  maxRetries?: number;
  /** Carried across continue-as-new: blocks `from..doneThrough` are stored and linked. */
  carried?: { cursor: Cursor; startedAtMs: number };
};

/** What the `progress` query of `chainSync` answers. Block numbers; rates in blocks per second. */
export type SyncProgress = {
  chainId: number;
  status: 'starting' | 'syncing' | 'caught-up' | 'paused' | 'rolling-back' | 'stalled';
  /** Last block stored contiguously (−1 before the first batch when starting at 0). */
  cursor: number;
  cursorHash: string | null;
  /** Highest block the sync may store now (confirmed head or the finality tag). */
  target: number | null;
  head: number | null;
  /** `head − cursor`, in blocks. */
  lagBlocks: number | null;
  finality: Finality;
  confirmationDepth: number;
  inFlightBatches: number;
  blocksStoredThisRun: number;
  /** Blocks stored per second over the last minute (since this run, or continue-as-new, started when that is shorter; 0 while paused a minute); see recent-rate.ts. */
  blocksPerSecond: number;
  reorgs: number;
  /** Gaps found below the cursor and filled by this run. */
  gapsRepaired: number;
  /** When the head was last read (workflow time, ms since epoch); null before the first read. */
  headReadAtMs: number | null;
  paused: boolean;
  /** Seconds the cursor has not moved while blocks wait to be stored, once over the stall timeout; else null. */
  stalledForSeconds: number | null;
};

/** What the `progress` query of `backfill` answers and what the workflow returns. */
export type BackfillProgress = {
  chainId: number;
  from: number;
  to: number;
  status: 'running' | 'done';
  /** Last block stored contiguously from `from` (from − 1 before the first batch). */
  doneThrough: number;
  blocksDone: number;
  blocksTotal: number;
  blocksPerSecond: number;
  inFlightBatches: number;
  /**
   * The endpoints' head (block number) while the rest of the range is above it and the backfill
   * waits for it, reading the head every 5 s; absent while it indexes, or when it is done.
   */
  waitingAtHead?: number;
};

/** Workflow ID of a verify of chain `chainId` over `[from, to]`: `verify:<chainId>:<from>-<to>`. Pure. */
export function verifyWorkflowId(chainId: number, from: number, to: number): string {
  return `verify:${chainId}:${from}-${to}`;
}

/** Input of `verify`: an inclusive range; `sample` checks only that many blocks, spread evenly. */
export type VerifyInput = {
  chainId: number; from: number; to: number; sample?: number;
  /** Attempts per `verifyRange` before the verify fails (`MAX_RETRIES`); 0 or absent = retry forever with backoff. */
  maxRetries?: number;
  /** Set by the verify itself when it continues as new: the index of its next chunk, and the report so far. */
  carried?: { nextChunk: number; report: VerifyReport };
};

/** Result of `verify`: blocks compared, the exact number of differences, and the first ones (one line each). */
export type VerifyReport = { chainId: number; from: number; to: number; checkedBlocks: number; differenceCount: number; differences: string[] };

/** Signal: stop scheduling new batches; in-flight batches finish. */
export const pauseSignal = defineSignal('pause');
/** Signal: resume after `pause`. */
export const resumeSignal = defineSignal('resume');
/** Query: the sync's {@link SyncProgress}. */
export const syncProgressQuery = defineQuery<SyncProgress>('progress');
/** Query: the backfill's {@link BackfillProgress}. */
export const backfillProgressQuery = defineQuery<BackfillProgress>('progress');

/** Gap check intervals between two gap checks over the whole chain: hourly at the default GAP_CHECK_INTERVAL (60 s). */
export const FULL_GAP_CHECK_EVERY = 60;
