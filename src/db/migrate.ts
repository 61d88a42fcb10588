import { Migrator, type Kysely, type MigrationResultSet } from 'kysely';
import { migrationsFor } from '../../migrations/index.js';
import { DEFAULT_PARTITION_SIZE } from './partitions.js';

/**
 * Applies every pending migration in `migrations/` with Kysely's Migrator (order checking on).
 * `partitionSize` (blocks; default {@link DEFAULT_PARTITION_SIZE}) is the range partition size
 * migration 02 records for chains already stored when it converts a database (`PARTITION_SIZE`).
 * Safe to run from several workers at once: the Migrator takes a lock table.
 * Returns the names applied by this call.
 * @throws the migration's error (the database keeps every migration that finished).
 */
export async function migrateToLatest(db: Kysely<any>, options: { partitionSize?: number } = {}): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrationsFor({ partitionSize: options.partitionSize ?? DEFAULT_PARTITION_SIZE }) },
  });
  const result: MigrationResultSet = await migrator.migrateToLatest();
  if (result.error) throw result.error;
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
