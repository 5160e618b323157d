// A host-app fault during a real stall: a client hanging up while the loop is blocked (timing: retried once by the suite runner).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { waitFor } from '../helpers/server.mjs';
import { start } from '../helpers/faults-app.mjs';

test('a client aborting during a stall: the culprit is still named, the response is dropped cleanly', async () => {
  const app = await start(true);
  try {
    const closed = waitFor(app.closed, 'closed', (url) => url === '/stall-then-answer');
    const stalled = waitFor(app.guard, 'stall', (r) => r.route === '/stall-then-answer');
    const { port } = new URL(app.url);
    // Another process: it must be able to hang up while this loop is blocked.
    const child = spawn(process.execPath, [
      '-e',
      // It hangs up on the first bytes (the headers, sent just before the stall), and checks the body
      // sent after the stall had not come yet: the abort landed during the stall.
      `const s = require('net').connect(${port}, '127.0.0.1', () => s.write('GET /stall-then-answer HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')); s.once('data', (d) => { s.destroy(); process.stdout.write(String(d).includes('after stall') ? 'too late' : 'aborted'); });`,
    ]);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await once(child, 'exit');
    assert.equal(out, 'aborted');
    const report = await stalled;
    await closed;
    assert.equal(report.cause, 'request');
    assert.equal(app.guard.snapshot().requestsInFlight, 0);
  } finally {
    await app.close();
    app.guard.close();
  }
});
