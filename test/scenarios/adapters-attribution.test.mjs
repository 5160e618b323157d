// The Express scenario, on every other adapter: a blocking route under
// concurrent victim traffic from a forked client is named with its blocking
// function, and no victim is ever blamed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Registry } from 'prom-client';
import { loopGuard as fastifyLoopGuard } from 'loopguard/fastify';
import { loopGuard as koaLoopGuard } from 'loopguard/koa';
import { withLoopGuard } from 'loopguard/http';
import { createLoopGuard } from 'loopguard';
import { forkClient } from '../helpers/client.mjs';
import { listen, waitFor } from '../helpers/server.mjs';
import { buildFastifyApp } from '../fixtures/fastify-app.mjs';
import { buildKoaApp } from '../fixtures/koa-app.mjs';
import { httpListener, routeTemplate } from '../fixtures/http-app.mjs';
import { BIG_JSON_BYTES } from '../helpers/json-body.mjs';

const SCENARIOS = [
  { name: 'CPU loop in a parameterised route', path: '/users/42', route: '/users/:id', fn: 'burnCpu' },
  { name: 'CPU loop after an await', path: '/report', route: '/report', fn: 'burnCpu' },
  // With a body: the handler runs after the body's last chunk, which arrives in the socket's async context.
  { name: 'crypto.pbkdf2Sync in a POST with a body', path: '/login', method: 'POST', body: 'user=alice&password=hunter2', route: '/login', fn: 'hashPasswordSync' },
  { name: 'catastrophic regex behind a prefix', path: '/api/v1/search/aaa', route: '/api/v1/search/:term', fn: 'backtrackingRegex' },
];

const guardOptions = () => ({ thresholdMs: 100, startupGraceMs: 0, prometheus: { registry: new Registry() } });

/** Each adapter: how to start its app with loopguard, and scenarios of its own. */
const ADAPTERS = [
  {
    name: 'Fastify (plugin)',
    async start() {
      const app = buildFastifyApp(fastifyLoopGuard, guardOptions());
      await app.listen({ port: 0, host: '127.0.0.1' });
      return { url: `http://127.0.0.1:${app.server.address().port}`, server: app.server, guard: app.loopGuard, close: () => app.close() };
    },
    extra: [
      {
        name: 'JSON body parsing before the handler', path: '/api/v1/ingest/acme', method: 'POST', jsonBytes: BIG_JSON_BYTES,
        route: '/api/v1/ingest/:tenant',
        // JSON.parse is native: the pause lands as it returns, inside Fastify's body parser.
        frame: (f) => /\/(fastify|secure-json-parse)\//.test(f.url),
      },
    ],
  },
  {
    name: 'Koa (middleware, @koa/router)',
    async start() {
      const middleware = koaLoopGuard(guardOptions());
      const server = await listen(buildKoaApp(middleware).callback());
      return { url: server.url, server: server.server, guard: middleware.guard, close: async () => (await server.close(), middleware.guard.close()) };
    },
    extra: [],
  },
  {
    name: 'node:http (wrapped listener)',
    async start() {
      const listener = withLoopGuard(httpListener, { route: routeTemplate, ...guardOptions() });
      const server = await listen(http.createServer(listener));
      return { url: server.url, server: server.server, guard: listener.guard, close: async () => (await server.close(), listener.guard.close()) };
    },
    extra: [],
  },
];

/** Resolves once `count` requests reached the server: victims are in flight before the culprit is sent. */
function requestsArrive(server, count, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const timer = setTimeout(() => {
      server.off('request', onRequest);
      reject(new Error(`only ${seen} of ${count} requests arrived in ${timeoutMs} ms`));
    }, timeoutMs);
    function onRequest() {
      if (++seen < count) return;
      clearTimeout(timer);
      server.off('request', onRequest);
      resolve();
    }
    server.on('request', onRequest);
  });
}

/** The report naming `route` since index `seen`, whether it came before or after this call. */
function reportFor(app, reports, seen, route) {
  const already = reports.slice(seen).find((r) => r.route === route);
  if (already) return Promise.resolve(already);
  return waitFor(app.guard, 'stall', (r) => r.route === route, 10_000).catch(() => undefined);
}

/** A report in an assertion message: enough to tell a real misattribution from CPU preemption. */
const describeReport = (r) =>
  JSON.stringify({ route: r.route, cause: r.cause, durationMs: r.durationMs, victims: r.victims, afterResponse: r.afterResponse, stack: r.stack.slice(0, 5).map((f) => `${f.functionName}@${f.url}:${f.lineNumber}`) });

