// The options every monitoring middleware has, with real stalls of a real
// loop (on the suite's retry list): an ignored route's stall is background,
// the logger receives reports, the report limit holds back all but a few.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import express from 'express';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createLoopGuard, loopGuard } from 'loopguard';
import { forkClient } from '../helpers/client.mjs';
import { listen, waitFor } from '../helpers/server.mjs';
import { burnCpu } from '../fixtures/blocking.mjs';

// First in this file: no other guard has subscribed to node:http's channels yet.
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
