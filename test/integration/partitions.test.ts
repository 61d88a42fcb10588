/**
 * Range partitions by block number on the real stack (anvil → in-process worker → chainSync and
 * verify on a Temporal dev server → Postgres), with 10-block partitions: indexing across several
 * boundaries, a reorg rollback across a boundary, `verify` with no difference, partition pruning
 * of the deletes the product ran (their `EXPLAIN` plans), the migration of a database filled under
 * the previous schema, and `client archive` below the cursor (and its refusal at the cursor).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { CompiledQuery, Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { MIGRATIONS } from '../../migrations/index.js';
import {
  connectDatabase, findGaps, rangeDeleteStatements, listRangePartitions, migrateToLatest, readCursor, recordPartitionSize, rowsWithBuffers, toBatchRows, type Database,
} from '../../src/db/index.js';
import { fetchBlocks } from '../../src/rpc/index.js';
import { chainSyncWorkflowId, syncProgressQuery, verifyWorkflowId, type ChainSyncInput, type VerifyInput, type VerifyReport } from '../../src/workflows/definitions.js';
import { diffWithChain, digestRows, findIntegrityProblems } from '../support/chain-oracle.js';
import { cliEnvironment, runClient } from '../support/cli.js';
import { generateTraffic, startAnvil, type Anvil } from '../support/devnet.js';
import { blockHash, headNumber, mine, reorg } from '../support/reorg.js';
import { BASE_DATABASE_URL, createTestDatabase, dropDatabase, startIndexerWorker, startTemporal, waitFor, type TestDatabase, type TestWorker } from '../support/stack.js';

const CHAIN_ID = 31501;
/** A second chain id for the migration check: the same rows under another LIST partition. */
const OTHER_CHAIN_ID = 7;
const TASK_QUEUE = 'partitions-test';
const PARTITION_SIZE_BLOCKS = 10;
/** Batches of 4 from block 0 cross a boundary (8–11, 36–39 …). */
const BATCH_SIZE_BLOCKS = 4;
const TABLES = ['blocks', 'transactions', 'logs', 'withdrawals'] as const;

/** Relation names of every plan node of an `EXPLAIN (FORMAT JSON)` result. */
function relationNames(plan: unknown): string[] {
  const names: string[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'Relation Name' && typeof value === 'string') names.push(value);
        else walk(value);
      }
    }
  };
  walk(plan);
  return names;
}

/** Rows of `table` (chain `chainId`) stored in a range partition whose bounds do not hold their block number: must be 0. */
async function misplacedRows(db: Kysely<Database>, table: string, chainId: number): Promise<number> {
  const column = table === 'blocks' ? 'number' : 'block_number';
  const result = await sql<{ n: number }>`
    select count(*)::int as n from ${sql.id(table)} where chain_id = ${chainId}
    and ${sql.id(column)} / ${PARTITION_SIZE_BLOCKS} * ${PARTITION_SIZE_BLOCKS} <> substring(tableoid::regclass::text from '_p([0-9]+)$')::bigint
  `.execute(db);
  return result.rows[0]!.n;
}

/** Blocks stored per range partition of chain `chainId`, by partition name. */
async function blocksPerPartition(db: Kysely<Database>, chainId: number): Promise<Record<string, number>> {
  const result = await sql<{ p: string; n: number }>`select tableoid::regclass::text as p, count(*)::int as n from blocks where chain_id = ${chainId} group by 1 order by 1`.execute(db);
  return Object.fromEntries(result.rows.map((r) => [r.p, r.n]));
}

