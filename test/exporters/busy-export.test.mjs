// busy_seconds_total on both export paths, from a real guard under real
// requests: same labels and sentinels as stall_seconds_total, same values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import { loopGuard } from 'loopguard';
import { CollectingReader, pointWith } from '../fixtures/otel-helpers.mjs';
import { forkClient } from '../helpers/client.mjs';
import { listen } from '../helpers/server.mjs';
import { guardInternals } from '../../dist/internal.js';

function spin(ms) {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

test('busy_seconds_total: Prometheus and OpenTelemetry carry the route, method and cause of the code that ran', async () => {
  const reader = new CollectingReader();
  const provider = new MeterProvider({ readers: [reader] });
  const registry = new Registry();
  // A high rate so that a few seconds of traffic give many samples; the default is 10.
  const middleware = loopGuard({ busySampleHz: 200, startupGraceMs: 0, prometheus: { registry }, otel: { meter: provider.getMeter('loopguard') } });
  const guard = middleware.guard;
  const app = express();
  app.use(middleware);
  app.get('/spin/:id', (req, res) => {
    spin(15);
    res.json({ ok: true });
  });
  const server = await listen(app);
  const client = await forkClient();
  try {
    await client.startVictims(`${server.url}/spin/7`, 2);
    // Until the estimate holds a few seconds' worth (an event-free wait would need a hook into the sampler).
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && (guardInternals(guard).busy.totals().find((t) => t.key.route === '/spin/:id')?.seconds ?? 0) < 1.5) {
      await new Promise((r) => setTimeout(r, 200));
    }
    await client.stopVictims();
    await new Promise((r) => setTimeout(r, 1100)); // one more fold, then both exporters read the same totals
    const prom = (await registry.getMetricsAsJSON()).find((m) => m.name === 'loopguard_busy_seconds_total');
    assert.equal(prom.type, 'counter');
    const spinSeries = prom.values.find((v) => v.labels.route === '/spin/:id');
    assert.deepEqual(spinSeries.labels, { route: '/spin/:id', method: 'GET', cause: 'request' });
    assert.ok(spinSeries.value >= 1.5, `${spinSeries.value} s`);
    for (const v of prom.values) {
      // A sample asked for during a GC pause is GC's: route (gc), cause gc, as for stalls.
      assert.ok(v.labels.route.startsWith('/') || v.labels.route === '(background)' || (v.labels.route === '(gc)' && v.labels.cause === 'gc'), `route label ${v.labels.route}`);
      assert.ok(!/\/spin\/7/.test(v.labels.route), 'no raw path in a label');
    }
    const total = prom.values.reduce((s, v) => s + v.value, 0);
    assert.ok(spinSeries.value / total > 0.8, `the spinning route holds most of the busy time (${spinSeries.value} of ${total} s)`);
    const m = await reader.metrics();
    const point = pointWith(m.get('loopguard.busy'), { 'http.route': '/spin/:id', 'http.request.method': 'GET', 'loopguard.cause': 'request' });
    assert.ok(point, `an OTel loopguard.busy point; got ${JSON.stringify(m.get('loopguard.busy')?.dataPoints.map((p) => p.attributes))}`);
    assert.equal(m.get('loopguard.busy').descriptor.unit, 's');
    assert.ok(Math.abs(point.value - spinSeries.value) < 1e-9 || Math.abs(point.value - spinSeries.value) / spinSeries.value < 0.2, `${point.value} vs ${spinSeries.value}`);
    const top = guard.snapshot().busy.routes[0];
    assert.equal(top.route, '/spin/:id');
    assert.ok(top.share > 0.8 && top.shareLow <= top.share && top.share <= top.shareHigh && top.samples >= 30, JSON.stringify(top));
    const bg = pointWith(m.get('loopguard.busy'), { 'http.route': '(background)' });
    if (bg) assert.equal(bg.attributes['http.request.method'], undefined, 'background has no method attribute, as for stalls');
  } finally {
    await client.close();
    await server.close();
    guard.close();
    await provider.shutdown();
  }
});

test('busy time follows the after-response rule: work a route leaves behind is its route\'s, until blameAfterResponseMs', async () => {
  const shareOf = async (blameAfterResponseMs) => {
    const middleware = loopGuard({ busySampleHz: 200, blameAfterResponseMs, startupGraceMs: 0, prometheus: false, otel: false });
    const guard = middleware.guard;
    const app = express();
    app.use(middleware);
    app.get('/orders', (req, res) => {
      res.status(202).json({ accepted: true });
      setTimeout(() => spin(15), 0); // after the response, in the request's context
    });
    const server = await listen(app);
    const client = await forkClient();
    try {
      await client.startLoad([{ name: 'orders', url: `${server.url}/orders`, concurrency: 2 }]);
      const busyOf = (route) => guardInternals(guard).busy.totals().filter((t) => t.key.route === route).reduce((s, t) => s + t.seconds, 0);
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && busyOf('/orders') + busyOf('(background)') < 1.5) await new Promise((r) => setTimeout(r, 200));
      await client.stopLoad();
      return busyOf('/orders') / (busyOf('/orders') + busyOf('(background)'));
    } finally {
      await client.close();
      await server.close();
      guard.close();
    }
  };
  const blamed = await shareOf(10_000);
  assert.ok(blamed > 0.7, `/orders holds ${(blamed * 100).toFixed(0)} % of the busy time with the default rule`);
  const never = await shareOf(0);
  assert.ok(never < 0.3, `/orders holds ${(never * 100).toFixed(0)} % with blameAfterResponseMs: 0 (its left-behind work is background)`);
});
