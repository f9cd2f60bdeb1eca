// Mutation testing: `npm run test:mutation [-- MODULE ...]`.
//
// Runs Stryker once per module below, each time mutating only that module's files and
// running only its unit test files (no servers), so that a mutant costs about a second and
// a survivor points at a gap in those tests, not at an API suite that happens to pass by.
// Reports go to reports/mutation/<module>/ (index.html, mutation.json); the score of each
// module, and its survivors, are printed at the end. With module names, only those run.
//
// Test runner: @stryker-mutator/tap-runner. Each test file runs as `node --import tsx
// --test-reporter=tap FILE`, and the runner reads its TAP. It also preloads a hook in each
// test process, so Stryker learns which test files reach which mutants (coverage per file),
// runs a mutant only against the files that reach it, and marks an unreached one "no
// coverage" without running anything. The command runner would run every file for every
// mutant and could not tell an unreached mutant from a survivor.
//
// Stryker works on a copy of the project in .stryker-tmp/ (removed afterwards), with
// node_modules linked, so the working tree is never changed. One test process at a time by
// default, as the machines are small (HOOKWELL_MUTATION_CONCURRENCY to change it).
// Stryker 9 rather than 10: 10 needs Node 22, and the project supports Node 20.
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
  // What a receiver checks before it believes a request: headers, timestamp, signatures,
  // keys; and which type a verified payload names (core.ts too, read by the handler).
  receiver: {
    mutate: [`${receiver}/src/core.ts`, `${receiver}/src/verify.ts`],
    tests: [
      `${receiver}/test/verify.test.ts`,
      `${receiver}/test/handler.test.ts`,
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

/** The score each module is kept at; below FLOOR the run fails. Survivors that remain are equivalent mutants. */
const GOAL = 90;
const FLOOR = 85;

function options(name: string, module: Module): PartialStrykerOptions {
  const report = `reports/mutation/${name}`;
  return {
    mutate: module.mutate,
    testRunner: 'tap',
    tap: { testFiles: module.tests, nodeArgs: ['--import', 'tsx', '--test-reporter=tap'], forceBail: true },
    coverageAnalysis: 'perTest',
    concurrency: Number(process.env.HOOKWELL_MUTATION_CONCURRENCY ?? 1),
    // The sandbox gets the manifests, sources, tests and catalogues only: not builds, packed
    // tarballs, databases or scratch folders, which other runs make and remove meanwhile.
    ignorePatterns: [
      '/*',
      '!/package.json',
      '!/tsconfig.json',
      '!/packages',
      '/packages/*/*',
      '!/packages/*/package.json',
      '!/packages/*/src',
      '!/packages/*/test',
      '!/packages/*/catalog',
      '*.tgz',
      '*.db',
      '*.db-*',
    ],
    tempDirName: '.stryker-tmp',
    cleanTempDir: 'always',
    reporters: ['clear-text', 'html', 'json'],
    htmlReporter: { fileName: `${report}/index.html` },
    jsonReporter: { fileName: `${report}/mutation.json` },
    clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
    timeoutMS: 10_000,
    thresholds: { high: GOAL, low: FLOOR, break: null },
  };
}

/** Stryker's score: detected (killed or timed out) over detected and undetected (survived or not covered). */
function score(results: MutantResult[]): { detected: number; valid: number; survived: MutantResult[] } {
  const detected = results.filter((r) => r.status === 'Killed' || r.status === 'Timeout').length;
  const survived = results.filter((r) => r.status === 'Survived' || r.status === 'NoCoverage');
  return { detected, valid: detected + survived.length, survived };
}

function scoreLine(label: string, detected: number, valid: number): string {
  const pct = valid === 0 ? 100 : (100 * detected) / valid;
  return `${label.padEnd(48)} ${pct.toFixed(1).padStart(5)}%  (${detected} of ${valid} mutants detected)`;
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
    let results: MutantResult[];
    try {
      results = await new Stryker(options(name, MODULES[name]!)).runMutationTest();
    } catch (err) {
      lines.push(`${name.padEnd(48)} not measured: ${err instanceof Error ? err.message : String(err)}`);
      failed = true;
      continue;
    }
    const { detected, valid } = score(results);
    if (valid === 0 || (100 * detected) / valid < FLOOR) failed = true;
    lines.push(scoreLine(name, detected, valid));
    const files = [...new Set(results.map((r) => r.fileName))];
    for (const file of files) {
      const own = score(results.filter((r) => r.fileName === file));
      if (files.length > 1) lines.push(scoreLine(`  ${path.relative(process.cwd(), file)}`, own.detected, own.valid));
      for (const s of own.survived) {
        lines.push(`    ${s.status} line ${s.location.start.line} ${s.mutatorName}: ${(s.replacement ?? '').replace(/\s+/g, ' ')}`.slice(0, 160));
      }
    }
  }
  console.log(`\nMutation scores (reports in reports/mutation/<module>/):\n${lines.join('\n')}`);
  if (failed) {
    console.log(`A module scored below ${FLOOR}% (or had no mutants): kill its new survivors, or list them as equivalent.`);
    process.exitCode = 1;
  }
}

await main();
