// Load shedding on Express, end to end: a real server, traffic from a forked
// client (the server's loop is blocked while it sends), real prom-client registries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import express from 'express';
import { Registry } from 'prom-client';
import { loopGuard } from 'loopguard';
import { forkClient } from '../helpers/client.mjs';
import { listen, waitFor } from '../helpers/server.mjs';
import { burnCpu } from '../fixtures/blocking.mjs';
import { guardInternals } from '../../dist/internal.js';

const BLOCK_MS = 200;

/** A service with one route that blocks the loop per call, fast routes, health and metrics. */
function service(options) {
  const registry = new Registry();
  // Every stall a report: the test counts them as they come (the default limit is 10 a minute per culprit).
  const middleware = loopGuard({ thresholdMs: 100, startupGraceMs: 0, prometheus: { registry }, reportsPerCulpritPerMinute: 0, ...options });
  const served = new EventEmitter();
  let fast = 0;
  let metrics = 0;
  const app = express();
  app.use(middleware);
  app.get('/health', middleware.guard.healthHandler());
  app.get('/metrics', async (req, res) => {
    res.type('text/plain').send(await registry.metrics());
    served.emit('metrics', ++metrics);
  });
  app.get('/items/:id', (req, res) => {
    res.json({ id: req.params.id });
    served.emit('fast', ++fast);
  });
  app.get('/reports/:id', (req, res) => {
    burnCpu(BLOCK_MS);
    res.json({ id: req.params.id });
  });
  app.get('/block', (req, res) => {
    burnCpu(BLOCK_MS);
    res.send('blocked');
  });
  return { app, guard: middleware.guard, registry, served };
}

function p99(latencies) {
  const sorted = [...latencies].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(sorted.length * 0.99) - 1)];
}

function add(total, stats) {
  for (const [name, s] of Object.entries(stats)) {
    const t = (total[name] ??= { sent: 0, statuses: {}, retryAfter: {} });
    t.sent += s.sent;
    for (const [k, v] of Object.entries(s.statuses)) t.statuses[k] = (t.statuses[k] ?? 0) + v;
    for (const [k, v] of Object.entries(s.retryAfter)) t.retryAfter[k] = (t.retryAfter[k] ?? 0) + v;
  }
  return total;
}

const targets = (url, extra = []) => [
  { name: 'reports', url: `${url}/reports/17?format=json`, concurrency: 2 },
  { name: 'items', url: `${url}/items/5?x=1`, concurrency: 4 },
  ...extra,
];

