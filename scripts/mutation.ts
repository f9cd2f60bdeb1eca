// Mutation testing: `npm run test:mutation [-- MODULE ...]`.
//
// Runs Stryker once per module below, each time mutating only that module's files and
// running only its fast unit test files, so that a mutant costs a fraction of a second and
// a survivor points at a gap in those tests, not at an API suite that happens to pass by.
// Reports go to reports/mutation/<module>/ (index.html, mutation.json); the mutation score
// of each module is printed at the end. With module names, only those run.
//
// Test runner: @stryker-mutator/tap-runner. A node:test file run directly (`node --import
// tsx file.test.ts`) prints TAP when its output is not a terminal, which is what the runner
// reads; the runner preloads its hook in each test process, so Stryker learns which test
// files reach which mutants (coverage per file) and runs a mutant only against the files
// that reach it, marking the rest "no coverage" without a run. The command runner would run
// every file for every mutant and could not tell an untested mutant from a survivor.
//
// Stryker works on a copy of the project in .stryker-tmp/ (removed afterwards), with
// node_modules linked, so the working tree is never changed. One test process at a time by
// default: the machines are small and other suites may be running (HOOKWELL_MUTATION_CONCURRENCY
// to change it).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stryker } from '@stryker-mutator/core';

type PartialStrykerOptions = NonNullable<ConstructorParameters<typeof Stryker>[0]>;
type MutantResult = Awaited<ReturnType<Stryker['runMutationTest']>>[number];

interface Module {
  /** Files (or `file:lines` ranges) to mutate. */
  mutate: string[];
  /** Unit test files run against each mutant: fast, no servers. */
  tests: string[];
}

const server = 'packages/server';
const receiver = 'packages/receiver';

export const MODULES: Record<string, Module> = {
  routing: {
    mutate: [`${server}/src/domain/routing.ts`],
    tests: [`${server}/test/routing.test.ts`],
  },
  paging: {
    mutate: [`${server}/src/store/paging.ts`],
    tests: [`${server}/test/paging.test.ts`],
  },
  // The rule itself, and the SQL that applies it to deliveries (checked on SQLite in memory).
  ordering: {
    mutate: [`${server}/src/domain/ordering.ts`, `${server}/src/store/ordering.ts`],
    tests: [`${server}/test/ordering-rule.test.ts`],
  },
  // What a receiver checks before it believes a request: headers, timestamp, signatures, keys.
  receiver: {
    mutate: [`${receiver}/src/core.ts`, `${receiver}/src/verify.ts`],
    tests: [
      `${receiver}/test/verify.test.ts`,
      `${receiver}/test/verify-key.test.ts`,
      `${receiver}/test/asymmetric.test.ts`,
      `${receiver}/test/vectors.test.ts`,
      `${receiver}/test/web.test.ts`,
    ],
  },
  schedule: {
    mutate: [`${server}/src/delivery/schedule.ts`],
    tests: [`${server}/test/schedule.test.ts`],
  },
  'target-guard': {
    mutate: [`${server}/src/delivery/target-guard.ts`],
    tests: [`${server}/test/target-guard.test.ts`],
  },
  'content-links': {
    mutate: [`${server}/src/delivery/content-links.ts`],
    tests: [`${server}/test/content-links.test.ts`],
  },
};

function options(name: string, module: Module): PartialStrykerOptions {
  const report = `reports/mutation/${name}`;
  return {
    mutate: module.mutate,
    testRunner: 'tap',
    tap: { testFiles: module.tests, nodeArgs: ['--import', 'tsx'], forceBail: true },
    coverageAnalysis: 'perTest',
    concurrency: Number(process.env.HOOKWELL_MUTATION_CONCURRENCY ?? 1),
    // The sandbox needs the sources, tests and manifests only; never the databases and
    // scratch folders that test runs leave in the tree.
    ignorePatterns: ['reports', 'bench', '.tmp', '*.db', '*.db-wal', '*.db-shm'],
    tempDirName: '.stryker-tmp',
    cleanTempDir: 'always',
    reporters: ['clear-text', 'html', 'json'],
    htmlReporter: { fileName: `${report}/index.html` },
    jsonReporter: { fileName: `${report}/mutation.json` },
    clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
    timeoutMS: 10_000,
  };
}

/** Stryker's score: detected (killed or timed out) over detected and undetected (survived or not covered). */
function score(results: MutantResult[]): { detected: number; valid: number; survived: MutantResult[] } {
  const detected = results.filter((r) => r.status === 'Killed' || r.status === 'Timeout').length;
  const survived = results.filter((r) => r.status === 'Survived' || r.status === 'NoCoverage');
  return { detected, valid: detected + survived.length, survived };
}

async function main(): Promise<void> {
  process.chdir(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'));
  const wanted = process.argv.slice(2);
  for (const name of wanted) {
    if (!(name in MODULES)) throw new Error(`unknown module "${name}"; modules: ${Object.keys(MODULES).join(', ')}`);
  }
  const names = wanted.length > 0 ? wanted : Object.keys(MODULES);
  const lines: string[] = [];
  let failed = false;
  for (const name of names) {
    const results = await new Stryker(options(name, MODULES[name]!)).runMutationTest();
    const { detected, valid, survived } = score(results);
    const pct = valid === 0 ? 100 : (100 * detected) / valid;
    lines.push(`${name.padEnd(14)} ${pct.toFixed(1).padStart(5)}%  (${detected}/${valid} detected, ${survived.length} undetected)`);
    for (const s of survived) {
      lines.push(`  ${s.status} ${s.fileName}:${s.location.start.line} ${s.mutatorName}: ${s.replacement ?? ''}`.slice(0, 200));
    }
    if (valid === 0) failed = true;
  }
  console.log(`\nMutation scores (reports in reports/mutation/<module>/):\n${lines.join('\n')}`);
  if (failed) process.exitCode = 1;
}

await main();
