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
# Subtest: /repo/test/after-response.test.mjs
not ok 3 - /repo/test/after-response.test.mjs
  ---
  location: '/repo/test/after-response.test.mjs:1:1'
  signal: 'SIGABRT'
  ...
`;

test('failed files and their failed tests are read from the TAP report; passing files are not', () => {
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
