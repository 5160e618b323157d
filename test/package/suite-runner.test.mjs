// The suite runner's reading of a run: which files that were run failed, which tests in them, which crashed; and which earn a retry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LINE_INDEPENDENT, listedButMissing, MAX_RETRIED_FILES, ONCE_ONLY, retryVerdict, suiteKey, testFiles, TIMING_SCENARIOS } from '../../scripts/run-suite.mjs';
import { failedRunFiles } from '../../scripts/suite-files-reporter.mjs';

const TEST_DIR = fileURLToPath(new URL('..', import.meta.url));
const filesReporter = new URL('../../scripts/suite-files-reporter.mjs', import.meta.url).pathname;

/** Runs `node --test` over fixture files in a fresh directory with the runner's files reporter; its JSON lines. */
function runFixtures(files, { whole = false } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lgfiles-'));
  try {
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), text);
    }
    // Without the outer runner's NODE_TEST_CONTEXT: the inner run would report to it instead.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const run = spawnSync(process.execPath, ['--test', '--test-concurrency=1', `--test-reporter=${filesReporter}`, '--test-reporter-destination=stdout', ...Object.keys(files)], { cwd: dir, encoding: 'utf8', env });
    assert.equal(run.status, 1, run.stderr);
    return run.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).map((f) => ({ ...f, file: whole ? path.relative(dir, path.resolve(dir, f.file)) : path.basename(f.file) }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('a failure only a twin shows names the twin, the file that was run, not the base file it imports', () => {
  const failed = runFixtures({
    'base.test.mjs': "import { test } from 'node:test';\ntest('the client', () => { if (process.env.LG_TWIN === '1') throw new Error('only under the other client'); });\n",
    'base.twin.test.mjs': "process.env.LG_TWIN = '1';\nawait import('./base.test.mjs');\n",
    'todo.test.mjs': "import { test } from 'node:test';\ntest('known miss', { todo: 'later' }, () => { throw new Error('todo'); });\n",
  });
  assert.deepEqual(failed, [{ file: 'base.twin.test.mjs', tests: ['the client'], crashed: false, signal: null, exitCode: 1 }]);
});

test('a failed file in a kind folder is named by its whole path, not only its name', () => {
  const failed = runFixtures({
    'unit/same.test.mjs': "import { test } from 'node:test';\ntest('passes', () => {});\n",
    'scenarios/same.test.mjs': "import { test } from 'node:test';\ntest('fails', () => { throw new Error('x'); });\n",
  }, { whole: true });
  assert.deepEqual(failed.map((f) => [f.file, f.tests, f.crashed]), [[path.join('scenarios', 'same.test.mjs'), ['fails'], false]]);
});

test('a file whose process aborts is a crash, even after a failed test; a file failing outside any test too', () => {
  const failed = runFixtures({
    'abort.test.mjs': "import { test } from 'node:test';\ntest('fails', () => { throw new Error('x'); });\ntest('aborts', async () => { setImmediate(() => process.abort()); await new Promise((r) => setTimeout(r, 5000)); });\n",
    'throws.test.mjs': "throw new Error('at load');\n",
  });
  assert.deepEqual(failed.map((f) => [f.file, f.crashed]), [['abort.test.mjs', true], ['throws.test.mjs', true]]);
  assert.equal(failed[0].signal, 'SIGABRT');
});

test('only failed tests in timing-scenario files are retried: never a crash, never another file, never more than the bound', () => {
  const timing = [...TIMING_SCENARIOS][0];
  const f = (file, extra = {}) => ({ file: path.join(TEST_DIR, file), tests: ['t'], crashed: false, signal: null, exitCode: 1, ...extra });
  assert.equal(retryVerdict([f(timing)]).retry, true);
  assert.equal(retryVerdict([f(timing, { crashed: true, signal: 'SIGABRT' })]).retry, false);
  assert.match(retryVerdict([f(timing, { crashed: true, signal: 'SIGABRT' })]).why, /crashed, never a flake/);
  assert.equal(retryVerdict([f(timing), f('unit/core-pure.test.mjs')]).retry, false);
  // The same file in another folder is another file: only the listed path is a timing scenario.
  assert.equal(retryVerdict([f(`unit/${path.basename(timing)}`)]).retry, false);
  assert.equal(retryVerdict(Array.from({ length: MAX_RETRIED_FILES + 1 }, () => f(timing))).retry, false);
  assert.equal(retryVerdict([]).retry, false, 'a failed run that names no file is not retried');
});

test('the twin of a timing scenario is retried as itself: the retry list names twins on their own', () => {
  const twins = testFiles().filter((n) => n.endsWith('.prometheus-io.test.mjs'));
  assert.ok(twins.length >= 4, `the twins are found in their folder: ${twins.join(', ')}`);
  for (const twin of twins) {
    const base = twin.replace('.prometheus-io.test.mjs', '.test.mjs');
    assert.equal(TIMING_SCENARIOS.has(twin), TIMING_SCENARIOS.has(base), `${twin} and ${base}: both or neither`);
  }
});

test('the lists name files by their path under test/, as the files reporter gives it on every Node line', () => {
  const key = [...TIMING_SCENARIOS][0];
  assert.match(key, /^[a-z]+\/[^/]+\.test\.mjs$/, 'a kind folder, then the file');
  assert.equal(suiteKey(path.join(TEST_DIR, key)), key, 'absolute (Node 20)');
  assert.equal(suiteKey(`test/${key}`), key, 'as given on the command line, from the repository root (Node 22+)');
  assert.equal(retryVerdict([{ file: `test/${key}`, tests: ['t'], crashed: false, signal: null, exitCode: 1 }]).retry, true);
});

test('the runner finds every test file in the kind folders, and a listed name with no file is caught', () => {
  const found = testFiles();
  const onDisk = fs.readdirSync(TEST_DIR, { recursive: true }).filter((f) => f.endsWith('.test.mjs'));
  assert.equal(found.length, onDisk.length);
  assert.ok(found.includes('unit/core-pure.test.mjs') && found.includes('package/suite-runner.test.mjs'), found.join(', '));
  assert.deepEqual(listedButMissing(), [], 'every name in LINE_INDEPENDENT, ONCE_ONLY and TIMING_SCENARIOS is a file');
  // Positive control: a listed file gone from disk is reported.
  const timing = [...TIMING_SCENARIOS][0];
  assert.deepEqual(listedButMissing(found.filter((f) => f !== timing)), [timing]);
});

test('failedRunFiles: a run that passed names no file', () => {
  const file = '/r/test/a.test.mjs';
  const events = [
    { type: 'test:dequeue', data: { name: file, file, nesting: 0 } },
    { type: 'test:complete', data: { name: 'a', file, nesting: 0, details: { passed: true } } },
    { type: 'test:complete', data: { name: file, file, nesting: 0, details: { passed: true } } },
  ];
  assert.deepEqual(failedRunFiles(events), []);
});

test('the retry is bounded and only for timing scenarios; pure and line-independent files never retry', () => {
  assert.ok(MAX_RETRIED_FILES <= 3);
  const untimed = ['unit/core-pure.test.mjs', 'unit/core-pipeline.test.mjs', 'package/ci-run.test.mjs', suiteKey('bench/test/stats.test.mjs')];
  // Tests with no timing at all, moved out of timing files: a second run would hide an altered response.
  untimed.push('scenarios/reliability-faults.test.mjs', 'scenarios/register-env-start.test.mjs', 'scenarios/demo-args.test.mjs', 'scenarios/core-guard.test.mjs', 'scenarios/adapters-api.test.mjs', 'exporters/prometheus-metrics-server.test.mjs');
  for (const f of untimed.slice(0, -1)) assert.ok(fs.existsSync(path.join(TEST_DIR, f)), `${f} exists: a stale name here would pass for any list`);
  for (const f of untimed) assert.ok(!TIMING_SCENARIOS.has(f), f);
  for (const f of [...TIMING_SCENARIOS, ...Object.keys(LINE_INDEPENDENT), ...Object.keys(ONCE_ONLY)]) assert.ok(fs.existsSync(path.join(TEST_DIR, f)), `${f} exists`);
  for (const f of Object.keys(LINE_INDEPENDENT)) assert.ok(!TIMING_SCENARIOS.has(f), f);
});

test("the summary reporter lists each failed test's file and error, not a failing todo, and the files by time", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lgsummary-'));
  try {
    fs.writeFileSync(path.join(dir, 'a.test.mjs'), "import { test } from 'node:test';\ntest('passes', () => {});\ntest('fails', () => { throw new Error('the reason\\nsecond line'); });\n");
    fs.writeFileSync(path.join(dir, 'b.test.mjs'), "import { test } from 'node:test';\ntest('known miss', { todo: 'later' }, () => { throw new Error('todo error'); });\n");
    const reporter = new URL('../../scripts/suite-summary-reporter.mjs', import.meta.url).pathname;
    // Without the outer runner's NODE_TEST_CONTEXT: the inner run would report to it instead.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const run = spawnSync(process.execPath, ['--test', '--test-concurrency=1', `--test-reporter=${reporter}`, '--test-reporter-destination=stdout', 'a.test.mjs', 'b.test.mjs'], { cwd: dir, encoding: 'utf8', env });
    assert.equal(run.status, 1, run.stderr);
    const out = run.stdout;
    const slowest = /suite summary: [\d.]+ s, tests defined in 2 files; the slowest:\n((?:\s+[\d.]+ s {2}\S+\n)+)/.exec(out);
    assert.deepEqual(slowest?.[1].trim().split('\n').map((l) => l.trim().split(/\s+/)[2]).sort(), ['a.test.mjs', 'b.test.mjs'], out);
    assert.match(out, /suite summary: 1 failed test:\n- a\.test\.mjs: fails\n {4}Error: the reason\n {4}second line\n/);
    assert.doesNotMatch(out, /known miss|todo error/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