let victimTurn = 0;
/** Alternate victims between a synchronous route and one in flight across the stall. */
const victimPath = () => (victimTurn++ % 2 === 0 ? 'fast' : 'io');

for (const adapter of ADAPTERS) {
  describe(`${adapter.name}: each blocking pattern is blamed on its route, never on victims`, () => {
    let client, app;
    const reports = [];

    before(async () => {
      app = await adapter.start();
      app.guard.on('stall', (r) => reports.push(r));
      // Captures need the watchdog connected; on a loaded machine that can take a while after start.
      const watching = app.guard.watchdogReady ? undefined : waitFor(app.guard, 'watchdog:ready');
      client = await forkClient();
      await watching;
    });

    after(async () => {
      await client.close();
      await app.close();
      assert.equal(app.guard.isClosed, true, 'closing the app (or the test) closed the guard');
    });

    for (const scenario of [...SCENARIOS, ...adapter.extra]) {
      test(scenario.name, async () => {
        const seen = reports.length;
        const flowing = requestsArrive(app.server, 8);
        await client.startVictims(`${app.url}/${victimPath()}`, 4);
        await flowing;
        const { method = 'GET', jsonBytes, body } = scenario;
        const res = await client.request(app.url + scenario.path, { method, jsonBytes, body });
        assert.equal(res.status, 200, `the blocking route answered normally (${res.text})`);
        const report = await reportFor(app, reports, seen, scenario.route);
        const victims = await client.stopVictims();
        assert.ok(report, `a stall was attributed to ${scenario.route}; got ${JSON.stringify(reports.slice(seen).map((r) => [r.route, r.cause]))}`);
        assert.equal(report.cause, 'request');
        assert.equal(report.method, scenario.method ?? 'GET');
        assert.ok(report.durationMs >= 100, `stall of ${report.durationMs} ms`);
        const matches = scenario.frame ?? ((f) => f.functionName === scenario.fn);
        const frame = report.stack.find(matches);
        assert.ok(frame, `stack names ${scenario.fn ?? 'the blocking code'}: ${report.stack.map((f) => `${f.functionName}@${f.url}`).join(' < ')}`);
        assert.ok(frame.lineNumber >= 1 && frame.url.length > 0);
        assert.ok(victims.sent > 0, 'victim traffic flowed');
        assert.equal(victims.statuses[200], victims.sent, `every victim was answered 200: ${JSON.stringify(victims.statuses)}`);
        for (const r of reports) assert.ok(!['/fast', '/io', '/slow'].includes(r.route), `a victim route was blamed: ${describeReport(r)}`);
      });
    }

    test('victims are counted and their delay lands on their own route; 404s are (unmatched); nothing stays in flight', async () => {
      const seen = reports.length;
      // Victims that answer after 1 s are still in flight when the stall ends, however the timers phase orders things.
      const flowing = requestsArrive(app.server, 4);
      await client.startVictims(`${app.url}/slow`, 4);
      await flowing;
      const res = await client.request(`${app.url}/users/7`);
      assert.equal(res.status, 200);
      const report = await reportFor(app, reports, seen, '/users/:id');
      assert.ok(report, 'the stall was reported');
      await client.stopVictims();
      assert.ok(report.victims >= 1, `victims: ${report.victims}`);
      const missing = await client.request(`${app.url}/no/such/page?token=secret`);
      assert.equal(missing.status, 404);
      const snapshot = app.guard.snapshot();
      const io = snapshot.routes.find((r) => r.route === '/slow');
      assert.ok(io.delayP99Ms >= 100, `victim delay p99 ${io.delayP99Ms} ms`);
      const culprit = snapshot.routes.find((r) => r.route === '/users/:id');
      assert.ok(culprit.delayMeanMs < report.durationMs / 2, `culprit's own delay ${culprit.delayMeanMs} ms vs stall ${report.durationMs} ms`);
      assert.ok(snapshot.routes.some((r) => r.route === '(unmatched)' && r.requests >= 1), JSON.stringify(snapshot.routes.map((r) => r.route)));
      assert.ok(!JSON.stringify(snapshot).includes('secret') && !JSON.stringify(snapshot).includes('/no/such'), 'raw URLs stay out');
      assert.equal(app.guard.snapshot().requestsInFlight, 0);
    });
  });
}
