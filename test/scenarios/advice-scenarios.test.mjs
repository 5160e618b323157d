// Advice on real apps: each blocking pattern, written the way application
// code is, blocks a real Express or Fastify server; the report must name the
// blocking call and its kind. For a plain CPU loop: cpu or nothing, never an API.
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
import { ADVICE_SCENARIOS, buildExpressAdviceApp, buildFastifyAdviceApp, cacheCatalogue } from '../fixtures/advice-app.mjs';
import { slowFifo } from '../fixtures/blocking.mjs';

const guardOptions = () => ({ thresholdMs: 100, startupGraceMs: 0, prometheus: { registry: new Registry() }, otel: false });

const FRAMEWORKS = [
  {
    name: 'Express',
    async start(fifo) {
      const middleware = loopGuard(guardOptions());
      const watching = once(middleware.guard, 'watchdog:ready');
      const server = await listen(buildExpressAdviceApp(express, middleware, { fifo }));
      await watching;
      return { url: server.url, guard: middleware.guard, close: async () => (await server.close(), middleware.guard.close()) };
    },
  },
  {
    name: 'Fastify',
    async start(fifo) {
      const app = buildFastifyAdviceApp(Fastify, fastifyLoopGuard, guardOptions(), { fifo });
      await app.ready();
      const watching = app.loopGuard.watchdogReady ? Promise.resolve() : once(app.loopGuard, 'watchdog:ready');
      await app.listen({ port: 0, host: '127.0.0.1' });
      await watching;
      return { url: `http://127.0.0.1:${app.server.address().port}`, guard: app.loopGuard, close: () => app.close() };
    },
  },
];

before(() => cacheCatalogue());

for (const framework of FRAMEWORKS) {
  describe(`${framework.name}: every stall says what blocked and what to do`, () => {
    let client, app, fifo;
    const reports = [];

    before(async () => {
      fifo = slowFifo(300);
      app = await framework.start(fifo);
      app.guard.on('stall', (r) => reports.push(r));
      client = await forkClient();
      // The first JSON body loads the parser's modules (iconv-lite's codecs): a real service paid that long ago.
      await client.request(`${app.url}/api/ingest/warm-up`, { method: 'POST', jsonBytes: 1024 });
    });

    after(async () => {
      await client.close();
      await app.close();
      fifo.cleanup();
    });

    for (const scenario of ADVICE_SCENARIOS) {
      test(scenario.name, async () => {
        const seen = reports.length;
        // One try: a stall the collector mostly spent in GC (a big body allocates a lot) is gc's and fails
        // here; the suite runner's one retry of this file, printed as FLAKY, is the only second chance.
        const stalled = waitFor(app.guard, 'stall', (r) => r.route === scenario.route, 15_000);
        const res = await client.request(app.url + scenario.path, { method: scenario.method ?? 'GET', jsonBytes: scenario.jsonBytes });
        assert.equal(res.status, 200, `the blocking route answered normally (${res.text})`);
        const report = await stalled.catch(() => reports.slice(seen).find((r) => r.route === scenario.route));
        const seenHere = () => JSON.stringify(reports.slice(seen).map((r) => [r.route, r.cause, r.advice?.call, r.stack.slice(0, 4).map((f) => `${f.functionName}:${f.lineNumber}`)]));
        assert.ok(report, `a stall was attributed to ${scenario.route}; got ${seenHere()}`);
        assert.equal(report.cause, 'request');
        const { advice } = report;
        if (scenario.kind === 'cpu') {
          // A plain loop: cpu, or nothing when the pause was late; never an API it did not call.
          assert.ok(advice === null || (advice.kind === 'cpu' && advice.call === null), `cpu loop advice: ${JSON.stringify(advice)}; ${seenHere()}`);
          return;
        }
        assert.ok(advice, `advice for ${scenario.name}; stack ${seenHere()}`);
        assert.equal(advice.call, scenario.call, seenHere());
        assert.equal(advice.kind, scenario.kind);
        assert.ok(advice.fix.length > 20, advice.fix);
        assert.match(advice.docs, new RegExp(`#advice-${scenario.kind}$`));
        // Reports stay JSON: the advice survives a round trip unchanged.
        assert.deepEqual(JSON.parse(JSON.stringify(report)).advice, advice);
      });
    }

    test('the snapshot keeps the latest advice per culprit route', () => {
      const culprits = app.guard.snapshot().culprits;
      const login = culprits.find((c) => c.route === '/login');
      assert.equal(login?.advice?.call, 'crypto.pbkdf2Sync', JSON.stringify(culprits.map((c) => [c.route, c.advice?.call])));
    });
  });
}
