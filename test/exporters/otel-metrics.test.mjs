import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import { metrics } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import { createLoopGuard, loopGuard } from 'loopguard';
import { buildVictimApp } from '../fixtures/otel-app.mjs';
import { CollectingReader, pointWith } from '../fixtures/otel-helpers.mjs';
import { forkClient } from '../helpers/client.mjs';
import { listen, waitFor } from '../helpers/server.mjs';

describe('a real stall, seen through a MeterProvider', () => {
  let client, server, guard, reader, provider, registry, report;

  before(async () => {
    reader = new CollectingReader();
    provider = new MeterProvider({ readers: [reader] });
    registry = new Registry();
    const middleware = loopGuard({ thresholdMs: 100, startupGraceMs: 0, prometheus: { registry }, otel: { meter: provider.getMeter('loopguard') } });
    guard = middleware.guard;
    server = await listen(buildVictimApp(express, middleware));
    client = await forkClient();
    await client.startVictims(`${server.url}/io`, 4);
    const stalled = waitFor(guard, 'stall', (r) => r.route === '/users/:id');
    const res = await client.request(`${server.url}/users/42`);
    assert.equal(res.status, 200);
    report = await stalled;
    await client.stopVictims();
  });

  after(async () => {
    await client.close();
    await server.close();
    guard.close();
    await provider.shutdown();
  });

  test('stall counters carry the culprit route and method', async () => {
    const m = await reader.metrics();
    const culprit = { 'http.route': '/users/:id', 'http.request.method': 'GET', 'loopguard.cause': 'request' };
    const count = pointWith(m.get('loopguard.stalls'), culprit);
    assert.ok(count, `a loopguard.stalls point for the culprit; got ${JSON.stringify(m.get('loopguard.stalls')?.dataPoints.map((p) => p.attributes))}`);
    assert.ok(count.value >= 1);
    const seconds = pointWith(m.get('loopguard.stall'), culprit);
    assert.ok(seconds.value >= report.durationMs / 1000 - 1e-9, `${seconds.value} s blocked`);
    const duration = pointWith(m.get('loopguard.stall.duration'), { 'loopguard.cause': 'request' });
    assert.ok(duration.value.count >= 1 && duration.value.max >= 0.1, JSON.stringify(duration.value));
    for (const p of m.get('loopguard.stalls').dataPoints) {
      assert.ok(!['/io', '/fast'].includes(p.attributes['http.route']), `a victim route was blamed: ${p.attributes['http.route']}`);
    }
  });

  test('victims record the delay they waited on their own route', async () => {
    const m = await reader.metrics();
    const io = pointWith(m.get('loopguard.request.delay'), { 'http.route': '/io', 'http.request.method': 'GET' });
    assert.ok(io, 'a request.delay point for the victim route');
    assert.ok(io.value.max >= 0.1, `the worst victim waited ${io.value.max} s`);
    assert.ok(m.get('loopguard.eventloop.delay').dataPoints[0].value.max >= 0.1, 'the heartbeat saw the stall');
  });

  test('every value equals what prom-client exposes for the same guard', async () => {
    const m = await reader.metrics();
    const prom = await registry.getMetricsAsJSON();
    const value = (name, labels) =>
      prom.find((x) => x.name === name).values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value;
    for (const p of m.get('loopguard.stalls').dataPoints) {
      const labels = { route: p.attributes['http.route'], cause: p.attributes['loopguard.cause'] };
      assert.equal(p.value, value('loopguard_stalls_total', labels), JSON.stringify(labels));
    }
    const promCount = (route) =>
      prom.find((x) => x.name === 'loopguard_request_delay_seconds').values.find((v) => v.metricName === 'loopguard_request_delay_seconds_count' && v.labels.route === route).value;
    for (const p of m.get('loopguard.request.delay').dataPoints) {
      assert.equal(p.value.count, promCount(p.attributes['http.route']), `request count of ${p.attributes['http.route']}`);
    }
    const inFlight = m.get('loopguard.requests.in_flight').dataPoints[0].value;
    assert.equal(inFlight, guard.snapshot().requestsInFlight);
  });
});

test('default: the global meter, picked up when an SDK registers after the guard', async () => {
  const guard = createLoopGuard({ prometheus: false });
  const reader = new CollectingReader();
  const provider = new MeterProvider({ readers: [reader] });
  try {
    metrics.setGlobalMeterProvider(provider);
    // The guard rereads the global provider about once a second, from its heartbeat.
    const deadline = Date.now() + 10_000;
    let delay;
    while (delay === undefined && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      delay = (await reader.metrics()).get('loopguard.eventloop.delay');
    }
    assert.ok(delay, 'loop delay reached the SDK registered after the guard');
    assert.ok(delay.dataPoints[0].value.count > 0);
  } finally {
    guard.close();
    metrics.disable();
    await provider.shutdown();
  }
});

test('close() detaches from the meter: nothing more is recorded', async () => {
  const reader = new CollectingReader();
  const provider = new MeterProvider({ readers: [reader] });
  const guard = createLoopGuard({ startupGraceMs: 0, prometheus: false, otel: { meter: provider.getMeter('loopguard') } });
  const countAfter = async (ms) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return (await reader.metrics()).get('loopguard.eventloop.delay')?.dataPoints[0].value.count ?? 0;
  };
  try {
    const first = await countAfter(200);
    assert.ok((await countAfter(200)) > first, 'heartbeat samples flow while the guard is open');
    guard.close();
    const closed = await countAfter(0);
    assert.equal(await countAfter(200), closed, 'no samples after close()');
  } finally {
    guard.close();
    await provider.shutdown();
  }
});

test('bad otel options throw at construction, naming the option', () => {
  for (const [otel, option] of [
    [{ meter: {} }, 'otel.meter'],
    [{ meter: null }, 'otel.meter'],
    [{ traces: 'yes' }, 'otel.traces'],
    [{ metre: {} }, 'otel.metre'],
  ]) {
    assert.throws(
      () => createLoopGuard({ prometheus: false, otel }),
      (err) => err instanceof TypeError && err.code === 'LOOPGUARD_INVALID_OPTION' && err.option === option,
      JSON.stringify(otel),
    );
  }
});
