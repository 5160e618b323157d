// Work a route leaves behind after answering (a timer, the rest of an async
// handler) still runs in that request's context: its stalls are the route's,
// marked afterResponse, within the blame window; context-free work stays background.
import { after, before, describe, test } from 'node:test';
import { once } from 'node:events';
import assert from 'node:assert/strict';
import express from 'express';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { loopGuard } from 'loopguard';
import { loopGuard as fastifyLoopGuard } from 'loopguard/fastify';
import { forkClient } from '../helpers/client.mjs';
import { listen, waitFor } from '../helpers/server.mjs';
import { burnCpu } from '../fixtures/blocking.mjs';

const BURN_MS = 150;
const BLAME_MS = 1500;

function awardLoyaltyPoints() {
  burnCpu(BURN_MS);
}

function writeAuditRecord() {
  burnCpu(BURN_MS);
}

function refreshCatalogueCache() {
  burnCpu(BURN_MS);
}

function drainOutbox(queue) {
  queue.length = 0;
  burnCpu(BURN_MS);
}

/** The victims' own left-behind work: tiny (a loaded machine can deschedule any code that runs long enough to be paused in). */
let sessionsTouched = 0;
function touchSession() {
  sessionsTouched++;
}

const culpritOf = (fn) => (r) => r.stack.some((f) => f.functionName === fn);

function buildApp(middleware, outbox) {
  const app = express();
  app.use(middleware);
  app.get('/fast', (req, res) => {
    res.json({ ok: true });
    setImmediate(touchSession);
  });
  app.post('/orders', (req, res) => {
    res.status(202).json({ accepted: true });
    setTimeout(awardLoyaltyPoints, 20);
  });
  app.post('/audit/:id', async (req, res) => {
    res.json({ ok: true });
    await new Promise((resolve) => setTimeout(resolve, 20));
    writeAuditRecord();
  });
  app.post('/outbox', (req, res) => {
    outbox.push(1);
    res.status(202).end();
  });
  app.post('/cache/refresh', (req, res) => {
    const interval = setInterval(refreshCatalogueCache, 400);
    res.locals.interval = interval;
    app.locals.intervals.push(interval);
    res.status(202).end();
  });
  app.locals.intervals = [];
  return app;
}

