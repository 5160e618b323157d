// The options every monitoring middleware has: a switch, routes to leave
// alone, a logger, and a limit on reports from one recurring culprit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dc from 'node:diagnostics_channel';
import { readdirSync } from 'node:fs';
import express from 'express';
import { createLoopGuard, loopGuard } from 'loopguard';
import { guardInternals, ReportLimit, compileIgnore } from '../../dist/internal.js';
import { listen } from '../helpers/server.mjs';

const threads = () => readdirSync('/proc/self/task').length;

// First in this file: no other guard has subscribed to node:http's channels yet.
test('enabled: false starts no worker thread, no timer and no channel subscription; requests pass through untouched', async () => {
  const before = threads();
  const middleware = loopGuard({ enabled: false });
  const guard = middleware.guard;
  try {
    assert.equal(guard.enabled, false);
    assert.equal(guardInternals(guard).watchdog, undefined, 'no watchdog');
    const app = express();
    app.use(middleware);
    app.get('/hello', (req, res) => res.send('hi'));
    const server = await listen(app);
    try {
      const res = await fetch(`${server.url}/hello`);
      assert.equal(await res.text(), 'hi');
    } finally {
      await server.close();
    }
    assert.equal(dc.channel('http.server.request.start').hasSubscribers, false, 'no start-channel subscriber');
    assert.equal(dc.channel('http.server.response.finish').hasSubscribers, false, 'no finish-channel subscriber');
    assert.equal(threads(), before, 'no thread started');
    assert.equal(guard.snapshot().routes.length, 0, 'nothing counted');
  } finally {
    guard.close();
  }
});

test('enabled is validated at construction, naming the option', () => {
  assert.throws(() => createLoopGuard({ enabled: 'no' }), (err) => err instanceof TypeError && /enabled/.test(err.message) && err.code === 'LOOPGUARD_INVALID_OPTION');
  assert.throws(() => createLoopGuard({ ignore: ['healthz'] }), (err) => err instanceof TypeError && /ignore\[0\]/.test(err.message));
  assert.throws(() => createLoopGuard({ ignore: '/healthz' }), (err) => err instanceof TypeError && /ignore/.test(err.message));
  assert.throws(() => createLoopGuard({ logger: console.log }), (err) => err instanceof TypeError && /logger/.test(err.message));
  assert.throws(() => createLoopGuard({ reportsPerCulpritPerMinute: -1 }), (err) => err instanceof TypeError && /reportsPerCulpritPerMinute/.test(err.message));
});

test('ignore: paths, templates and regular expressions match the request path, query and trailing slash aside', () => {
  const ignored = compileIgnore(['/healthz', '/internal/:probe', /^\/metrics/]);
  const at = (url) => ignored({ url });
  assert.equal(at('/healthz'), true);
  assert.equal(at('/healthz/?verbose=1'), true);
  assert.equal(at('/internal/ready'), true);
  assert.equal(at('/internal/ready/deep'), false, 'a parameter is one segment');
  assert.equal(at('/metrics'), true);
  assert.equal(at('/users/1'), false);
  const throwing = compileIgnore(() => {
    throw new Error('boom');
  });
  assert.equal(throwing({ url: '/' }), false, 'a predicate that throws tracks the request; the app never sees the error');
});

test('report limit: per culprit and minute; the next delivered report carries how many were held back', () => {
  const limit = new ReportLimit(3);
  const verdicts = [];
  for (let i = 0; i < 100; i++) verdicts.push(limit.admit('GET /export app.js:10', 1000 + i * 100));
  assert.deepEqual(verdicts.slice(0, 3), [0, 0, 0]);
  assert.equal(verdicts.filter((v) => v >= 0).length, 3, 'three of 100 within the minute');
  assert.equal(limit.admit('GET /other app.js:20', 2000), 0, 'another culprit has its own allowance');
  assert.equal(limit.admit('GET /export app.js:10', 1000 + 60_000), 97, 'a minute later: delivered, with the 97 held back');
  assert.equal(new ReportLimit(0).admit('x', 0), 0, '0: no limit');
});
