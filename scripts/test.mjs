#!/usr/bin/env node
// Runs every test suite (vitest: TypeScript and the shipped pack; pytest: the training recipe),
// then prints one line "N passed, N failed" over all of them. Exits non-zero if anything failed or
// if a suite could not run at all.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const out = join(process.cwd(), '.test-results');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// The recipe runs on Debian's PyTorch: use Debian's interpreter even where another python3 is first on PATH.
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
// pytest-xdist (Debian's python3-pytest-xdist, from `npm run setup`): a machine set up before it still runs, on one core
const xdist = spawnSync(python, ['-c', 'import xdist'], { stdio: 'ignore' }).status === 0;
if (!xdist) console.log('pytest-xdist is missing (run `npm run setup`): the recipe\'s tests run on one core');

const suites = [
  {
    name: 'typecheck',
    cmd: 'npm', args: ['run', '--silent', 'typecheck'],
    // tsc prints nothing on success: one check per realm (node, page, worker, e2e)
    read: (status) => (status === 0 ? { passed: 4, failed: 0, skipped: 0 } : { passed: 0, failed: 1, skipped: 0 }),
  },
  {
    name: 'vitest',
    cmd: 'npx', args: ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${join(out, 'vitest.json')}`],
    read() {
      const r = JSON.parse(readFileSync(join(out, 'vitest.json'), 'utf8'));
      return { passed: r.numPassedTests, failed: r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0), skipped: r.numPendingTests + r.numTodoTests };
    },
  },
  {
    name: 'pytest',
    // one process per core (pytest-xdist), each test file whole on one of them: a file's fixtures (a quick recipe
    // run each) are made once
    cmd: python, args: ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', ...(xdist ? ['-n', 'auto', '--dist', 'loadfile'] : []),
      'training/tests', `--junitxml=${join(out, 'pytest.xml')}`],
    read() {
      const xml = readFileSync(join(out, 'pytest.xml'), 'utf8');
      const attr = (k) => Number((xml.match(new RegExp(`<testsuite[^>]* ${k}="(\\d+)"`)) ?? [])[1] ?? 0);
      const failed = attr('failures') + attr('errors');
      return { passed: attr('tests') - failed - attr('skipped'), failed, skipped: attr('skipped') };
    },
  },
  {
    name: 'playwright',
    cmd: 'npx', args: ['playwright', 'test'],
    read() {
      const r = JSON.parse(readFileSync(join(out, 'e2e.json'), 'utf8'));
      const s = r.stats;
      // "flaky" = failed once, passed on its one retry: counted as passed, and reported
      return { passed: s.expected + s.flaky, failed: s.unexpected, skipped: s.skipped, note: s.flaky ? `${s.flaky} passed on retry` : '' };
    },
  },
];

const total = { passed: 0, failed: 0, skipped: 0 };
let broken = false;
// The compatibility tests (vitest and Playwright) run the app on tiny random-weight packs with real SD
// exports' signatures; the recipe writes them (1 s) into test/fixtures/packs, never committed.
const fixtures = spawnSync(python, ['training/recipe.py', 'fixtures'], { stdio: 'inherit' });
if (fixtures.status !== 0) {
  console.error('\nfixtures: `python3 training/recipe.py fixtures` failed; the suites that need them will fail');
  broken = true;
}
for (const s of suites) {
  const r = spawnSync(s.cmd, s.args, { stdio: 'inherit', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
  let counts;
  try {
    counts = s.read(r.status);
  } catch (e) {
    console.error(`\n${s.name}: no results (exit ${r.status}): ${e.message}`);
    counts = { passed: 0, failed: 1, skipped: 0 };
  }
  if (r.status !== 0 && counts.failed === 0) counts.failed = 1; // a crash outside any test
  if (counts.passed + counts.failed === 0) broken = true; // a suite that ran nothing is a failure
  console.log(`${s.name}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped${counts.note ? ` (${counts.note})` : ''}`);
  for (const k of Object.keys(total)) total[k] += counts[k];
}
if (broken) total.failed += 1;
console.log(`\ntests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(total.failed > 0 ? 1 : 0);
