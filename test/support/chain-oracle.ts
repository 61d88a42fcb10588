/**
 * The tests' oracle: reads blocks, transactions, receipts and logs straight from a node over
 * JSON-RPC and compares them with the rows in Postgres, independently of the indexer's code.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/db/index.js';

type Json = Record<string, any>;

/** One JSON-RPC call to `rpcUrl`. @throws Error on a JSON-RPC error. */
export async function rpc<T = any>(rpcUrl: string, method: string, params: unknown[] = []): Promise<T> {
  const response = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = (await response.json()) as Json;
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

const hex = (b: Buffer | null | undefined): string | null => (b ? `0x${b.toString('hex')}` : null);
const dec = (q: string | null | undefined): string | null => (q === null || q === undefined ? null : BigInt(q).toString());

/**
 * Compares blocks `from..to` of chain `chainId` in Postgres with the node at `rpcUrl`: block hash,
 * parent hash, transaction hashes in order, transaction and log counts, and every transaction's
 * type, from, to, value, gas, input, status, gas used, effective gas price and contract address,
 * and every log's transaction hash, index, address, topics and data. Returns one line per
 * difference; [] means equal.
 */
export async function diffWithChain(db: Kysely<Database>, rpcUrl: string, chainId: number, from: number, to: number): Promise<string[]> {
  const diffs: string[] = [];
  const blocks = await db.selectFrom('blocks').selectAll().where('chain_id', '=', chainId).where('number', '>=', from).where('number', '<=', to).orderBy('number').execute();
  const txs = await db.selectFrom('transactions').selectAll().where('chain_id', '=', chainId).where('block_number', '>=', from).where('block_number', '<=', to).orderBy('block_number').orderBy('transaction_index').execute();
  const logs = await db.selectFrom('logs').selectAll().where('chain_id', '=', chainId).where('block_number', '>=', from).where('block_number', '<=', to).orderBy('block_number').orderBy('log_index').execute();
  const byBlock = <T extends { block_number: number }>(rows: T[]) => {
    const map = new Map<number, T[]>();
    for (const r of rows) map.set(r.block_number, [...(map.get(r.block_number) ?? []), r]);
    return map;
  };
  const txsByBlock = byBlock(txs);
  const logsByBlock = byBlock(logs);
  const storedBlocks = new Map(blocks.map((b) => [b.number, b]));

  for (let n = from; n <= to; n++) {
    const block = await rpc<Json | null>(rpcUrl, 'eth_getBlockByNumber', [`0x${n.toString(16)}`, true]);
    const receipts = await rpc<Json[]>(rpcUrl, 'eth_getBlockReceipts', [`0x${n.toString(16)}`]);
    const stored = storedBlocks.get(n);
    if (!block) { diffs.push(`block ${n}: not on the chain`); continue; }
    if (!stored) { diffs.push(`block ${n}: not stored`); continue; }
    const check = (what: string, expected: unknown, actual: unknown) => {
      if (JSON.stringify(expected) !== JSON.stringify(actual)) diffs.push(`block ${n} ${what}: chain ${JSON.stringify(expected)}, stored ${JSON.stringify(actual)}`);
    };
    check('hash', block.hash, hex(stored.hash));
    check('parentHash', block.parentHash, hex(stored.parent_hash));
    check('timestamp', Number(BigInt(block.timestamp)), stored.timestamp);
    check('transaction count', block.transactions.length, stored.transaction_count);
    const storedTxs = txsByBlock.get(n) ?? [];
    check('transaction hashes', block.transactions.map((t: Json) => t.hash), storedTxs.map((t) => hex(t.hash)));
    const receiptByHash = new Map(receipts.map((r) => [r.transactionHash, r]));
    for (const tx of block.transactions as Json[]) {
      const row = storedTxs.find((t) => hex(t.hash) === tx.hash);
      const receipt = receiptByHash.get(tx.hash)!;
      if (!row) continue;
      check(`tx ${tx.hash}`, {
        type: Number(BigInt(tx.type)), from: tx.from, to: tx.to, value: dec(tx.value), gas: dec(tx.gas), input: tx.input, nonce: dec(tx.nonce),
        status: Number(BigInt(receipt.status)), gasUsed: dec(receipt.gasUsed), cumulativeGasUsed: dec(receipt.cumulativeGasUsed),
        effectiveGasPrice: dec(receipt.effectiveGasPrice), contractAddress: receipt.contractAddress ?? null, logCount: receipt.logs.length,
      }, {
        type: row.type, from: hex(row.from_address), to: hex(row.to_address), value: row.value, gas: row.gas, input: hex(row.input), nonce: row.nonce,
        status: row.status, gasUsed: row.gas_used, cumulativeGasUsed: row.cumulative_gas_used,
        effectiveGasPrice: row.effective_gas_price, contractAddress: hex(row.contract_address), logCount: row.log_count,
      });
    }
    const chainLogs = receipts.flatMap((r) => r.logs as Json[]);
    const storedLogs = logsByBlock.get(n) ?? [];
    check('log count', chainLogs.length, storedLogs.length);
    check('logs', chainLogs.map((l) => ({ tx: l.transactionHash, index: Number(BigInt(l.logIndex)), address: l.address, topics: l.topics, data: l.data })),
      storedLogs.map((l) => ({ tx: hex(l.transaction_hash), index: l.log_index, address: hex(l.address), topics: [l.topic0, l.topic1, l.topic2, l.topic3].filter((t) => t !== null).map((t) => hex(t)), data: hex(l.data) })));
  }
  return diffs;
}

/**
 * Row-level integrity of chain `chainId`: duplicate natural keys and orphans (a transaction, log
 * or withdrawal whose block is not stored with the same hash). Returns one line per problem.
 */
export async function findIntegrityProblems(db: Kysely<Database>, chainId: number): Promise<string[]> {
  const { rows } = await sql<{ problem: string }>`
    select 'duplicate transaction hash ' || encode(hash, 'hex') as problem from transactions where chain_id = ${chainId} and in_block_list group by hash having count(*) > 1
    union all
    select 'orphan transaction ' || encode(t.hash, 'hex') from transactions t left join blocks b on b.chain_id = t.chain_id and b.number = t.block_number and b.hash = t.block_hash where t.chain_id = ${chainId} and b.number is null
    union all
    select 'orphan log ' || l.block_number || ':' || l.log_index from logs l left join blocks b on b.chain_id = l.chain_id and b.number = l.block_number and b.hash = l.block_hash where l.chain_id = ${chainId} and b.number is null
    union all
    select 'log without transaction ' || l.block_number || ':' || l.log_index from logs l left join transactions t on t.chain_id = l.chain_id and t.block_number = l.block_number and t.hash = l.transaction_hash where l.chain_id = ${chainId} and t.hash is null
    union all
    select 'orphan withdrawal ' || w.block_number || ':' || w.position from withdrawals w left join blocks b on b.chain_id = w.chain_id and b.number = w.block_number and b.hash = w.block_hash where w.chain_id = ${chainId} and b.number is null
  `.execute(db);
  return rows.map((r) => r.problem);
}

/** A digest of every stored row of chain `chainId` (md5 of the rows in key order), to show "nothing changed". */
export async function digestRows(db: Kysely<Database>, chainId: number): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [table, key] of [['blocks', 'number'], ['transactions', 'block_number, transaction_index'], ['logs', 'block_number, log_index'], ['withdrawals', 'block_number, position']] as const) {
    const { rows } = await sql<{ digest: string; count: string }>`select md5(coalesce(string_agg(t::text, '|' order by ${sql.raw(key)}), '')) as digest, count(*) as count from ${sql.table(table)} t where chain_id = ${chainId}`.execute(db);
    out[table] = `${rows[0]!.count}:${rows[0]!.digest}`;
  }
  return out;
}
