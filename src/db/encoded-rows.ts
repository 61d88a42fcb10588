/**
 * Batch rows encoded for COPY ahead of the write (in the decode thread, src/decode/), with what
 * `writeBatch` needs to write them: the tables, their columns and their tuples. Pure (no I/O), so
 * it runs in any thread.
 */
import { BINARY_TYPES, copyBinaryTuples, CopyValueError } from './copy-format.js';
import { BATCH_TABLES, type BatchRows, type BatchTable } from './rows.js';

/** Postgres column types (`udt_name`) by table and column, as `information_schema.columns` gives them. */
export type ColumnTypes = Readonly<Record<string, Readonly<Record<string, string>>>>;

/** Tuples of one table in COPY binary format (no header or trailer): bytes `start..end` of the body's `tuples` buffer. */
export type EncodedTable = { table: BatchTable; columns: string[]; start: number; end: number };

/**
 * The rows of the valid blocks of one answer: tables whose every column the catalog gives a type
 * the binary encoder writes are encoded (`tables`, in BATCH_TABLES order, all in `tuples`); any
 * other table's rows are kept as rows (`rows`: a column the catalog does not know yet, or a type
 * only the text format writes), for `writeBatch` to write as it does. Row counts per table.
 */
export type EncodedRows = {
  /** The tuples' memory: the answer's own buffer, or the decode pool's shared tuple arena (src/decode/arena.ts). */
  tuples: ArrayBuffer | SharedArrayBuffer | null;
  /**
   * Gives the tuples' memory back (the arena's pages), when they live in memory that is reused:
   * `writeBatch` calls it once the COPY that carried them ended, or when its batch ended without
   * writing them. Idempotent. Absent for tuples in a buffer of their own.
   */
  release?: () => void;
  tables: EncodedTable[];
  rows: Partial<BatchRows>;
  counts: Record<BatchTable, number>;
};

/**
 * `rows` encoded for COPY where `types` allows it (see {@link EncodedRows}), every table's tuples in
 * one buffer (one transfer between threads).
 * @throws CopyValueError (`nodeData`) when hex data a node sent is not hex, its message prefixed
 *   with the table; TypeError on a bug.
 */
export function encodeRows(rows: BatchRows, types: ColumnTypes): EncodedRows {
  const encoded: { table: BatchTable; columns: string[]; chunks: Buffer[] }[] = [];
  const kept: Partial<BatchRows> = {};
  const counts = { blocks: 0, transactions: 0, logs: 0, withdrawals: 0 };
  for (const table of BATCH_TABLES) {
    const tableRows: readonly object[] = rows[table];
    counts[table] = tableRows.length;
    if (tableRows.length === 0) continue;
    const columns = Object.keys(tableRows[0]!);
    const columnTypes = columns.map((c) => types[table]?.[c]);
    if (columnTypes.every((t): t is string => t !== undefined && BINARY_TYPES.has(t))) {
      try {
        encoded.push({ table, columns, chunks: copyBinaryTuples(tableRows, columns, columnTypes) });
      } catch (err) {
        throw err instanceof CopyValueError ? new CopyValueError(`${table}: ${err.message}`, err.nodeData) : err;
      }
    } else {
      (kept as Record<string, unknown>)[table] = tableRows;
    }
  }
  const total = encoded.reduce((sum, e) => sum + e.chunks.reduce((s, c) => s + c.length, 0), 0);
  const tuples = total > 0 ? Buffer.allocUnsafeSlow(total) : null;
  const tables: EncodedTable[] = [];
  let at = 0;
  for (const { table, columns, chunks } of encoded) {
    const start = at;
    for (const chunk of chunks) at += chunk.copy(tuples!, at);
    tables.push({ table, columns, start, end: at });
  }
  return { tuples: tuples ? (tuples.buffer as ArrayBuffer) : null, tables, rows: kept, counts };
}
