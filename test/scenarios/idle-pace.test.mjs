// The heartbeat's idle pace: an idle process wakes a few times a second, and
// a stall that begins after a long quiet spell is still caught while it lasts.
// Real stalls of a real loop: on the suite's retry list (the pure gate is in idle-gate.test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import { Registry } from 'prom-client';
import { loopGuard } from 'loopguard';
import { guardInternals, Heartbeat, SharedState } from '../../dist/internal.js';
import { forkClient } from '../helpers/client.mjs';
import { listen, waitFor } from '../helpers/server.mjs';
import { buildApp } from '../fixtures/express-app.mjs';
import { burnCpu } from '../fixtures/blocking.mjs';

/** A heartbeat whose beats are events, so a test can wait for a pace without sleeping. */
function beatingHeartbeat({ periodMs, idlePeriodMs, quiet }) {
  const shared = new SharedState();
  const beats = new EventEmitter();
  const heartbeat = new Heartbeat(periodMs, shared, { onBeat: (lateMs) => beats.emit('beat', lateMs) }, { periodMs: idlePeriodMs, quiet });
  heartbeat.start();
  // The heartbeat's timer is unref'd, as in an app: something must hold this test's loop open.
  const hold = setInterval(() => {}, 1000);
  const stop = () => {
    heartbeat.stop();
    clearInterval(hold);
  };
  return { heartbeat, shared, beats, stop };
}

test('heartbeat: slows to its idle period when quiet, and wake() brings the busy period back with a fresh staleness clock', async () => {
  let inFlight = 0;
  const { heartbeat, shared, beats, stop } = beatingHeartbeat({ periodMs: 10, idlePeriodMs: 80, quiet: () => inFlight === 0 });
  try {
    await waitFor(beats, 'beat', () => heartbeat.idle, 5000);
    assert.equal(shared.idle, true);
    assert.equal(shared.periodMs, 80, 'the worker reads the idle period');
    // A request arrives: busy pace at once, and the worker's deadline counts from now.
    inFlight = 1;
    heartbeat.wake();
    assert.equal(heartbeat.idle, false);
    assert.equal(shared.idle, false);
    assert.equal(shared.periodMs, 10);
    assert.ok(Math.abs(shared.lastBeatAt - (performance.timeOrigin + performance.now())) < 5, 'rebased to now');
    // With a request in flight it stays busy.
    for (let i = 0; i < 20; i++) await once(beats, 'beat');
    assert.equal(heartbeat.idle, false, 'never idle while a request is in flight');
    inFlight = 0;
    await waitFor(beats, 'beat', () => heartbeat.idle, 5000);
  } finally {
    stop();
  }
});

test('heartbeat: a stall while idle is measured whole, not only its part past the idle beat', async () => {
  const { heartbeat, beats, stop } = beatingHeartbeat({ periodMs: 10, idlePeriodMs: 200, quiet: () => true });
  try {
    await waitFor(beats, 'beat', () => heartbeat.idle, 5000);
    // Just after an idle beat: the next one is due in ~200 ms, the stall lasts 300.
    await once(beats, 'beat');
    const late = once(beats, 'beat');
    burnCpu(300);
    const [lateMs] = await late;
    // Only ~100 ms of it is past the beat's due time; the loop's active time says 300.
    assert.ok(lateMs >= 240, `measured ${lateMs.toFixed(0)} ms of a 300 ms stall`);
    assert.ok(lateMs < 600, `measured ${lateMs.toFixed(0)} ms`);
  } finally {
    stop();
  }
});

test('a stall that begins 10 s into idleness is reported while it lasts, with its route and function', async () => {
  const middleware = loopGuard({ thresholdMs: 100, startupGraceMs: 0, prometheus: { registry: new Registry() } });
  const guard = middleware.guard;
  const watching = once(guard, 'watchdog:ready');
  const app = buildApp(express, middleware);
  // What the pace is while a request is being served.
  app.get('/pace', (req, res) => {
    const { shared } = guardInternals(guard);
    res.json({ idle: shared.idle, periodMs: shared.periodMs });
  });
  const server = await listen(app);
  await watching;
  const client = await forkClient();
  try {
    // One request first, so the guard has seen traffic, then a quiet spell.
    assert.equal((await client.request(`${server.url}/fast`)).status, 200);
    const { shared } = guardInternals(guard);
    const idleBy = Date.now() + 10_000;
    while (!shared.idle && Date.now() < idleBy) await sleep(50);
    assert.equal(shared.idle, true, 'the heartbeat went to its idle pace');
    await sleep(10_000);
    assert.equal(shared.idle, true, 'still idle after 10 s');
    // The first request brings the busy pace back before its own code runs.
    const pace = JSON.parse((await client.request(`${server.url}/pace`)).text);
    assert.deepEqual(pace, { idle: false, periodMs: guard.options.heartbeatMs });
    while (!shared.idle && Date.now() < idleBy + 20_000) await sleep(50);
    assert.equal(shared.idle, true, 'idle again');
    const stalled = waitFor(guard, 'stall', (r) => r.route === '/users/:id', 10_000);
    const res = await client.request(`${server.url}/users/42`);
    assert.equal(res.status, 200);
    const report = await stalled;
    assert.equal(report.cause, 'request');
    assert.ok(report.durationMs >= 200, `stall of ${report.durationMs} ms`);
    assert.ok(report.stack.some((f) => f.functionName === 'burnCpu'), `captured while it lasted: ${JSON.stringify(report.stack.slice(0, 4))}`);
  } finally {
    await client.close();
    await server.close();
    guard.close();
  }
});
