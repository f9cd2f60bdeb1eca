// `npm run bench:median`: the whole bench BENCH_RUNS times over (default 3), one after the
// other, then the median of each summary figure and whether that median meets its target.
//
// A shared machine drifts from minute to minute, so one run can land a figure on either side
// of its target; the median of three full runs is the number to quote. Each run's own lines
// pass through to stderr; stdout gets each run's summary line, then one `median` line.
// The environment (BENCH_ONLY, BENCH_QUICK, …) is handed to every run unchanged.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
if (!Number.isInteger(RUNS) || RUNS < 1 || RUNS > 20) {
  console.error(`BENCH_RUNS must be a whole number from 1 to 20, got "${process.env.BENCH_RUNS}"`);
  process.exit(2);
}
const RUN_TS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'run.ts');

type Summary = Record<string, unknown> & { targets?: Record<string, number> };

function runOnce(i: number): Promise<Summary> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', RUN_TS], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      process.stderr.write(chunk);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = out.split('\n').filter((l) => l.startsWith('{'));
      const summary = lines.map((l) => JSON.parse(l) as Summary).find((l) => l.figure === 'summary');
      if (summary === undefined) return reject(new Error(`run ${i + 1} printed no summary line (exit ${code})`));
      resolve(summary);
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const summaries: Summary[] = [];
for (let i = 0; i < RUNS; i++) {
  console.error(`bench:median: run ${i + 1} of ${RUNS}`);
  const s = await runOnce(i);
  summaries.push(s);
  console.log(JSON.stringify({ ...s, figure: 'summary', run: i + 1 }));
}

const medians: Record<string, number | null> = {};
const perRun: Record<string, (number | null)[]> = {};
for (const key of Object.keys(summaries[0]!)) {
  const values = summaries.map((s) => (typeof s[key] === 'number' ? (s[key] as number) : null));
  if (values.every((v) => v === null)) continue;
  const present = values.filter((v): v is number => v !== null);
  medians[key] = Math.round(median(present) * 1000) / 1000;
  perRun[key] = values;
}

// The same checks as each run's summary, applied to the medians.
const t = summaries[0]!.targets ?? {};
const atLeast = (key: string, target: number | undefined) =>
  medians[key] === undefined || medians[key] === null || target === undefined ? null : medians[key]! >= target;
const atMost = (key: string, target: number | undefined) =>
  medians[key] === undefined || medians[key] === null || target === undefined ? null : medians[key]! <= target;
console.log(
  JSON.stringify({
    figure: 'median',
    runs: RUNS,
    ...medians,
    targets: t,
    meetsTargets: {
      ingest: atLeast('ingestRatio', t.ingest),
      ingestWithLiveDelivery: atLeast('ingestWithLiveDeliveryRatio', t.ingestWithLiveDelivery),
      delivery: atLeast('deliveryRatio', t.delivery),
      latency: atMost('latencyP99Ms', t.p99Ms),
      e2eOverBullmq: atLeast('e2eOverBullmq', t.e2eOverBullmq),
      pgIngest: atLeast('pgIngestRatio', t.pgIngest),
      pgDelivery1: atLeast('pgDelivery1Ratio', t.pgDelivery),
      pgTwoOverOne: atLeast('pgTwoOverOne', t.pgTwoOverOne),
      validationCost: medians.validationCost === undefined ? null : medians.validationCost! < (t.validationCost ?? Infinity),
      encryptionCost: medians.encryptionCost === undefined || medians.encryptionCost === null ? null : medians.encryptionCost < (t.encryptionCost ?? Infinity),
      encryptionDeliveryCost:
        medians.encryptionDeliveryCost === undefined || medians.encryptionDeliveryCost === null
          ? null
          : medians.encryptionDeliveryCost < (t.encryptionDeliveryCost ?? Infinity),
      idempotencyCost: medians.idempotencyCost === undefined || medians.idempotencyCost === null ? null : medians.idempotencyCost < (t.idempotencyCost ?? Infinity),
    },
    perRun,
  }),
);
