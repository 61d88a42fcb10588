/**
 * Database layer: Kysely types, connection, migrations, the one-transaction batch writer, cursor,
 * rollback and gap reads, and the SQLSTATE map. May use pg and kysely; never calls RPC or Temporal.
 */
export type { Database, BlockRow, TransactionRow, LogRow, WithdrawalRow, StoredBlock } from './database.js';
export { connectDatabase } from './connect.js';
export { migrateToLatest } from './migrate.js';
export { toBatchRows, bytes, rowsWithBuffers, type BatchRows, type CopyRow, type Hex } from './rows.js';
export { encodeRows, type ColumnTypes, type EncodedRows, type EncodedTable } from './encoded-rows.js';
export { storeBatch, writeBatch, rangeDeleteStatements, batchAttemptKey, batchApplicationName, stopEarlierAttempts, type BatchAttempt, type StoppedAttempt } from './store-batch.js';
export { readCursor, saveCursor, readStoredHashes, highestStoredBlock, rollbackTo, findGaps, type Gap } from './cursor-store.js';
export { classifyDbError } from './sqlstate.js';
export { exportBlock, toRpcBundle, type StoredBlockRows } from './export-block.js';
export {
  ensurePartitions, recordPartitionSize, archivePartitions, firstUnarchivedBlock, listRangePartitions,
  ArchiveRefusedError, DEFAULT_PARTITION_SIZE, type ArchiveMode, type PartitionBounds,
} from './partitions.js';
