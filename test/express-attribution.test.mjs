import { after, before, describe, test } from 'node:test';
import { once } from 'node:events';
import assert from 'node:assert/strict';
import express from 'express';
import express4 from 'express4';
import { Registry } from 'prom-client';
import { loopGuard } from 'loopguard';
import { forkClient } from './helpers/client.mjs';
import { listen, waitFor } from './helpers/server.mjs';
import { buildApp, inFlightSignals, SCENARIOS } from './fixtures/express-app.mjs';
import { burnCpu, slowFifo } from './fixtures/blocking.mjs';

let victimTurn = 0;
/** Alternate victims between a synchronous route and one in flight across the stall. */
const victimPath = () => (victimTurn++ % 2 === 0 ? 'fast' : 'io');

for (const [version, expressImpl] of [['Express 5', express], ['Express 4', express4]]) {
  describe(`${version}: each blocking pattern is blamed on its route, never on victims`, () => {
    let client, server, guard, fifo;
    const reports = [];

    before(async () => {
      fifo = slowFifo(300);
      const middleware = loopGuard({ thresholdMs: 100, startupGraceMs: 0, prometheus: { registry: new Registry() } });
      guard = middleware.guard;
      guard.on('stall', (r) => reports.push(r));
      const watching = once(guard, 'watchdog:ready');
      server = await listen(buildApp(expressImpl, middleware, { fifo }));
      await watching;
      client = await forkClient();
    });

    after(async () => {
      await client.close();
      await server.close();
      guard.close();
      fifo.cleanup();
    });

    for (const scenario of SCENARIOS) {
      test(scenario.name, async () => {
        const seen = reports.length;
        await client.startVictims(`${server.url}/${victimPath()}`, 4);
        const res = await client.request(server.url + scenario.path, { method: scenario.method ?? 'GET', jsonBytes: scenario.jsonBytes });
        assert.equal(res.status, 200, `the blocking route answered normally (${res.text})`);
        const report = await waitFor(guard, 'stall', (r) => r.route === scenario.route, 10_000).catch(() =>
          reports.slice(seen).find((r) => r.route === scenario.route),
        );
        const victims = await client.stopVictims();
        assert.ok(report, `a stall was attributed to ${scenario.route}; got ${JSON.stringify(reports.slice(seen).map((r) => [r.route, r.cause]))}`);
        assert.equal(report.cause, 'request');
        assert.ok(report.durationMs >= 100, `stall of ${report.durationMs} ms`);
        const matches = scenario.frame ?? ((f) => f.functionName === scenario.fn);
        const frame = report.stack.find(matches);
        assert.ok(frame, `stack names ${scenario.fn ?? 'the blocking code'}: ${report.stack.map((f) => f.functionName).join(' < ')}`);
        assert.ok(frame.lineNumber >= 1 && frame.url.length > 0);
        assert.ok(victims.sent > 0, 'victim traffic flowed');
        for (const r of reports) assert.ok(r.route !== '/fast' && r.route !== '/io', `a victim route was blamed: ${r.route}`);
      });
    }

    test('victims are counted, and their delay is recorded on their own route', async () => {
      const victimsWaiting = waitFor(inFlightSignals, 'io');
      await client.startVictims(`${server.url}/io`, 4);
      await victimsWaiting; // block only once a victim is surely in flight
      const stalled = waitFor(guard, 'stall', (r) => r.route === '/users/:id');
      const res = await client.request(`${server.url}/users/7`);
      assert.equal(res.status, 200);
      const report = await stalled;
      await client.stopVictims();
      assert.ok(report.victims >= 1, `victims: ${report.victims}`);
      const io = guard.snapshot().routes.find((r) => r.route === '/io');
      // Total delay the /io victims waited through: at least half of one stall (a
      // p99 would depend on how many fast /io requests happened to run meanwhile).
      const waitedMs = io.delayMeanMs * io.requests;
      assert.ok(waitedMs >= report.durationMs / 2, `victims waited ${waitedMs} ms in all, stall ${report.durationMs} ms`);
      const culprit = guard.snapshot().routes.find((r) => r.route === '/users/:id');
      // The culprit's own blocking is not delay it suffered.
      assert.ok(culprit.delayMeanMs < report.durationMs / 2, `culprit's own delay ${culprit.delayMeanMs} ms vs stall ${report.durationMs} ms`);
    });
  });
}

test('a stall outside any request is background, with its stack', async () => {
  const middleware = loopGuard({ startupGraceMs: 0, prometheus: false });
  const guard = middleware.guard;
  try {
    await waitFor(guard, 'watchdog:ready'); // holds the loop open; the worker alone does not
    const stalled = waitFor(guard, 'stall', (r) => r.stack.some((f) => f.functionName === 'nightlyCleanupJob'));
    setTimeout(function nightlyCleanupJob() {
      burnCpu(300);
    }, 50);
    const report = await stalled;
    assert.equal(report.route, null);
    assert.equal(report.method, null);
    assert.equal(report.cause, 'background');
    assert.ok(report.stack.some((f) => f.functionName === 'burnCpu'), JSON.stringify(report.stack));
    assert.ok(report.stack.some((f) => f.functionName === 'nightlyCleanupJob'));
    assert.equal(report.stack[0].lineNumber >= 1, true);
  } finally {
    guard.close();
  }
});

test('no stall is reported during the startup grace period', async () => {
  const guard = loopGuard({ startupGraceMs: 60_000, prometheus: false }).guard;
  try {
    const reports = [];
    guard.on('stall', (r) => reports.push(r));
    burnCpu(300);
    await new Promise((resolve) => setTimeout(resolve, 100)); // let the heartbeat turn once
    assert.equal(reports.length, 0);
    assert.equal(guard.snapshot().stallsTotal, 0);
  } finally {
    guard.close();
  }
});
