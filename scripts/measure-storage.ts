/**
 * Measures Postgres storage per 1,000 mainnet-profile blocks per table and index, in the
 * partitioned layout: writes 1,000 copies of recorded Ethereum mainnet block 18,000,000 (its
 * transactions, receipts, logs and withdrawals, test/fixtures/ethereum) with the product's writer
 * (`storeBatch`, batches of 50) into a fresh database, each copy with its own block number and
 * fresh random block, transaction and log hashes (so the hash indexes are not shrunk by
 * deduplication), runs VACUUM ANALYZE, and prints `pg_relation_size` of each table's range
 * partition and of each index, in bytes and MiB. The profile is one real block repeated, not a
 * sample of the chain: read the numbers as an order of magnitude.
 * Usage: DATABASE_URL=postgres://… npx tsx scripts/measure-storage.ts (creates database `measure_storage` and drops it at the end).
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { connectDatabase, migrateToLatest, storeBatch, toBatchRows } from '../src/db/index.js';
import { loadRecorded, RECORDED_BLOCKS } from '../test/fixtures/recorded-blocks.js';

/** Blocks written; the printed sizes are per this many blocks. */
const BLOCKS = 1_000;
const BATCH_BLOCKS = 50;
const FIRST_BLOCK = 18_000_000;
const DATABASE_NAME = 'measure_storage';

const base = process.env.DATABASE_URL ?? 'postgres://indexer:indexer@127.0.0.1:5432/indexer';
const admin = new pg.Client({ connectionString: base });
await admin.connect();
await admin.query(`drop database if exists ${DATABASE_NAME}`);
await admin.query(`create database ${DATABASE_NAME}`);
await admin.end();
const url = new URL(base);
url.pathname = `/${DATABASE_NAME}`;
const db = connectDatabase(url.toString());
await migrateToLatest(db);

const recorded = loadRecorded(RECORDED_BLOCKS.find((r) => r.name === 'ethereum/18000000')!);
const template = toBatchRows(1, [{ block: recorded.block, receipts: recorded.receipts! }]);
const hash = () => randomBytes(32);
for (let start = FIRST_BLOCK; start < FIRST_BLOCK + BLOCKS; start += BATCH_BLOCKS) {
  const rows = { blocks: [] as object[], transactions: [] as object[], logs: [] as object[], withdrawals: [] as object[] };
  for (let n = start; n < start + BATCH_BLOCKS; n++) {
    const blockHash = hash();
    const txHashes = new Map(template.transactions.map((t) => [t.hash, hash()]));
    rows.blocks.push({ ...template.blocks[0]!, number: n, hash: blockHash, parent_hash: hash() });
    rows.transactions.push(...template.transactions.map((t) => ({ ...t, block_number: n, block_hash: blockHash, hash: txHashes.get(t.hash)! })));
    rows.logs.push(...template.logs.map((l) => ({ ...l, block_number: n, block_hash: blockHash, transaction_hash: txHashes.get(l.transaction_hash) ?? hash() })));
    rows.withdrawals.push(...template.withdrawals.map((w) => ({ ...w, block_number: n, block_hash: blockHash })));
  }
  await storeBatch(db, 1, { from: start, to: start + BATCH_BLOCKS - 1 }, rows as never);
}
await sql`vacuum analyze`.execute(db);

const partition = `_c1_p${Math.floor(FIRST_BLOCK / 1_000_000) * 1_000_000}`;
const result = await sql<{ relation: string; kind: string; bytes: string; rows: string }>`
  select c.relname as relation, case c.relkind when 'i' then 'index' else 'table (heap + TOAST)' end as kind,
    case c.relkind when 'i' then pg_relation_size(c.oid) else pg_table_size(c.oid) end as bytes, c.reltuples::bigint as rows
  from pg_class c join pg_namespace s on s.oid = c.relnamespace
  where s.nspname = 'public' and c.relname like ${`%${partition}%`} order by c.relkind desc, bytes desc
`.execute(db);
console.log(`${BLOCKS} copies of mainnet block 18,000,000 (${template.transactions.length} transactions, ${template.logs.length} logs, ${template.withdrawals.length} withdrawals each)`);
console.log('| relation | kind | rows | MiB |');
console.log('|---|---|---:|---:|');
let total = 0;
for (const r of result.rows) {
  total += Number(r.bytes);
  console.log(`| ${r.relation.replace(partition, '_c1_p…')} | ${r.kind} | ${Number(r.rows).toLocaleString('en-US')} | ${(Number(r.bytes) / 2 ** 20).toFixed(1)} |`);
}
console.log(`| total | | | ${(total / 2 ** 20).toFixed(1)} |`);
await db.destroy();
const cleanup = new pg.Client({ connectionString: base });
await cleanup.connect();
await cleanup.query(`drop database ${DATABASE_NAME}`);
await cleanup.end();
