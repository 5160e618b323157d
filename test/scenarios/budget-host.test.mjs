// The withinLoopBudget host's life: its guard closes as the test process's
// loop runs dry, so the process exits with no watchdog thread left, and a
// call after that gets a new host. A real process, a real server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const SCRIPT = `
import http from 'node:http';
import { once } from 'node:events';
import { withinLoopBudget } from 'loopguard/test';
import { findHost } from './dist/internal.js';

async function serveOnce() {
  const server = http.createServer((req, res) => res.end('ok')).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const body = await withinLoopBudget(200, () => fetch('http://127.0.0.1:' + server.address().port + '/').then((r) => r.text()));
  server.closeAllConnections();
  server.close();
  return body;
}

console.log('first: ' + (await serveOnce()));
let drained = 0;
process.on('beforeExit', async () => {
  if (drained++ > 0) return;
  console.log('host after the loop ran dry: ' + (findHost() === undefined ? 'withdrawn' : 'still offered'));
  console.log('second: ' + (await serveOnce()));
});
`;

test('the withinLoopBudget host closes when the loop runs dry; a later call gets a new one; the process exits by itself', () => {
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, null, `the process did not exit by itself\n${r.stdout}${r.stderr}`);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^first: ok\nhost after the loop ran dry: withdrawn\nsecond: ok\n$/, r.stdout + r.stderr);
  assert.doesNotMatch(r.stderr, /Waiting for the debugger/);
});
