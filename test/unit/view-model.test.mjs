// The live page's pure parts: how file paths are shown, the per-second
// history built from histogram deltas, and the JSON the page reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { displayPath, LoopHistory, toViewSnapshot, Histogram, DELAY_BUCKETS_SECONDS } from '../../dist/internal.js';
import { eventually } from '../helpers/prometheus.mjs';

test('displayPath: app files relative to the root, nothing else of the filesystem', () => {
  const root = '/srv/shop';
  assert.equal(displayPath('/srv/shop/src/routes/login.js', root), 'src/routes/login.js');
  assert.equal(displayPath('/srv/shop/node_modules/express/lib/router.js', root), 'node_modules/express/lib/router.js');
  assert.equal(displayPath('/usr/lib/node_modules/pm2/lib/ProcessContainer.js', root), 'node_modules/pm2/lib/ProcessContainer.js');
  assert.equal(displayPath('/home/alice/secret-project/tool.js', root), '…/tool.js');
  assert.equal(displayPath('/srv/shop-old/app.js', root), '…/app.js', 'a sibling with the same prefix is outside the root');
  assert.equal(displayPath('node:internal/crypto/pbkdf2', root), 'node:internal/crypto/pbkdf2');
  assert.equal(displayPath('', root), '');
  assert.equal(displayPath('https://cdn.example.com/build/app.js?v=3', root), 'https://…/app.js');
  assert.equal(displayPath('evalmachine.<anonymous>', root), 'evalmachine.<anonymous>');
});

/** A guard-shaped source whose cumulative state the test moves by hand. */
function fakeSource() {
  return { delayHistogram: new Histogram(DELAY_BUCKETS_SECONDS), loop: { utilization: 0 }, stalls: { total: 0 }, isClosed: false };
}

test('LoopHistory: each point is that second alone, from histogram deltas', () => {
  const source = fakeSource();
  const history = new LoopHistory(source, 3);
  for (let i = 0; i < 50; i++) source.delayHistogram.record(0.0004);
  source.loop.utilization = 0.25;
  const quiet = history.sample(1000);
  assert.ok(quiet.p99Ms <= 0.5, `quiet second p99 ${quiet.p99Ms}`);
  assert.equal(quiet.elu, 0.25);
  assert.equal(quiet.stalls, 0);

  for (let i = 0; i < 40; i++) source.delayHistogram.record(0.0004);
  source.delayHistogram.record(1.2); // one 1.2 s stall, in the (1 s, 2.5 s] bucket
  source.stalls.total = 1;
  const stalled = history.sample(2000);
  assert.equal(stalled.stalls, 1);
  // The bucket estimate alone would say ~2.4 s; no sample can exceed the interval's sum (≈1.216 s).
  assert.ok(stalled.p99Ms > 1000 && stalled.p99Ms <= 1217, `p99 ${stalled.p99Ms} ms`);

  for (let i = 0; i < 50; i++) source.delayHistogram.record(0.0004);
  const after = history.sample(3000);
  assert.ok(after.p99Ms <= 0.5, 'the stall does not smear into the next second');
  assert.equal(after.stalls, 0);

  history.sample(4000);
  assert.deepEqual(history.all().map((p) => p.t), [2000, 3000, 4000], 'a ring of the newest points');
  const window = history.window();
  assert.equal(window.seconds, 4);
  // 141 samples, one of them 1.2 s: the p99 is a quiet sample, the mean carries the stall.
  assert.ok(window.p99Ms <= 0.5, `window p99 ${window.p99Ms}`);
  assert.ok(Math.abs(window.meanMs - (1200 + 140 * 0.4) / 141) < 0.1, `window mean ${window.meanMs}`);
});

test('LoopHistory samples once a second while the guard is open, and stops once it is closed', async () => {
  // Side by side on the same period: once the open history has sampled twice, the
  // closed one's timer has fired too (timers run in order of expiry).
  const openSource = fakeSource();
  const closedSource = fakeSource();
  closedSource.isClosed = true;
  const open = new LoopHistory(openSource, 10).start();
  const closed = new LoopHistory(closedSource, 10).start();
  try {
    await eventually(() => open.all().length >= 2, { timeoutMs: 20_000, everyMs: 50 });
    assert.equal(closed.all().length, 0, 'a closed guard is not sampled');
    assert.ok(open.all()[1].t > open.all()[0].t, 'one point per period');
  } finally {
    open.stop();
    closed.stop();
  }
});

test('toViewSnapshot: newest stall first, frames with app-relative files, top frame formatted', () => {
  const frame = (fn, url, line) => ({ functionName: fn, url, lineNumber: line, columnNumber: 3 });
  const stack = [frame('pbkdf2Sync', 'node:internal/crypto/pbkdf2', 60), frame('hashPassword', '/srv/shop/src/auth.js', 12), frame('handle', '/srv/shop/node_modules/router/lib/layer.js', 9)];
  const snapshot = {
    at: 5000,
    thresholdMs: 100,
    watchdogRunning: true,
    eventLoop: { delay: { minMs: 0, meanMs: 1, p50Ms: 1, p90Ms: 2, p99Ms: 150, maxMs: 300 }, utilization: 0.5, blockedMs: 0 },
    requestsInFlight: 2,
    stallsTotal: 2,
    culprits: [{ route: '/login', method: 'POST', cause: 'request', stalls: 2, blockedSeconds: 0.4, topFrame: stack[1], lastStallAt: 4000 }],
    routes: [{ route: '/health', method: 'GET', requests: 9, delayP99Ms: 180, delayMeanMs: 20 }],
    recentStalls: [
      { id: 1, startedAt: 3000, durationMs: 180, route: '/login', method: 'POST', cause: 'request', stack, victims: 3 },
      { id: 2, startedAt: 4000, durationMs: 220, route: '/login', method: 'POST', cause: 'request', stack, victims: 1 },
    ],
  };
  const view = toViewSnapshot(snapshot, [], { seconds: 0, p99Ms: 0, meanMs: 0 }, '/srv/shop');
  assert.deepEqual(view.recentStalls.map((s) => s.id), [2, 1]);
  assert.equal(view.culprits[0].topFrame, 'hashPassword (src/auth.js:12)');
  assert.deepEqual(view.recentStalls[0].stack.map((f) => [f.fn, f.file, f.app]), [
    ['pbkdf2Sync', 'node:internal/crypto/pbkdf2', false],
    ['hashPassword', 'src/auth.js', true],
    ['handle', 'node_modules/router/lib/layer.js', false],
  ]);
  assert.ok(!JSON.stringify(view).includes('/srv/shop/'), 'no absolute path left');
  assert.equal(snapshot.recentStalls[0].id, 1, 'the guard snapshot is not reordered in place');
});