test('culprit-aware shedding: the blocking route gets 503 + Retry-After, fast routes stay fast, shedding ends with the load', async (t) => {
  const client = await forkClient();
  t.after(() => client.close());

  // Shedding off: every fast request can wait behind a 200 ms block.
  const off = service({});
  const offServer = await listen(off.app);
  let baseline;
  try {
    await client.startLoad(targets(offServer.url));
    await waitFor(off.guard, 'stall', (r) => r.route === '/reports/:id');
    await client.markLoad();
    let stalls = 0;
    await waitFor(off.guard, 'stall', (r) => r.route === '/reports/:id' && ++stalls >= 12, 30_000);
    baseline = await client.stopLoad();
  } finally {
    await offServer.close();
    off.guard.close();
  }
  assert.equal(off.guard.snapshot().shedding, null);
  assert.deepEqual(Object.keys(baseline.reports.statuses), ['200'], 'nothing is shed with shedding off');
  const offP99 = p99(baseline.items.latenciesMs);

  // Shedding on, culprit mode; it never escalates to shedding everything here.
  const on = service({ shed: { maxEventLoopDelayMs: 100, cooldownMs: 1000, escalateAfterMs: 600_000, retryAfterSeconds: 7 } });
  const onServer = await listen(on.app);
  t.after(async () => {
    await onServer.close();
    on.guard.close();
  });
  const changes = [];
  on.guard.on('shed', (c) => changes.push(c));
  const culpritShed = waitFor(on.guard, 'shed', (c) => c.state === 'culprits' && c.culprits.some((r) => r.route === '/reports/:id'), 20_000);
  await client.startLoad(targets(onServer.url, [{ name: 'health', url: `${onServer.url}/health`, concurrency: 1 }]));
  const engaged = await culpritShed;
  assert.deepEqual(engaged.culprits, [{ route: '/reports/:id', method: 'GET' }]);
  assert.equal(engaged.reason, 'delay');
  assert.equal(on.guard.snapshot().shedding.state, 'culprits');
  const health = await client.request(`${onServer.url}/health`);
  const status = JSON.parse(health.text);
  assert.equal(health.status, 200, 'a degraded instance still takes traffic');
  assert.equal(status.shedding, 'culprits');
  assert.equal(status.status, 'degraded');
  assert.equal(status.topCulprit.route, '/reports/:id');
  assert.ok(status.eventLoop.delayMs >= 100, `recent delay ${status.eventLoop.delayMs} ms`);

  // Measure over 3000 fast requests while shedding (releases and re-sheds included).
  const before = await client.markLoad();
  await waitFor(on.served, 'fast', (n) => n >= 3000 + before.items.sent, 60_000);
  const measured = await client.stopLoad();
  const onP99 = p99(measured.items.latenciesMs);
  t.diagnostic(`fast route p99: ${offP99.toFixed(1)} ms without shedding (${baseline.items.latenciesMs.length} requests), ` +
    `${onP99.toFixed(1)} ms with culprit shedding (${measured.items.latenciesMs.length} requests); ratio ${(offP99 / onP99).toFixed(1)}×`);
  assert.ok(offP99 >= 3 * onP99, `fast p99 ${onP99.toFixed(1)} ms with shedding vs ${offP99.toFixed(1)} ms without`);

  const total = add(add({}, before), measured);
  assert.ok(total.reports.statuses['503'] > 0, `the culprit route was shed: ${JSON.stringify(total.reports.statuses)}`);
  assert.deepEqual(total.reports.retryAfter, { 7: total.reports.statuses['503'] }, 'every shed response carries Retry-After');
  assert.deepEqual(Object.keys(total.items.statuses), ['200'], `fast routes always answered: ${JSON.stringify(total.items.statuses)}`);
  assert.deepEqual(Object.keys(total.health.statuses), ['200'], 'the exempt health route was never shed');

  // Shedding ends by itself once the load is gone.
  if (on.guard.shedder.state !== 'off') await waitFor(on.guard, 'shed', (c) => c.state === 'off', 30_000);
  assert.equal(on.guard.snapshot().shedding.state, 'off');
  assert.equal(on.guard.shedder.active, false);
  const after = await client.request(`${onServer.url}/reports/3`);
  assert.equal(after.status, 200, 'the culprit route is served again');

  // Each request counted once: shed ones only as shed, served ones only on their route.
  const metrics = await on.registry.metrics();
  const shedLine = metrics.split('\n').find((l) => l.startsWith('loopguard_requests_shed_total{route="/reports/:id",reason="culprit"}'));
  assert.ok(shedLine, metrics.split('\n').filter((l) => l.includes('shed')).join('\n'));
  assert.equal(Number(shedLine.split(' ').pop()), total.reports.statuses['503']);
  assert.ok(!/requests_shed_total\{[^}]*route="\/reports\/17/.test(metrics), 'no raw path in labels');
  const routes = on.guard.snapshot().routes;
  const served = routes.filter((r) => r.route === '/reports/:id').reduce((n, r) => n + r.requests, 0);
  assert.equal(served, total.reports.statuses['200'] + 1);
  assert.equal(on.guard.snapshot().requestsInFlight, 0);
  assert.ok(changes.every((c, i) => i === 0 || c.at >= changes[i - 1].at));
  t.diagnostic(`shed transitions: ${changes.map((c) => c.state).join(' → ')}`);
});

test('pressure without a culprit escalates to shedding everything but exempt routes; health answers 503 meanwhile', async (t) => {
  const svc = service({ shed: { maxEventLoopDelayMs: 100, escalateAfterMs: 1000, cooldownMs: 1000 } });
  const server = await listen(svc.app);
  const client = await forkClient();
  let blocker;
  t.after(async () => {
    clearInterval(blocker);
    await client.close();
    await server.close();
    svc.guard.close();
  });
  // A background job blocking the loop: no route to blame, so nothing to shed but everything.
  blocker = setInterval(function backgroundReindex() {
    burnCpu(150);
  }, 300);
  const all = waitFor(svc.guard, 'shed', (c) => c.state === 'all', 20_000);
  await client.startLoad([
    { name: 'items', url: `${server.url}/items/1`, concurrency: 3 },
    { name: 'metrics', url: `${server.url}/metrics`, concurrency: 1 },
  ]);
  const escalated = await all;
  assert.equal(escalated.reason, 'delay');
  assert.equal(escalated.previous, 'pressure');
  await client.markLoad();
  const health = await client.request(`${server.url}/health`);
  assert.equal(health.status, 503);
  assert.equal(JSON.parse(health.text).status, 'overloaded');
  await waitFor(svc.served, 'metrics', (n) => n >= 10, 30_000);
  const stats = await client.stopLoad();
  clearInterval(blocker);

  assert.ok(stats.items.statuses['503'] > 0, `non-exempt routes are shed: ${JSON.stringify(stats.items.statuses)}`);
  assert.ok(stats.items.retryAfter['5'] > 0, 'default Retry-After');
  assert.deepEqual(Object.keys(stats.metrics.statuses), ['200'], `the exempt metrics route was never shed: ${JSON.stringify(stats.metrics.statuses)}`);
  const text = await svc.registry.metrics();
  assert.match(text, /loopguard_requests_shed_total\{route="\(unmatched\)",reason="delay"\} [1-9]/);

  if (svc.guard.shedder.state !== 'off') await waitFor(svc.guard, 'shed', (c) => c.state === 'off', 30_000);
  assert.equal((await client.request(`${server.url}/items/2`)).status, 200);
});

test('onShed answers shed requests, can let one through, and a throwing onShed falls back to the 503', async (t) => {
  const errors = [];
  let behaviour = 'custom';
  const svc = service({
    onError: (e) => errors.push(e),
    shed: {
      mode: 'all',
      cooldownMs: 600_000,
      onShed(req, res, info) {
        if (behaviour === 'throw') throw new Error('handler bug');
        if (req.headers['x-priority'] === 'high') return false;
        res.status(429).json({ busy: info.reason, route: info.route });
      },
    },
  });
  const server = await listen(svc.app);
  const client = await forkClient();
  t.after(async () => {
    await client.close();
    await server.close();
    svc.guard.close();
  });
  // A stall while starting up may already have put it under pressure: the blocking request is let through either way.
  const all = svc.guard.shedder.state === 'all' ? undefined : waitFor(svc.guard, 'shed', (c) => c.state === 'all');
  assert.equal((await client.request(`${server.url}/block`, { headers: { 'x-priority': 'high' } })).status, 200);
  await all;
  const custom = await client.request(`${server.url}/items/1`);
  assert.equal(custom.status, 429);
  assert.deepEqual(JSON.parse(custom.text), { busy: 'delay', route: '(unmatched)' });
  const through = await client.request(`${server.url}/items/2`, { headers: { 'x-priority': 'high' } });
  assert.equal(through.status, 200);
  behaviour = 'throw';
  const fallback = await client.request(`${server.url}/items/3`);
  assert.equal(fallback.status, 503);
  assert.equal(fallback.headers['retry-after'], '5');
  assert.equal(JSON.parse(fallback.text).reason, 'delay');
  assert.ok(errors.some((e) => e.code === 'LOOPGUARD_CALLBACK_FAILED' && /onShed/.test(e.message)));
  // The request let through is served and counted on its route; the two shed ones only as shed.
  assert.equal(guardInternals(svc.guard).shedTotals.get('(unmatched)\u0000delay').count, 2);
  const itemRoute = svc.guard.snapshot().routes.find((r) => r.route === '/items/:id');
  assert.equal(itemRoute.requests, 1);
  // close() ends shedding at once.
  svc.guard.close();
  assert.equal(svc.guard.shedder.active, false);
});
