import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { createRequire } from 'node:module';
import { CATALOGUE, createLoopGuard, loopGuard } from 'loopguard';
import { instrumentName, startOtel, STALL_EVENT } from 'loopguard/otel';
import { burnCpu } from '../fixtures/blocking.mjs';
import { forkClient } from '../helpers/client.mjs';
import { listen, waitFor } from '../helpers/server.mjs';

/** A local OTLP/HTTP receiver: keeps each decoded JSON export by path. */
async function otlpReceiver() {
  const received = { '/v1/metrics': [], '/v1/traces': [] };
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks).toString('utf8');
    (received[req.url] ??= []).push({ contentType: req.headers['content-type'], body: JSON.parse(body) });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { received, url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** OTLP JSON attribute list → plain object. */
const attributesOf = (list = []) =>
  Object.fromEntries(list.map(({ key, value }) => [key, value.stringValue ?? value.intValue ?? value.doubleValue ?? value.boolValue]));

test('startOtel({ exporter: "otlp" }): metrics and stall events reach a local OTLP/HTTP receiver', async () => {
  const receiver = await otlpReceiver();
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
  // A guard made before the SDK exists: the helper must bind it, not just later ones.
  const guard = createLoopGuard({ thresholdMs: 100, startupGraceMs: 0, prometheus: false });
  const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
  const { ExpressInstrumentation } = await import('@opentelemetry/instrumentation-express');
  const otel = startOtel({ serviceName: 'loopguard-otlp-test', instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation()] });
  await otel.ready;
  const express = createRequire(import.meta.url)('express');
  const app = express();
  app.use(loopGuard(guard));
  app.get('/users/:id', (req, res) => {
    burnCpu(200);
    res.json({ id: req.params.id });
  });
  const server = await listen(app);
  const client = await forkClient();
  try {
    const stalled = waitFor(guard, 'stall', (r) => r.route === '/users/:id');
    assert.equal((await client.request(`${server.url}/users/7`)).status, 200);
    await stalled;
    const background = waitFor(guard, 'stall', (r) => r.cause === 'background');
    setTimeout(function nightlyJob() {
      burnCpu(150);
    }, 20);
    await background;
  } finally {
    await client.close();
    await server.close();
    // Shutting the SDK down flushes both pipelines to the receiver.
    await otel.shutdown();
    guard.close();
    await receiver.close();
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  }

  const exports = receiver.received['/v1/metrics'];
  assert.ok(exports.length >= 1, 'a metrics export arrived');
  assert.match(exports[0].contentType, /json/);
  const metrics = new Map();
  for (const { body } of exports) {
    for (const rm of body.resourceMetrics) {
      assert.equal(attributesOf(rm.resource.attributes)['service.name'], 'loopguard-otlp-test');
      for (const sm of rm.scopeMetrics) if (sm.scope.name === 'loopguard') for (const m of sm.metrics) metrics.set(m.name, m);
    }
  }
  const catalogueNames = new Set(CATALOGUE.map(instrumentName));
  for (const name of metrics.keys()) assert.ok(catalogueNames.has(name), `${name} is a catalogue instrument`);
  // Everything this run produced data for (no precise mode, no shedding).
  for (const key of ['eventloopDelay', 'eventloopUtilization', 'eventloopBlocked', 'stalls', 'stallSeconds', 'stallDuration', 'requestDelay', 'requestsInFlight']) {
    const name = instrumentName(CATALOGUE.find((d) => d.key === key));
    assert.ok(metrics.has(name), `${name} was exported; got ${[...metrics.keys()].join(', ')}`);
  }
  const stalls = metrics.get('loopguard.stalls');
  assert.equal(stalls.sum.isMonotonic, true);
  const routes = stalls.sum.dataPoints.map((p) => attributesOf(p.attributes)['http.route']);
  assert.ok(routes.includes('/users/:id') && routes.includes('(background)'), JSON.stringify(routes));
  const delay = metrics.get('loopguard.request.delay').histogram.dataPoints.find((p) => attributesOf(p.attributes)['http.route'] === '/users/:id');
  assert.equal(Number(delay.count), 1);
  assert.deepEqual(delay.explicitBounds, [...CATALOGUE.find((d) => d.key === 'requestDelay').buckets]);

  const spans = receiver.received['/v1/traces'].flatMap(({ body }) => body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
  const culprit = spans.find((s) => attributesOf(s.attributes)['http.route'] === '/users/:id' && s.kind === 2 /* SERVER */);
  assert.ok(culprit, `the culprit's server span was exported (${spans.length} spans)`);
  const event = culprit.events.find((e) => e.name === STALL_EVENT);
  assert.ok(event, 'it carries the stall event');
  assert.equal(attributesOf(event.attributes)['code.function.name'], 'burnCpu');
});
