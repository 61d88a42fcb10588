import { Kysely, PostgresDialect, type LogConfig } from 'kysely';
import pg from 'pg';
import type { Database } from './database.js';

/** Connections per process: a few batches write at once, plus cursor and status reads. */
const POOL_MAX_CONNECTIONS = 10;
const INT8_OID = 20;
let parserInstalled = false;
/** The pg pool under each Kysely instance made here, for what Kysely cannot do (COPY). */
const pgPools = new WeakMap<Kysely<Database>, pg.Pool>();

/**
 * Opens a Kysely database over a pg pool. Installs the int8 parser once (block numbers as
 * `number`; every int8 column holds values below 2^53). Does not connect until the first query.
 * `log` is Kysely's query log (tests record the statements the product ran with it).
 */
export function connectDatabase(databaseUrl: string, options: { maxConnections?: number; log?: LogConfig } = {}): Kysely<Database> {
  if (!parserInstalled) {
    pg.types.setTypeParser(INT8_OID, (value: string) => Number(value));
    parserInstalled = true;
  }
  const pool = new pg.Pool({ connectionString: databaseUrl, max: options.maxConnections ?? POOL_MAX_CONNECTIONS });
  pool.on('error', () => {
    /* an idle client lost its connection: the pool replaces it; queries report their own errors */
  });
  // A checked-out client that loses its connection (Postgres restarted, pg_terminate_backend) emits
  // 'error' too; without a listener Node would kill the worker. The query in flight fails with the
  // same error, which classifyDbError turns into a retryable DbTransientError.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), ...(options.log ? { log: options.log } : {}) });
  pgPools.set(db, pool);
  return db;
}

/**
 * The pg pool under `db`, for COPY (which Kysely does not speak). Shares the pool's connections.
 * @throws Error when `db` was not made by {@link connectDatabase} (a programming error).
 */
export function pgPoolOf(db: Kysely<Database>): pg.Pool {
  const pool = pgPools.get(db);
  if (!pool) throw new Error('pgPoolOf: this Kysely instance was not made by connectDatabase');
  return pool;
}
