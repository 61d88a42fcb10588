/**
 * Prints the hottest functions of a V8 CPU profile (`node --cpu-prof`): self time per function
 * (name, file:line), in ms and as a share of the profile, highest first.
 *
 * Run: `npx tsx bench/profile-summary.ts <file.cpuprofile> [top=15]`
 * @example node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/run.ts --phases d --blocks 300 && npx tsx bench/profile-summary.ts /tmp/prof/*.cpuprofile
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type ProfileNode = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number };
type CpuProfile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };

/** Self time per function of `profile`, in ms, highest first. Pure. */
export function hottestFunctions(profile: CpuProfile, top: number): { name: string; where: string; selfMs: number; share: number }[] {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const frame = byNode.get(id)!.callFrame;
    const where = frame.url ? `${frame.url.replace(/^file:\/\/.*?\/(node_modules|src|bench)\//, '$1/')}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName || '(anonymous)'}\t${where}`;
    selfUs.set(key, (selfUs.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = profile.endTime - profile.startTime;
  return [...selfUs.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, us]) => {
      const [name, where] = key.split('\t') as [string, string];
      return { name, where, selfMs: Math.round(us / 1000), share: Math.round((us / total) * 1000) / 10 };
    });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [file, top] = process.argv.slice(2);
  if (!file) throw new Error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [top]');
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  for (const f of hottestFunctions(profile, Number(top ?? 15))) console.log(`${String(f.share).padStart(5)}%  ${String(f.selfMs).padStart(7)} ms  ${f.name}  ${f.where}`);
}
