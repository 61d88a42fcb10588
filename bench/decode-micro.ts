/**
 * CPU per block of the decode thread's work alone (`decodeBlocksAnswer` on answers of 5 synthetic
 * blocks each, as the worker gets them) with the native transcoder (`native`, native/), the
 * JavaScript one (`javascript`, src/decode/transcode.ts) and the general path only (`general`),
 * alternating, best of 8 rounds each. No services needed: the column types are the ones the
 * transcoder writes (the catalog's, as test/integration/transcode.test.ts checks). For a profile
 * of the thread's work, which `--cpu-prof` cannot give from the worker (piscina terminates its
 * threads):
 * @example npx tsx bench/decode-micro.ts --profile mainnet
 * @example node --cpu-prof --cpu-prof-dir=/tmp/dprof --import tsx bench/decode-micro.ts --modes javascript && npx tsx bench/profile-summary.ts /tmp/dprof/<largest>.cpuprofile
 */
import { parseArgs } from 'node:util';
import { decodeBlocksAnswer } from '../src/decode/blocks.js';
import { TRANSCODED_TYPES, transcodeBlocksAnswer } from '../src/decode/transcode.js';
import type { RpcRequest } from '../src/rpc/types.js';
import { createSyntheticChain, PROFILES } from './chain/generate.js';

const BLOCKS_PER_ANSWER = 5;
const ANSWERS = 20;
const ROUNDS = 8;

const { values } = parseArgs({ options: { profile: { type: 'string', default: 'mainnet' }, modes: { type: 'string', default: 'native,javascript,general' } } });
const profile = PROFILES[values.profile];
if (!profile) throw new Error(`--profile must be one of ${Object.keys(PROFILES).join(', ')}, got ${values.profile}`);
const modes = values.modes.split(',');
if (modes.some((m) => m !== 'native' && m !== 'javascript' && m !== 'general')) throw new Error(`--modes takes native, javascript and/or general, got ${values.modes}`);

const chain = createSyntheticChain(profile, 1);
const answers = Array.from({ length: ANSWERS }, (_, a) => {
  const numbers = Array.from({ length: BLOCKS_PER_ANSWER }, (_, k) => a * BLOCKS_PER_ANSWER + k + 1);
  const requests: RpcRequest[] = numbers.flatMap((n) => [
    { method: 'eth_getBlockByNumber', params: [`0x${n.toString(16)}`, true] },
    { method: 'eth_getBlockReceipts', params: [`0x${n.toString(16)}`] },
  ]);
  const items = numbers.flatMap((n, k) => {
    const { block, receipts } = chain.bundle(n);
    return [{ jsonrpc: '2.0', id: 2 * k, result: block }, { jsonrpc: '2.0', id: 2 * k + 1, result: receipts }];
  });
  return { body: Buffer.from(JSON.stringify(items)), requests };
});

const best: Record<string, { wallMs: number; cpuMs: number }> = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of modes) {
    const cpu = process.cpuUsage();
    const start = performance.now();
    for (const { body, requests } of answers) {
      const decoded = mode === 'general' ? decodeBlocksAnswer(body, requests, 'bench', 1, TRANSCODED_TYPES, false)
        : transcodeBlocksAnswer(body, requests, 1, TRANSCODED_TYPES, undefined, mode as 'native' | 'javascript');
      if (!decoded?.ok || decoded.rows === null) throw new Error(`the ${mode} path did not decode a synthetic answer`);
    }
    const used = process.cpuUsage(cpu);
    const blocks = ANSWERS * BLOCKS_PER_ANSWER;
    const run = { wallMs: (performance.now() - start) / blocks, cpuMs: (used.user + used.system) / 1000 / blocks };
    best[mode] = { wallMs: Math.min(best[mode]?.wallMs ?? Infinity, run.wallMs), cpuMs: Math.min(best[mode]?.cpuMs ?? Infinity, run.cpuMs) };
  }
}
const kb = Math.round(answers[0]!.body.length / BLOCKS_PER_ANSWER / 1024);
process.stdout.write(`${profile.name}, ${kb} KB of JSON per block, best of ${ROUNDS} rounds of ${ANSWERS * BLOCKS_PER_ANSWER} blocks\n`);
for (const mode of modes) {
  process.stdout.write(`${mode.padEnd(10)} ${best[mode]!.wallMs.toFixed(2)} ms per block (CPU of the process, V8's helper threads included: ${best[mode]!.cpuMs.toFixed(2)} ms)\n`);
}
