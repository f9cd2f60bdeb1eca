// Summarises V8 .cpuprofile files (from `node --cpu-prof`): self time by function and by
// package/file, and inclusive time of functions matching a filter.
//   node --import tsx bench/tools/cpuprofile-summary.ts <file.cpuprofile> [top=30] [inclusiveFilter] [fromMs] [toMs]
// fromMs/toMs restrict the summary to samples taken in that window after the profile start.
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [file, topArg, filterArg, fromArg, toArg] = process.argv.slice(2);
const filter = filterArg === undefined || filterArg === '' || filterArg === '-' ? undefined : filterArg;
if (file === undefined) {
  process.stderr.write('usage: cpuprofile-summary.ts <file.cpuprofile> [top] [inclusiveFilter]\n');
  process.exit(2);
}
const top = Number(topArg ?? 30);
const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Keep the samples inside the window (ms after the profile start).
const fromUs = Number(fromArg ?? 0) * 1000;
const toUs = toArg === undefined ? Number.POSITIVE_INFINITY : Number(toArg) * 1000;
{
  let at = 0;
  const samples: number[] = [];
  const deltas: number[] = [];
  prof.samples.forEach((id, i) => {
    at += prof.timeDeltas[i] ?? 0;
    if (at >= fromUs && at <= toUs) {
      samples.push(id);
      deltas.push(prof.timeDeltas[i] ?? 0);
    }
  });
  prof.samples = samples;
  prof.timeDeltas = deltas;
}

// Self time per node from samples × time deltas.
const self = new Map<number, number>();
prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);

const short = (url: string): string => {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  const p = /packages\/([^/]+\/src\/.*)$/.exec(url);
  if (p) return p[1]!;
  if (url.startsWith('node:')) return url;
  return url === '' ? '(native/vm)' : url.replace(/^.*\//, '');
};
const fnKey = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

const agg = (key: (n: Node) => string) => {
  const m = new Map<string, number>();
  for (const [id, t] of self) {
    const k = key(byId.get(id)!);
    m.set(k, (m.get(k) ?? 0) + t);
  }
  return [...m.entries()].sort((a, b) => b[1] - a[1]);
};
const pct = (t: number) => `${((100 * t) / total).toFixed(1).padStart(5)}%  ${(t / 1000).toFixed(0).padStart(6)} ms`;

const wall = (prof.endTime - prof.startTime) / 1000;
console.log(`profile ${file}: ${(total / 1000).toFixed(0)} ms sampled in window [${fromUs / 1000}, ${toArg ?? 'end'}] ms of ${wall.toFixed(0)} ms`);
const idle = agg((n) => n.callFrame.functionName).find(([k]) => k === '(idle)')?.[1] ?? 0;
console.log(`idle ${pct(idle)}\n\n-- self time by function --`);
for (const [k, t] of agg(fnKey).slice(0, top)) console.log(`${pct(t)}  ${k}`);
console.log('\n-- self time by package / file --');
for (const [k, t] of agg((n) => short(n.callFrame.url)).slice(0, top)) console.log(`${pct(t)}  ${k}`);

if (filter !== undefined) {
  // Inclusive time: a sample counts once for every distinct matching function on its stack.
  const incl = new Map<string, number>();
  prof.samples.forEach((id, i) => {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      const k = fnKey(n);
      if (!seen.has(k) && k.includes(filter)) {
        seen.add(k);
        incl.set(k, (incl.get(k) ?? 0) + (prof.timeDeltas[i] ?? 0));
      }
    }
  });
  console.log(`\n-- inclusive time of functions matching "${filter}" --`);
  for (const [k, t] of [...incl.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`);
}
