// The zero-code start's environment checks, run as `node --import/--require
// loopguard/register -e …`: a bad or unknown variable is named in one
// warning and left out, and the app runs with that option's default. No stall here: never retried by the suite runner (the stall scenarios
// are in register-zero-code.test.mjs).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { cleanEnv } from '../helpers/register.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `node <flag> loopguard/register -e <code>` and resolves with { code, stderr, stdout }. */
async function runWith(flag, env, code = '') {
  const child = spawn(process.execPath, [flag, 'loopguard/register', '-e', code], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdout.on('data', (chunk) => (stdout += chunk));
  const [exitCode] = await once(child, 'exit');
  return { code: exitCode, stderr, stdout };
}

describe('zero-code start: a bad or unknown variable is named in one warning, and the app starts with the default', () => {
  for (const [variable, value, expected] of [
    ['LOOPGUARD_THRESHOLD_MS', 'fast', /LOOPGUARD_THRESHOLD_MS must be a decimal number, received "fast"/],
    ['LOOPGUARD_THRESHOLD_MS', '0', /LOOPGUARD_THRESHOLD_MS must be a number from 1 to/],
    ['LOOPGUARD_MAX_ROUTES', '2.5', /LOOPGUARD_MAX_ROUTES must be an integer/],
    ['LOOPGUARD_CAPTURE_STACKS', 'maybe', /LOOPGUARD_CAPTURE_STACKS must be true or false/],
    ['LOOPGUARD_ON_STALL', 'console', /LOOPGUARD_ON_STALL must be "log"/],
    ['LOOPGUARD_METRICS_PORT', '70000', /LOOPGUARD_METRICS_PORT must be an integer from 0 to 65535/],
    ['LOOPGUARD_TRESHOLD_MS', '100', /unknown environment variable LOOPGUARD_TRESHOLD_MS/],
  ]) {
    test(`${variable}=${value}`, async () => {
      const flag = variable.length % 2 ? '--import' : '--require';
      const probe = "const g = require('loopguard/register').guard; console.log(JSON.stringify({ ran: true, guard: g !== undefined, threshold: g?.options.thresholdMs }))";
      const { code, stderr, stdout } = await runWith(flag, { LOOPGUARD_ON_STALL: '', [variable]: value }, probe);
      assert.equal(code, 0, stderr);
      assert.deepEqual(JSON.parse(stdout), { ran: true, guard: true, threshold: 100 }, 'the app ran, guarded, with the defaults');
      assert.match(stderr, expected);
      assert.match(stderr, /\[LOOPGUARD_ENV\]/);
      assert.equal(stderr.match(/\[LOOPGUARD_ENV\]/g).length, 1, `one warning: ${stderr}`);
    });
  }

  test('LOOPGUARD_ENABLED=false starts nothing; the default starts a guard that lets the process exit', async () => {
    const probe = "const g = require('loopguard/register').guard; console.log(JSON.stringify({ guard: g !== undefined, threshold: g?.options.thresholdMs }))";
    const off = await runWith('--require', { LOOPGUARD_ENABLED: 'false', LOOPGUARD_THRESHOLD_MS: '250' }, probe);
    assert.equal(off.code, 0, off.stderr);
    assert.deepEqual(JSON.parse(off.stdout), { guard: false });
    const on = await runWith('--import', { LOOPGUARD_THRESHOLD_MS: '250', LOOPGUARD_METRICS_PORT: '' }, probe);
    assert.equal(on.code, 0, on.stderr);
    assert.deepEqual(JSON.parse(on.stdout), { guard: true, threshold: 250 });
    assert.doesNotMatch(on.stderr, /Waiting for the debugger/);
  });
});
