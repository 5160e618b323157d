// First: the tracer provider and the http/express instrumentations must be in
// place before express is loaded.
import { ended, express, provider, spans } from '../fixtures/otel-tracing.mjs';
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { SpanKind } from '@opentelemetry/api';
import { loopGuard } from 'loopguard';
import { DELAYED_EVENT, STALL_EVENT } from 'loopguard/otel';
import { buildVictimApp } from '../fixtures/otel-app.mjs';
import { forkClient } from '../helpers/client.mjs';
import { listen, waitFor } from '../helpers/server.mjs';

const hrMs = ([s, ns]) => s * 1000 + ns / 1e6;
const isServerSpan = (route) => (s) => s.kind === SpanKind.SERVER && s.attributes['http.route'] === route;

/** The ended server span of `route`: already exported, or the next one to end. */
function serverSpan(route) {
  const found = spans.getFinishedSpans().find(isServerSpan(route));
  return found ? Promise.resolve(found) : waitFor(ended, 'end', isServerSpan(route));
}

let client;
before(async () => {
  client = await forkClient();
});
after(async () => {
  await client.close();
  await provider.shutdown();
});
afterEach(() => spans.reset());

/** Blocks /users/:id while /io victims are in flight; returns the culprit's report and every report seen. */
async function blockWithVictims(guard, url) {
  const reports = [];
  const onStall = (r) => reports.push(r);
  guard.on('stall', onStall);
  await client.startVictims(`${url}/io`, 4);
  const stalled = waitFor(guard, 'stall', (r) => r.route === '/users/:id');
  const res = await client.request(`${url}/users/42`);
  assert.equal(res.status, 200);
  const report = await stalled;
  const victims = await client.stopVictims();
  guard.off('stall', onStall);
  assert.ok(victims.sent > 0, 'victim traffic flowed');
  assert.ok(report.victims >= 2, `victims in flight: ${report.victims}`);
  return { report, reports };
}

describe('stall events on request spans (real http + express instrumentation)', () => {
  let server, guard;
  before(async () => {
    const middleware = loopGuard({ thresholdMs: 100, startupGraceMs: 0, prometheus: false });
    guard = middleware.guard;
    const watching = once(guard, 'watchdog:ready');
    server = await listen(buildVictimApp(express, middleware));
    await watching;
  });
  after(async () => {
    await server.close();
    guard.close();
  });

  test("the culprit's server span gets loopguard.stall with the duration and the blocking frame", async () => {
    const { report } = await blockWithVictims(guard, server.url);
    const span = await serverSpan('/users/:id');
    const event = span.events.find((e) => e.name === STALL_EVENT);
    assert.ok(event, `events on the culprit span: ${span.events.map((e) => e.name).join(', ') || 'none'}`);
    assert.equal(event.attributes['loopguard.stall.id'], report.id);
    assert.equal(event.attributes['loopguard.stall.duration_ms'], report.durationMs);
    assert.ok(report.durationMs >= 100);
    assert.equal(event.attributes['code.function.name'], 'burnCpu');
    assert.match(event.attributes['code.file.path'], /blocking\.mjs$/);
    assert.ok(event.attributes['code.line.number'] >= 1);
    assert.match(event.attributes['code.stacktrace'], /^burnCpu \(.*blocking\.mjs:\d+\)$/m);
    // What to do about it, as the report says it (a CPU loop: cpu advice, or none after a late pause).
    assert.equal(event.attributes['loopguard.stall.cause'], 'request');
    assert.equal(event.attributes['loopguard.advice.kind'], report.advice?.kind);
    assert.equal(event.attributes['loopguard.advice.fix'], report.advice?.fix);
    assert.equal(event.attributes['loopguard.advice.call'], undefined, 'a CPU loop names no API');
    assert.ok(Math.abs(hrMs(event.time) - report.startedAt) < 1, 'the event sits where the stall began');
    // The span's end was held back until the report, not moved: it ended
    // when the response did, inside the stall, before the heartbeat could turn.
    const endMs = hrMs(span.endTime);
    assert.ok(endMs <= report.startedAt + report.durationMs + 1, `span ended ${endMs - report.startedAt} ms into a ${report.durationMs} ms stall`);
    assert.ok(endMs > hrMs(event.time), 'the span ends after the stall began');
  });

  test("victims' spans never carry the stall; the ones that waited say how long", async () => {
    const { report, reports } = await blockWithVictims(guard, server.url);
    await serverSpan('/users/:id');
    const victims = spans.getFinishedSpans().filter(isServerSpan('/io'));
    assert.ok(victims.length > 0, 'victim spans were exported');
    // A span carries a stall only if the report blamed that span's own request
    // (victims' spans never carry the culprit's stall).
    for (const span of spans.getFinishedSpans()) {
      for (const event of span.events.filter((e) => e.name === STALL_EVENT)) {
        const blamed = reports.find((r) => r.id === event.attributes['loopguard.stall.id']);
        assert.equal(blamed?.route, span.attributes['http.route'], `stall ${event.attributes['loopguard.stall.id']} is on the span of its culprit`);
      }
    }
    const delayed = victims.flatMap((s) => s.events.filter((e) => e.name === DELAYED_EVENT));
    assert.ok(delayed.length > 0, `some victim waited ≥ 100 ms and says so (${victims.length} victim spans)`);
    for (const e of delayed) {
      assert.ok(e.attributes['loopguard.delay_ms'] >= 100 && e.attributes['loopguard.delay_ms'] <= report.durationMs * 1.5 + 50, JSON.stringify(e.attributes));
    }
    assert.ok(!spans.getFinishedSpans().some((s) => s.name.startsWith('loopguard')), 'loopguard creates no spans');
  });
});

test('otel: { traces: false } leaves spans alone', async () => {
  const middleware = loopGuard({ thresholdMs: 100, startupGraceMs: 0, prometheus: false, otel: { traces: false } });
  const watching = once(middleware.guard, 'watchdog:ready');
  const server = await listen(buildVictimApp(express, middleware, { victimsBeforeBlock: 0 }));
  await watching;
  try {
    const seen = [];
    middleware.guard.on('stall', (r) => seen.push([r.route, r.cause, r.durationMs]));
    const stalled = waitFor(middleware.guard, 'stall', (r) => r.route === '/users/:id');
    assert.equal((await client.request(`${server.url}/users/42`)).status, 200);
    await stalled.catch((err) => assert.fail(`${err.message}; stalls seen: ${JSON.stringify(seen)}`));
    const span = await serverSpan('/users/:id');
    assert.deepEqual(span.events.filter((e) => e.name.startsWith('loopguard.')), []);
  } finally {
    await server.close();
    middleware.guard.close();
  }
});
