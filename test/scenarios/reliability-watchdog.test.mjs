// The watchdog worker dying or failing to start must never take the app with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import express from 'express';
import { loopGuard } from 'loopguard';
import { Watchdog, SharedState, guardInternals } from '../../dist/internal.js';
import { forkClient } from '../helpers/client.mjs';
import { listen, waitFor } from '../helpers/server.mjs';
import { burnCpu } from '../fixtures/blocking.mjs';

test('a worker that fails to start is reported and retried with growing backoff, until close()', async () => {
  const errors = [];
  let failed;
  const watchdog = new Watchdog(
    new SharedState(),
    { workerFile: '/nonexistent/loopguard-worker.js', captureAfterMs: 60, resampleMs: 50, maxSamplesPerStall: 4, maxStackFrames: 10 },
    {
      onSamples() {},
      onError(err) {
        errors.push({ err, at: performance.now() });
        failed?.();
      },
    },
  );
  const nthFailure = (n) => new Promise((resolve) => (failed = () => errors.length >= n && resolve()));
  const third = nthFailure(3);
  // The watchdog's own timers are unref'd (it never keeps an app alive): hold the loop open for the test.
  const keepAlive = setInterval(() => {}, 1000);
  watchdog.start();
  await third; // start, restart after ~0.5 s, restart after ~1 s
  watchdog.close();
  clearInterval(keepAlive);
  assert.ok(errors.every(({ err }) => err instanceof Error));
  const gaps = errors.slice(1).map((e, i) => e.at - errors[i].at).filter((gap) => gap > 50);
  assert.ok(gaps.length >= 2 && gaps[1] > gaps[0], `backoff grows: ${gaps.map(Math.round)}`);
  assert.equal(watchdog.running, false);
});

test('when the worker dies, the app keeps serving, the problem is reported once, and attribution resumes after the restart', async () => {
  const errors = [];
  const middleware = loopGuard({ startupGraceMs: 0, prometheus: false, onError: (err) => errors.push(err) });
  const guard = middleware.guard;
  const app = express();
  app.use(middleware);
  app.get('/ok', (req, res) => res.send('ok'));
  app.get('/block', (req, res) => res.send(String(burnCpu(250))));
  const server = await listen(app);
  const client = await forkClient();
  try {
    if (!guard.watchdogRunning) await once(guard, 'watchdog:ready');
    const restarted = once(guard, 'watchdog:ready');
    await guardInternals(guard).watchdog.worker.terminate(); // fault injection: the worker is gone
    assert.equal((await client.request(`${server.url}/ok`)).status, 200);
    await restarted;
    assert.equal(errors.length, 1, errors.map((e) => e.message).join('; '));
    assert.equal(errors[0].code, 'LOOPGUARD_WATCHDOG_FAILED');
    const stalled = waitFor(guard, 'stall', (r) => r.route === '/block');
    assert.equal((await client.request(`${server.url}/block`)).status, 200);
    const report = await stalled;
    assert.ok(report.stack.some((f) => f.functionName === 'burnCpu'), 'stack captured again after the restart');
  } finally {
    await client.close();
    await server.close();
    guard.close();
  }
});