describe('range partitions by block number', () => {
  let anvil: Anvil;
  let env: TestWorkflowEnvironment;
  let database: TestDatabase;
  let worker: TestWorker;
  /** The worker's database handle: the same server, with every DELETE the product runs recorded. */
  let logged: Kysely<Database>;
  const deletes: CompiledQuery[] = [];
  let handle: WorkflowHandle;
  let cliEnv: NodeJS.ProcessEnv;

  const syncInput: ChainSyncInput = {
    chainId: CHAIN_ID, startBlock: 0, batchSize: BATCH_SIZE_BLOCKS, concurrency: 3, confirmationDepth: 0, finality: 'depth', pollIntervalMs: 200, maxRetries: 0,
  };

  /** Waits until the sync's cursor is on anvil's head (same hash) with at least `reorgs` reorgs handled. */
  const waitSynced = (reorgs: number) => waitFor(`the sync on the head after ${reorgs} reorgs`, async () => {
    const p = await handle.query(syncProgressQuery);
    const head = await headNumber(anvil.rpcUrl);
    const hash = await blockHash(anvil.rpcUrl, head);
    if (p.status === 'caught-up' && p.cursor === head && p.cursorHash === hash && p.reorgs >= reorgs) return p;
    throw new Error(`head ${head} ${hash}, progress ${JSON.stringify(p)}`);
  }, { timeoutMs: 60_000 });

  const verify = async (from: number, to: number): Promise<VerifyReport> => {
    const input: VerifyInput = { chainId: CHAIN_ID, from, to };
    return (await env.client.workflow.execute('verify', { workflowId: `${verifyWorkflowId(CHAIN_ID, from, to)}-${Date.now()}`, taskQueue: TASK_QUEUE, args: [input] })) as VerifyReport;
  };

  const client = (...args: string[]) => runClient(cliEnv, args);

  beforeAll(async () => {
    [anvil, env, database] = await Promise.all([startAnvil({ chainId: CHAIN_ID }), startTemporal(), createTestDatabase('partitions')]);
    await generateTraffic(anvil.rpcUrl);
    // A head at 3 past a boundary, at least 25 blocks above the traffic: several boundaries to cross.
    const head = await headNumber(anvil.rpcUrl);
    await mine(anvil.rpcUrl, Math.ceil((head + 25) / 10) * 10 + 3 - head);
    expect(await recordPartitionSize(database.db, CHAIN_ID, PARTITION_SIZE_BLOCKS)).toBe(PARTITION_SIZE_BLOCKS);
    logged = connectDatabase(database.url, {
      log: (event) => {
        if (event.level === 'query' && /^\s*(delete from|with l as \(delete from)/i.test(event.query.sql)) deletes.push(event.query);
      },
    });
    worker = await startIndexerWorker({ env, taskQueue: TASK_QUEUE, db: logged, rpcUrls: [anvil.rpcUrl], chainId: CHAIN_ID });
    cliEnv = cliEnvironment({ TEMPORAL_ADDRESS: env.address, DATABASE_URL: database.url, CHAIN_ID: String(CHAIN_ID), RPC_URL: anvil.rpcUrl });
  });

  afterAll(async () => {
    await handle?.terminate('test over').catch(() => undefined);
    await worker?.stop();
    await logged?.destroy();
    await env?.teardown();
    await anvil?.stop();
    await database?.drop();
  });

  it('indexes across several partition boundaries: every row once, in the partition of its block, plus one partition ahead', async () => {
    const head = await headNumber(anvil.rpcUrl);
    expect(head % 10).toBe(3);
    handle = await env.client.workflow.start('chainSync', { workflowId: chainSyncWorkflowId(CHAIN_ID), taskQueue: TASK_QUEUE, args: [syncInput], workflowIdConflictPolicy: 'USE_EXISTING' });
    await waitSynced(0);
    expect(await diffWithChain(database.db, anvil.rpcUrl, CHAIN_ID, 0, head)).toEqual([]);
    expect(await findIntegrityProblems(database.db, CHAIN_ID)).toEqual([]);
    const starts = Array.from({ length: Math.floor(head / 10) + 2 }, (_, i) => i * 10);
    expect(await listRangePartitions(database.db, CHAIN_ID)).toEqual(starts.map((from) => ({ from, to: from + 9 })));
    const expected = Object.fromEntries(starts.slice(0, -1).map((from) => [`blocks_c${CHAIN_ID}_p${from}`, Math.min(10, head - from + 1)]));
    expect(await blocksPerPartition(database.db, CHAIN_ID)).toEqual(expected);
    for (const table of TABLES) expect(await misplacedRows(database.db, table, CHAIN_ID)).toBe(0);
  });

  it('rolls a reorg back across a boundary and re-indexes it; verify finds no difference', async () => {
    const head = await headNumber(anvil.rpcUrl);
    const replaced = await reorg(anvil.rpcUrl, 6); // blocks head−5..head: 38..43 when head is 43, across 40
    expect(Math.floor(replaced.replacedFrom / 10)).toBe(Math.floor(head / 10) - 1);
    await mine(anvil.rpcUrl, 2);
    await waitSynced(1);
    const newHead = head + 2;
    expect(await diffWithChain(database.db, anvil.rpcUrl, CHAIN_ID, 0, newHead)).toEqual([]);
    expect(await findIntegrityProblems(database.db, CHAIN_ID)).toEqual([]);
    for (const table of TABLES) expect(await misplacedRows(database.db, table, CHAIN_ID)).toBe(0);
    // One statement deletes the four tables' rows above the common ancestor (rollbackTo).
    const rollback = deletes.filter((q) => /^\s*with l as \(delete from logs/i.test(q.sql));
    expect(rollback.map((q) => q.parameters)).toEqual([[CHAIN_ID, replaced.replacedFrom - 1, CHAIN_ID, replaced.replacedFrom - 1, CHAIN_ID, replaced.replacedFrom - 1, CHAIN_ID, replaced.replacedFrom - 1]]);
    const report = await verify(0, newHead);
    expect([report.checkedBlocks, report.differenceCount, report.differences]).toEqual([newHead + 1, 0, []]);
  });

  it('prunes partitions in the deletes the product ran: the rollback and a batch range crossing a boundary', async () => {
    const explain = async (q: CompiledQuery) => {
      const result = await database.db.executeQuery<{ 'QUERY PLAN': unknown }>(CompiledQuery.raw(`explain (format json) ${q.sql}`, [...q.parameters]));
      return [...new Set(relationNames(result.rows[0]!['QUERY PLAN']).filter((name) => /_p\d+$/.test(name)))];
    };
    const partitions = (await listRangePartitions(database.db, CHAIN_ID)).map((p) => p.from);
    const rollback = deletes.find((q) => /^\s*with l as \(delete from logs/i.test(q.sql))!;
    const from = (rollback.parameters[1] as number) + 1;
    const kept = partitions.filter((p) => p + 9 >= from);
    expect((await explain(rollback)).sort()).toEqual(['logs', 'transactions', 'withdrawals', 'blocks'].flatMap((t) => kept.map((p) => `${t}_c${CHAIN_ID}_p${p}`)).sort());
    // A batch's range replacement: the product's own statements (rangeDeleteStatements, as storeBatch
    // sends them) for a range crossing a stored boundary.
    const low = partitions.find((p) => partitions.includes(p + 10))!;
    const [, transactions, , blocks] = rangeDeleteStatements(CHAIN_ID, { from: low + 5, to: low + 14 }).map((sql) => CompiledQuery.raw(sql, []));
    expect(await explain(transactions!)).toEqual([`transactions_c${CHAIN_ID}_p${low}`, `transactions_c${CHAIN_ID}_p${low + 10}`]);
    expect(await explain(blocks!)).toEqual([`blocks_c${CHAIN_ID}_p${low}`, `blocks_c${CHAIN_ID}_p${low + 10}`]);
  });

  it('migrates a database filled under the previous schema: every row still there, once, in the partition of its block', async () => {
    const name = `${database.name}_mig`;
    await dropDatabase(name);
    const admin = new pg.Client({ connectionString: BASE_DATABASE_URL });
    await admin.connect();
    await admin.query(`create database ${name}`).finally(() => admin.end());
    const url = new URL(BASE_DATABASE_URL);
    url.pathname = `/${name}`;
    const db = connectDatabase(url.toString());
    try {
      const first = Object.keys(MIGRATIONS)[0]!;
      const previous = await new Migrator({ db, provider: { getMigrations: async () => ({ [first]: MIGRATIONS[first]! }) } }).migrateToLatest();
      expect(previous.error).toBeUndefined();
      const head = await headNumber(anvil.rpcUrl);
      const rows = toBatchRows(CHAIN_ID, await fetchBlocks(worker.pool, { from: 0, to: head }));
      for (const chainId of [CHAIN_ID, OTHER_CHAIN_ID]) {
        for (const table of TABLES) {
          const tableRows = rowsWithBuffers<object>(rows[table]).map((r) => ({ ...r, chain_id: chainId }));
          if (tableRows.length > 0) await db.insertInto(table).values(tableRows as never).execute();
        }
      }
      const before = [await digestRows(db, CHAIN_ID), await digestRows(db, OTHER_CHAIN_ID)];
      expect(await migrateToLatest(db, { partitionSize: PARTITION_SIZE_BLOCKS })).toEqual(['2026_11_29_02_partition_chain_tables']);
      expect([await digestRows(db, CHAIN_ID), await digestRows(db, OTHER_CHAIN_ID)]).toEqual(before);
      for (const chainId of [CHAIN_ID, OTHER_CHAIN_ID]) {
        const counts = await db.selectFrom('blocks').select((eb) => eb.fn.countAll<number>().as('n')).where('chain_id', '=', chainId).executeTakeFirstOrThrow();
        expect(Number(counts.n)).toBe(head + 1);
        for (const table of TABLES) expect(await misplacedRows(db, table, chainId)).toBe(0);
        expect(await listRangePartitions(db, chainId)).toEqual(Array.from({ length: Math.floor(head / 10) + 1 }, (_, i) => ({ from: i * 10, to: i * 10 + 9 })));
      }
      expect(await db.selectFrom('chain_partitioning').select(['chain_id', 'partition_size']).orderBy('chain_id').execute()).toEqual([
        { chain_id: OTHER_CHAIN_ID, partition_size: PARTITION_SIZE_BLOCKS }, { chain_id: CHAIN_ID, partition_size: PARTITION_SIZE_BLOCKS },
      ]);
      const indexes = await sql<{ indexname: string }>`select indexname from pg_indexes where schemaname = 'public' and tablename in ('blocks', 'transactions', 'logs', 'withdrawals') order by 1`.execute(db);
      expect(indexes.rows.map((r) => r.indexname)).toEqual([
        'blocks_hash_idx', 'blocks_pkey', 'logs_address_idx', 'logs_pkey', 'logs_topic0_idx', 'transactions_hash_idx', 'transactions_pkey', 'withdrawals_pkey',
      ]);
      // The primary keys hold: the same block again is refused.
      await expect(db.insertInto('blocks').values({ ...rowsWithBuffers(rows.blocks)[0]!, chain_id: CHAIN_ID } as never).execute()).rejects.toMatchObject({ code: '23505' });
    } finally {
      await db.destroy();
      await dropDatabase(name);
    }
  });

  it('archives whole partitions below the cursor (detach, export, drop), refuses at the cursor, and gaps and verify skip archived ranges', async () => {
    const cursor = (await readCursor(database.db, CHAIN_ID))!.blockNumber;
    const partitionsBefore = await listRangePartitions(database.db, CHAIN_ID);

    const refused = await client('archive', '--before', String(cursor + 1));
    expect(refused).toEqual({ code: 1, stdout: '', stderr: `error: --before ${cursor + 1} reaches the cursor of chain ${CHAIN_ID} (block ${cursor}); archive only below it\n` });
    expect(await listRangePartitions(database.db, CHAIN_ID)).toEqual(partitionsBefore);

    const detached = await client('archive', '--before', '25');
    expect(detached).toEqual({ code: 0, stderr: '', stdout: `chain ${CHAIN_ID}: blocks 0–9 detached to schema archive\nchain ${CHAIN_ID}: blocks 10–19 detached to schema archive\n` });
    const kept = await sql<{ n: number }>`select count(*)::int as n from archive.${sql.id(`blocks_c${CHAIN_ID}_p10`)}`.execute(database.db);
    expect(kept.rows[0]!.n).toBe(10);

    const txsIn20s = await database.db.selectFrom('transactions').select((eb) => eb.fn.countAll<number>().as('n')).where('chain_id', '=', CHAIN_ID).where('block_number', '>=', 20).where('block_number', '<=', 29).executeTakeFirstOrThrow();
    const dir = await mkdtemp(join(tmpdir(), 'archive-'));
    try {
      const exported = await client('archive', '--before', '30', '--export', dir);
      expect(exported).toEqual({ code: 0, stderr: '', stdout: `chain ${CHAIN_ID}: blocks 20–29 exported to ${dir} and dropped\n` });
      const lines = async (table: string) => (await readFile(join(dir, `${table}_c${CHAIN_ID}_20_29.copy`), 'utf8')).split('\n').filter(Boolean).length;
      expect([await lines('blocks'), await lines('transactions')]).toEqual([10, Number(txsIn20s.n)]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    const dropped = await client('archive', '--before', '40', '--drop');
    expect(dropped).toEqual({ code: 0, stderr: '', stdout: `chain ${CHAIN_ID}: blocks 30–39 detached and dropped\n` });
    const left = await sql<{ n: number }>`select count(*)::int as n from pg_class where relname = ${`blocks_c${CHAIN_ID}_p30`}`.execute(database.db);
    expect(left.rows[0]!.n).toBe(0);

    expect(await listRangePartitions(database.db, CHAIN_ID)).toEqual(partitionsBefore.filter((p) => p.from >= 40));
    expect(await database.db.selectFrom('archived_ranges').select(['from_block', 'to_block', 'mode']).orderBy('from_block').execute()).toEqual([
      { from_block: 0, to_block: 9, mode: 'detach' }, { from_block: 10, to_block: 19, mode: 'detach' }, { from_block: 20, to_block: 29, mode: 'export' },
      { from_block: 30, to_block: 39, mode: 'drop' },
    ]);
    expect(await findGaps(database.db, CHAIN_ID, 0, cursor)).toEqual([]);
    expect(await client('gaps', '--from', '0')).toEqual({ code: 0, stderr: '', stdout: `no gap in blocks 0–${cursor}\n` });
    const report = await verify(0, cursor);
    expect([report.checkedBlocks, report.differenceCount]).toEqual([cursor - 40 + 1, 0]);
  });
});
