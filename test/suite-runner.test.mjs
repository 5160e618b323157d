// The suite runner's reading of a TAP report: which files failed, and which tests in them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failedFiles, LINE_INDEPENDENT, MAX_RETRIED_FILES, TIMING_SCENARIOS } from '../scripts/run-suite.mjs';

const report = `TAP version 13
# Subtest: Express 5: each blocking pattern
    # Subtest: pbkdf2Sync
    not ok 1 - pbkdf2Sync
      ---
      duration_ms: 12
      location: '/repo/test/express-attribution.test.mjs:41:7'
      failureType: 'testCodeFailure'
      ...
    # Subtest: gzipSync
    ok 2 - gzipSync
      ---
      location: '/repo/test/express-attribution.test.mjs:41:7'
      ...
not ok 1 - Express 5: each blocking pattern
  ---
  location: '/repo/test/express-attribution.test.mjs:18:3'
  ...
# Subtest: options
ok 2 - options
  ---
  location: '/repo/test/core-pure.test.mjs:10:1'
  ...
# Subtest: busy time by route
not ok 3 - busy time by route # TODO biased at low utilization
  ---
  location: '/repo/test/busy-scenario.test.mjs:9:1'
  ...
# Subtest: /repo/test/after-response.test.mjs
not ok 3 - /repo/test/after-response.test.mjs
  ---
  location: '/repo/test/after-response.test.mjs:1:1'
  signal: 'SIGABRT'
  ...
`;

test('failed files and their failed tests are read from the TAP report; passing files and failing todos are not', () => {
  const failed = failedFiles(report);
  assert.deepEqual([...failed.keys()], ['/repo/test/express-attribution.test.mjs', '/repo/test/after-response.test.mjs']);
  assert.deepEqual(failed.get('/repo/test/express-attribution.test.mjs'), ['pbkdf2Sync', 'Express 5: each blocking pattern']);
  assert.deepEqual(failed.get('/repo/test/after-response.test.mjs'), [], 'a file that crashed names no test');
});

test('a clean report names no file', () => {
  assert.equal(failedFiles('TAP version 13\nok 1 - a\n  ---\n  location: \'/r/test/a.test.mjs:1:1\'\n  ...\n').size, 0);
});

test('the retry is bounded and only for timing scenarios; pure and line-independent files never retry', () => {
  assert.ok(MAX_RETRIED_FILES <= 3);
  for (const f of ['core-pure.test.mjs', 'core-pipeline.test.mjs', 'ci-run.test.mjs', 'bench-stats.test.mjs']) assert.ok(!TIMING_SCENARIOS.has(f), f);
  for (const f of Object.keys(LINE_INDEPENDENT)) assert.ok(!TIMING_SCENARIOS.has(f), f);
});

test("the summary reporter lists each failed test's file and error, not a failing todo, and the files by time", async () => {
  const { spawnSync } = await import('node:child_process');
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lgsummary-'));
  try {
    fs.writeFileSync(path.join(dir, 'a.test.mjs'), "import { test } from 'node:test';\ntest('passes', () => {});\ntest('fails', () => { throw new Error('the reason\\nsecond line'); });\n");
    fs.writeFileSync(path.join(dir, 'b.test.mjs'), "import { test } from 'node:test';\ntest('known miss', { todo: 'later' }, () => { throw new Error('todo error'); });\n");
    const reporter = new URL('../scripts/suite-summary-reporter.mjs', import.meta.url).pathname;
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
