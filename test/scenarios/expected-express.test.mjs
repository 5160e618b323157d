// Expected blocking on a real Express app: a route declared in
// expectedBlockingRoutes and code run by guard.expectBlocking(fn) stall for
// real; their reports say cause 'expected', the Prometheus registry has the
// `expected` series, and load shedding never names them as culprits.
import { after, before, test } from 'node:test';
import { once } from 'node:events';
import assert from 'node:assert/strict';
import express from 'express';
import { Registry } from 'prom-client';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { CollectingReader, pointWith } from '../fixtures/otel-helpers.mjs';
import { loopGuard } from 'loopguard';
import { forkClient } from '../helpers/client.mjs';
import { listen, waitFor } from '../helpers/server.mjs';
import { burnCpu } from '../fixtures/blocking.mjs';
import { hashPassword } from '../fixtures/app-code.mjs';

let client, server, guard, registry, reader;

before(async () => {
  registry = new Registry();
  reader = new CollectingReader();
  const provider = new MeterProvider({ readers: [reader] });
  const middleware = loopGuard({
    thresholdMs: 100,
    startupGraceMs: 0,
    prometheus: { registry },
    otel: { meter: provider.getMeter('expected-test'), traces: false },
    expectedBlockingRoutes: ['/admin/export', /^\/reports\//],
    // Shedding on, with a delay limit every stall here passes: it must still never blame an expected route.
    shed: { maxEventLoopDelayMs: 150, mode: 'culprits' },
  });
  guard = middleware.guard;
  const app = express();
  app.use(middleware);
  app.get('/admin/export', (req, res) => res.json(hashPassword('admin export')));
  app.get('/reports/:month', (req, res) => res.json({ n: burnCpu(300) > 0 }));
  app.post('/login', (req, res) => res.json(hashPassword('correct horse')));
  app.post('/import', async (req, res) => {
    // Expected only inside the wrapper: the same helper outside it is a real culprit (see /login).
    const result = await guard.expectBlocking(async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return hashPassword('bulk import');
    });
    res.json(result);
  });
  const watching = once(guard, 'watchdog:ready');
  server = await listen(app);
  await watching;
  client = await forkClient();
});

after(async () => {
  await client.close();
  await server.close();
  guard.close();
});

async function stallOf(path, method, route) {
  const stalled = waitFor(guard, 'stall', (r) => r.route === route, 15_000);
  const res = await client.request(server.url + path, { method });
  assert.equal(res.status, 200, `${path}: ${res.status} ${res.text} (shedding: ${JSON.stringify(guard.snapshot().shedding)})`);
  return stalled;
}

test("a route in expectedBlockingRoutes (exact or RegExp) reports cause 'expected', still with stack and advice", async () => {
  const report = await stallOf('/admin/export', 'GET', '/admin/export');
  assert.equal(report.cause, 'expected');
  assert.ok(report.durationMs >= 100);
  assert.ok(report.stack.some((f) => f.functionName === 'hashPassword'), report.stack.map((f) => f.functionName).join(' < '));
  assert.equal(report.advice?.call, 'crypto.pbkdf2Sync');
  const monthly = await stallOf('/reports/2026-11', 'GET', '/reports/:month');
  assert.equal(monthly.cause, 'expected');
});

test('guard.expectBlocking(fn) makes the code it runs expected, across its await; the same code outside it is a culprit', async () => {
  const describe = (r) => JSON.stringify({ cause: r.cause, ms: r.durationMs, stack: r.stack.slice(0, 5).map((f) => `${f.functionName}:${f.lineNumber}`) });
  const expected = await stallOf('/import', 'POST', '/import');
  assert.equal(expected.cause, 'expected', describe(expected));
  const real = await stallOf('/login', 'POST', '/login');
  assert.equal(real.cause, 'request', describe(real));
});

test('outside any request: a background job wrapped in expectBlocking is expected, not background', async () => {
  const stalled = waitFor(guard, 'stall', (r) => r.route === null && r.stack.some((f) => f.functionName === 'nightlyRollup'), 15_000);
  setTimeout(() => guard.expectBlocking(function nightlyRollup() {
    return burnCpu(300);
  }), 10);
  const report = await stalled;
  assert.equal(report.cause, 'expected');
});

test('OpenTelemetry carries loopguard.cause=expected on the stall instruments', async () => {
  const m = await reader.metrics();
  const stalls = pointWith(m.get('loopguard.stalls'), { 'http.route': '/admin/export', 'loopguard.cause': 'expected' });
  assert.ok(stalls && stalls.value >= 1, JSON.stringify(m.get('loopguard.stalls')?.dataPoints.map((p) => p.attributes)));
  const duration = pointWith(m.get('loopguard.stall.duration'), { 'loopguard.cause': 'expected' });
  assert.ok(duration && duration.value.count >= 3, 'durations of expected stalls, by cause');
});

test('the metrics carry cause="expected"; shedding names only the real culprit', async () => {
  const text = await registry.metrics();
  const series = (route, cause) => text.split('\n').find((l) => l.startsWith('loopguard_stalls_total{') && l.includes(`route="${route}"`) && l.includes(`cause="${cause}"`));
  assert.ok(series('/admin/export', 'expected'), text.split('\n').filter((l) => l.startsWith('loopguard_stalls_total')).join('\n'));
  assert.ok(series('/import', 'expected'));
  assert.ok(series('/login', 'request'));
  assert.equal(series('/admin/export', 'request'), undefined, 'an expected route has no request series');
  assert.ok(text.split('\n').some((l) => l.startsWith('loopguard_stall_duration_seconds_count{cause="expected"}') && Number(l.split(' ').pop()) >= 3));
  const blamed = guard.snapshot().culprits.filter((c) => c.cause === 'request').map((c) => c.route);
  assert.deepEqual(blamed, ['/login']);
  const shed = guard.snapshot().shedding;
  for (const c of shed.culprits) assert.ok(!['/admin/export', '/reports/:month', '/import'].includes(c.route), `shedding blamed ${c.route}`);
});
