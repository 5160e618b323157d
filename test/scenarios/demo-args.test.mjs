// The demo's command line: refused arguments. No stall, no timing: never retried by the suite runner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo } from '../helpers/demo.mjs';

test('npm run demo: a bad argument is refused with usage', async () => {
  const demo = startDemo(['--duration', 'soon']);
  const { code, stderr } = await demo.exit;
  assert.equal(code, 1);
  assert.match(stderr, /--duration must be a positive number of seconds, got soon/);
  assert.match(stderr, /usage: node examples\/demo\/index\.mjs/);
});
