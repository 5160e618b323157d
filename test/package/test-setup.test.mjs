// npm test's setup step (scripts/test-setup.mjs): quiet when every system
// program is there; a missing one stops the run with what to do, never a skip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SYSTEM_TOOLS, missingTools } from '../helpers/system-tools.mjs';

const SETUP = fileURLToPath(new URL('../../scripts/test-setup.mjs', import.meta.url));

function runSetup(env) {
  return spawnSync(process.execPath, [SETUP], { encoding: 'utf8', env: { ...process.env, ...env } });
}

test('the suite has every system program it runs (the setup step provided them)', () => {
  assert.deepEqual(missingTools().map((t) => `${t.name} at ${t.path}`), []);
  const result = runSetup({});
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout + result.stderr, '', 'nothing to say when nothing is missing');
});

test('a program pointed at a path where it is not stops the run, naming the variable (no apt-get, no skip)', () => {
  for (const tool of SYSTEM_TOOLS) {
    const result = runSetup({ [tool.env]: '/nonexistent/loopguard-test/' + tool.name });
    assert.equal(result.status, 1, `${tool.env}: ${result.stdout}${result.stderr}`);
    assert.match(result.stderr, new RegExp(`${tool.env}=/nonexistent/loopguard-test/${tool.name}: no executable there`));
    assert.doesNotMatch(result.stdout, /installing/);
  }
});