describe('Express: stalls in work a route leaves behind', () => {
  let client, server, guard, boot, app;
  const outbox = [];
  const reports = [];

  before(async () => {
    const middleware = loopGuard({ thresholdMs: 60, startupGraceMs: 0, blameAfterResponseMs: BLAME_MS, prometheus: { registry: new Registry() } });
    guard = middleware.guard;
    guard.on('stall', (r) => reports.push(r));
    const watching = once(guard, 'watchdog:ready');
    app = buildApp(middleware, outbox);
    server = await listen(app);
    // A job started at boot, outside any request: it drains what requests queue.
    boot = setInterval(() => {
      if (outbox.length > 0) drainOutbox(outbox);
    }, 50);
    await watching;
    client = await forkClient();
    await client.startVictims(`${server.url}/fast`, 3);
  });

  after(async () => {
    clearInterval(boot);
    for (const interval of app.locals.intervals) clearInterval(interval);
    await client.stopVictims();
    await client.close();
    await server.close();
    guard.close();
  });

  test('a timer scheduled before answering 202 is blamed on its route, after the response', async () => {
    const stalled = waitFor(guard, 'stall', culpritOf('awardLoyaltyPoints'));
    const res = await client.request(`${server.url}/orders`, { method: 'POST' });
    assert.equal(res.status, 202);
    const report = await stalled;
    assert.equal(report.cause, 'request');
    assert.equal(report.route, '/orders');
    assert.equal(report.method, 'POST');
    assert.equal(report.afterResponse, true);
    assert.ok(report.durationMs >= 60, `stall of ${report.durationMs} ms`);
  });

  test('the rest of an async handler after the response is blamed on its route', async () => {
    const stalled = waitFor(guard, 'stall', culpritOf('writeAuditRecord'));
    const res = await client.request(`${server.url}/audit/42`, { method: 'POST' });
    assert.equal(res.status, 200);
    const report = await stalled;
    assert.equal(report.cause, 'request');
    assert.equal(report.route, '/audit/:id');
    assert.equal(report.afterResponse, true);
    const stats = guard.snapshot().culprits.find((c) => c.route === '/audit/:id');
    assert.ok(stats && stats.stalls >= 1, `the route's stall counts: ${JSON.stringify(guard.snapshot().culprits)}`);
  });

  test('work with no request context stays background', async () => {
    const stalled = waitFor(guard, 'stall', culpritOf('drainOutbox'));
    const res = await client.request(`${server.url}/outbox`, { method: 'POST' });
    assert.equal(res.status, 202);
    const report = await stalled;
    assert.equal(report.cause, 'background');
    assert.equal(report.route, null);
    assert.equal(report.afterResponse, false);
  });

  test('an interval a request started is blamed on it only within the blame window', async () => {
    const ticks = [];
    const onStall = (r) => {
      if (culpritOf('refreshCatalogueCache')(r)) ticks.push({ r, at: performance.now() });
    };
    guard.on('stall', onStall);
    const startedAt = performance.now();
    const res = await client.request(`${server.url}/cache/refresh`, { method: 'POST' });
    assert.equal(res.status, 202);
    // Ticks every 400 ms: wait for one well past the window (an event, not a sleep).
    await waitFor(guard, 'stall', (r) => culpritOf('refreshCatalogueCache')(r) && performance.now() - startedAt > BLAME_MS + 800, 15_000);
    guard.off('stall', onStall);
    for (const interval of app.locals.intervals.splice(0)) clearInterval(interval);
    const early = ticks.filter((t) => t.at - startedAt < BLAME_MS - 300);
    const late = ticks.filter((t) => t.at - startedAt > BLAME_MS + 500);
    assert.ok(early.length >= 1 && late.length >= 1, `ticks: ${ticks.map((t) => Math.round(t.at - startedAt)).join(', ')}`);
    for (const { r } of early) {
      assert.equal(r.route, '/cache/refresh');
      assert.equal(r.afterResponse, true);
    }
    for (const { r } of late) {
      assert.equal(r.cause, 'background', `a tick ${BLAME_MS} ms past the response is no longer the route's`);
      assert.equal(r.route, null);
    }
  });

  test("the victims' own after-response work is never blamed, and the culprits are never counted as victims", () => {
    for (const r of reports) {
      assert.notEqual(r.route, '/fast', `a victim route was blamed: ${JSON.stringify(r)}`);
      assert.ok(!r.stack.some((f) => f.functionName === 'touchSession'), 'a victim callback was blamed');
    }
    assert.ok(sessionsTouched > 0, 'the victims left work behind too');
    const blamed = reports.filter((r) => r.afterResponse);
    assert.ok(blamed.length >= 3, `after-response stalls: ${blamed.length}`);
    // Three victim loops, one request each at a time: a finished culprit counted among them would make four.
    for (const r of blamed) assert.ok(r.victims <= 3, `victims of an after-response stall: ${r.victims}`);
  });
});

describe('Fastify: a timer after the reply is blamed on its route', () => {
  test('202 then a timer', async () => {
    const app = Fastify();
    await app.register(fastifyLoopGuard, { thresholdMs: 60, startupGraceMs: 0, prometheus: { registry: new Registry() } });
    const guard = app.loopGuard;
    const watching = once(guard, 'watchdog:ready');
    app.post('/orders/:id', async (request, reply) => {
      setTimeout(awardLoyaltyPoints, 20);
      reply.code(202);
      return { accepted: true };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const client = await forkClient();
    try {
      await watching;
      const stalled = waitFor(guard, 'stall', culpritOf('awardLoyaltyPoints'));
      const res = await client.request(`http://127.0.0.1:${app.server.address().port}/orders/7`, { method: 'POST' });
      assert.equal(res.status, 202);
      const report = await stalled;
      assert.equal(report.cause, 'request');
      assert.equal(report.route, '/orders/:id');
      assert.equal(report.afterResponse, true);
    } finally {
      await client.close();
      await app.close();
    }
  });
});
