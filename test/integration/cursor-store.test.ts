/**
 * `saveCursor` on a real Postgres: it moves the cursor only onto a stored block with that hash, and
 * commits without waiting for its WAL flush (synchronous_commit off for its own transaction), so a
 * cursor save does not queue behind the ranges' megabytes of WAL, while the connection it used keeps
 * the server's synchronous commit for what runs on it next.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Kysely } from 'kysely';
import { connectDatabase, readCursor, saveCursor, storeBatch, toBatchRows, type Database } from '../../src/db/index.js';
import { DbIntegrityError } from '../../src/errors.js';
import { RECORDED_BLOCKS, loadRecorded } from '../fixtures/recorded-blocks.js';
import { createTestDatabase, type TestDatabase } from '../support/stack.js';

const BLOCK = 18_000_000;

describe('saveCursor()', () => {
  let database: TestDatabase;
  let single: Kysely<Database>;
  let hash: string;

  beforeAll(async () => {
    database = await createTestDatabase('cursor_store');
    const { block, receipts } = loadRecorded(RECORDED_BLOCKS.find((r) => r.name === 'ethereum/18000000')!);
    hash = block.hash;
    await storeBatch(database.db, 1, { from: BLOCK, to: BLOCK }, toBatchRows(1, [{ block, receipts: receipts! }]));
    single = connectDatabase(database.url, { maxConnections: 1 }); // one connection: what ran before is what runs next
  });

  afterAll(async () => {
    await single?.destroy();
    await database?.drop();
  });

  /** The server's WAL syncs so far, this connection's own included (a backend reports its counts when idle, at most once a second, unless told to at once: PG 15's pg_stat_force_next_flush). */
  const walSyncs = async () => {
    await sql`select pg_stat_force_next_flush()`.execute(single);
    await sql`select 1`.execute(single); // its end reports them
    return Number((await sql<{ n: string }>`select wal_sync as n from pg_stat_wal`.execute(single)).rows[0]!.n);
  };

  it('moves the cursor onto a stored block and refuses a hash that is not stored, leaving the cursor where it was', async () => {
    await saveCursor(single, 1, { blockNumber: BLOCK, blockHash: hash });
    expect(await readCursor(single, 1)).toEqual({ blockNumber: BLOCK, blockHash: hash });
    const other = `0x${'ab'.repeat(32)}`;
    await expect(saveCursor(single, 1, { blockNumber: BLOCK, blockHash: other })).rejects.toBeInstanceOf(DbIntegrityError);
    await expect(saveCursor(single, 1, { blockNumber: BLOCK + 1, blockHash: hash })).rejects.toThrow(`chain 1: block ${BLOCK + 1} with hash ${hash} is not stored; the cursor stays where it was`);
    expect(await readCursor(single, 1)).toEqual({ blockNumber: BLOCK, blockHash: hash });
  });

  it('commits without waiting for the WAL flush: 50 saves sync the WAL far fewer times than 50 synchronous updates of the same row, and the connection keeps synchronous_commit on', async () => {
    // pg_stat_wal counts the whole server's syncs (other test files' commits too), so the saves are
    // compared with 50 synchronous commits measured the same way; a synchronous save syncs once each.
    let before = await walSyncs();
    for (let i = 0; i < 50; i++) await sql`update cursors set updated_at = now() where chain_id = 1`.execute(single);
    const synchronous = (await walSyncs()) - before;
    before = await walSyncs();
    for (let i = 0; i < 50; i++) await saveCursor(single, 1, { blockNumber: BLOCK, blockHash: hash });
    const saves = (await walSyncs()) - before;
    expect(synchronous).toBeGreaterThanOrEqual(50);
    expect(saves).toBeLessThan(25);
    expect((await sql<{ synchronous_commit: string }>`show synchronous_commit`.execute(single)).rows[0]!.synchronous_commit).toBe('on');
  });
});
