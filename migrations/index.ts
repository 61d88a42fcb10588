import type { Kysely, Migration } from 'kysely';
import { DEFAULT_PARTITION_SIZE } from '../src/db/partitions.js';
import * as createChainTables from './2026_11_29_01_create_chain_tables.js';
import * as partitionChainTables from './2026_11_29_02_partition_chain_tables.js';

/** What a migration may take from the configuration: `partitionSize`, blocks per range partition for chains already stored (`PARTITION_SIZE`). */
export type MigrationOptions = { partitionSize: number };

/**
 * Every migration, keyed by its date-ordered name, with `options` bound. Kysely's Migrator runs
 * them in name order and refuses a database whose applied list is not a prefix of this one
 * (order checking stays on).
 */
export function migrationsFor(options: MigrationOptions): Record<string, Migration> {
  return {
    '2026_11_29_01_create_chain_tables': createChainTables,
    '2026_11_29_02_partition_chain_tables': { up: (db: Kysely<any>) => partitionChainTables.up(db, options.partitionSize) },
  };
}

/** Every migration with the default options ({@link DEFAULT_PARTITION_SIZE}). */
export const MIGRATIONS: Record<string, Migration> = migrationsFor({ partitionSize: DEFAULT_PARTITION_SIZE });
