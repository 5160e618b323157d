// The options every monitoring middleware has: a switch, routes to leave
// alone, a logger, and a limit on reports from one recurring culprit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dc from 'node:diagnostics_channel';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import express from 'express';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createLoopGuard, loopGuard } from 'loopguard';
import { guardInternals } from '../dist/internal.js';
import { ReportLimit } from '../dist/core/report-limit.js';
import { compileIgnore } from '../dist/routes/ignore.js';
import { forkClient } from './helpers/client.mjs';
import { listen, waitFor } from './helpers/server.mjs';
import { burnCpu } from './fixtures/blocking.mjs';

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

test('ignore: an ignored route is never counted or blamed; its stall is background', async () => {
  const registry = new Registry();
  const middleware = loopGuard({ startupGraceMs: 0, prometheus: { registry }, ignore: ['/healthz', '/internal/:job'] });
  const guard = middleware.guard;
  const app = express();
  app.use(middleware);
  app.get('/healthz', (req, res) => res.send('ok'));
  app.get('/internal/:job', (req, res) => {
    burnCpu(300);
    res.send('done');
  });
  app.get('/fast', (req, res) => res.send('fast'));
  const watching = once(guard, 'watchdog:ready');
  const server = await listen(app);
  await watching;
  const client = await forkClient();
  try {
    assert.equal((await client.request(`${server.url}/healthz`)).status, 200);
    assert.equal((await client.request(`${server.url}/fast`)).status, 200);
    const stalled = waitFor(guard, 'stall', (r) => r.stack.some((f) => f.functionName === 'burnCpu'), 10_000);
    assert.equal((await client.request(`${server.url}/internal/reindex`)).status, 200);
    const report = await stalled;
    assert.equal(report.cause, 'background', `not blamed on the ignored route: ${JSON.stringify({ route: report.route, afterResponse: report.afterResponse })}`);
    assert.equal(report.route, null);
    const routes = guard.snapshot().routes.map((r) => r.route);
    assert.deepEqual(routes, ['/fast'], `only /fast is counted: ${JSON.stringify(routes)}`);
    const text = await registry.metrics();
    assert.doesNotMatch(text, /route="\/(healthz|internal)/);
  } finally {
    await client.close();
    await server.close();
    guard.close();
  }
});

test('logger: a pino instance receives each stall report as one JSON object', async () => {
  const stream = new PassThrough();
  const lines = [];
  stream.on('data', (chunk) => lines.push(...String(chunk).split('\n').filter(Boolean).map((l) => JSON.parse(l))));
  const guard = createLoopGuard({ startupGraceMs: 0, prometheus: false, logger: pino(stream) });
  try {
    await waitFor(guard, 'watchdog:ready'); // its timer holds the loop open; the worker alone does not
    const stalled = waitFor(guard, 'stall', (r) => r.stack.some((f) => f.functionName === 'rebuildSearchIndex'));
    setTimeout(function rebuildSearchIndex() {
      burnCpu(250);
    }, 20);
    const report = await stalled;
    await new Promise((resolve) => setImmediate(resolve));
    const line = lines.find((l) => l.loopguard?.id === report.id);
    assert.ok(line, `a log line for report ${report.id}: ${JSON.stringify(lines).slice(0, 400)}`);
    assert.equal(line.level, 40, 'logged at warn');
    assert.match(line.msg, /^event loop stalled \d+ ms/);
    assert.equal(line.loopguard.cause, 'background');
    assert.ok(line.loopguard.stack.some((f) => f.functionName === 'rebuildSearchIndex'));
  } finally {
    guard.close();
  }
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

test('report limit: 20 stalls of one culprit give the configured reports, and the stall counter counts all 20', async () => {
  const registry = new Registry();
  const reports = [];
  const guard = createLoopGuard({ thresholdMs: 30, startupGraceMs: 0, reportsPerCulpritPerMinute: 3, prometheus: { registry } });
  guard.on('stall', (r) => reports.push(r));
  try {
    await waitFor(guard, 'watchdog:ready'); // its timer holds the loop open; the worker alone does not
    const ours = (r) => r.stack.some((f) => f.functionName === 'recurringJob');
    // Each job holds the loop 80 ms, then lets the heartbeat turn for 40 ms: 20 stalls.
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) =>
        setTimeout(function recurringJob() {
          burnCpu(80);
          resolve();
        }, 40),
      );
    }
    // The last stall is delivered once its samples are in: wait for the count, bounded.
    const deadline = Date.now() + 5000;
    while (guard.snapshot().stallsTotal < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(guard.snapshot().stallsTotal >= 20, `every stall counted: ${guard.snapshot().stallsTotal}`);
    const text = await registry.metrics();
    const total = text
      .split('\n')
      .filter((l) => l.startsWith('loopguard_stalls_total{'))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
    assert.ok(total >= 20, `loopguard_stalls_total adds up to ${total}`);
    assert.ok(reports.filter(ours).length <= 3, `at most 3 reports of the recurring culprit, got ${reports.filter(ours).length}`);
    assert.ok(reports.filter(ours).length >= 1, 'at least one was delivered');
  } finally {
    guard.close();
  }
});
