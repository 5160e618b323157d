// StallStats on hand-made reports: the totals per (route, method, cause) that
// the exporters read, the duration histogram per cause, and the ring of
// recent reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StallStats } from '../../dist/internal.js';

const appFrame = { functionName: 'hashPassword', url: 'file:///srv/app/routes/login.js', lineNumber: 12, columnNumber: 3 };
const libFrame = { functionName: 'pbkdf2Sync', url: 'node:internal/crypto/pbkdf2', lineNumber: 60, columnNumber: 1 };
const advice = { call: 'crypto.pbkdf2Sync', kind: 'crypto', fix: 'Use crypto.pbkdf2.', docs: 'x' };

let nextId = 1;
function report(fields = {}) {
  return { id: nextId++, startedAt: 1_000, durationMs: 250, route: '/login', method: 'POST', cause: 'request', stack: [], victims: 0, advice: null, afterResponse: false, ...fields };
}

const counters = (stats) => [...stats.all()].map(({ route, method, cause, count, seconds }) => ({ route, method, cause, count, seconds }));

test('one counter per route label, method and cause; seconds add up; the method is normalised', () => {
  const stats = new StallStats(10);
  stats.record(report({ durationMs: 250 }), '/login');
  stats.record(report({ durationMs: 500 }), '/login');
  stats.record(report({ durationMs: 100, method: 'GET' }), '/login');
  stats.record(report({ durationMs: 100, cause: 'expected' }), '/login');
  stats.record(report({ durationMs: 300, method: 'BREW' }), '/login');
  stats.record(report({ durationMs: 300, method: 'PROPFIND-X' }), '/login');
  stats.record(report({ durationMs: 200, route: null, method: null, cause: 'background' }), '(background)');
  assert.deepEqual(counters(stats), [
    { route: '/login', method: 'POST', cause: 'request', count: 2, seconds: 0.75 },
    { route: '/login', method: 'GET', cause: 'request', count: 1, seconds: 0.1 },
    { route: '/login', method: 'POST', cause: 'expected', count: 1, seconds: 0.1 },
    { route: '/login', method: '_OTHER', cause: 'request', count: 2, seconds: 0.6 },
    { route: '(background)', method: '', cause: 'background', count: 1, seconds: 0.2 },
  ]);
  assert.equal(stats.total, 7);
});

test('the route label is the one given, not the report\'s route: the cap and sentinels are the caller\'s', () => {
  const stats = new StallStats(10);
  stats.record(report({ route: '/users/:id' }), '(other)');
  assert.deepEqual(counters(stats).map((c) => c.route), ['(other)']);
});

test('each cause has its own duration histogram, in seconds', () => {
  const stats = new StallStats(10);
  stats.record(report({ durationMs: 250 }), '/login');
  stats.record(report({ durationMs: 1500, cause: 'gc' }), '(gc)');
  assert.equal(stats.durations.request.count, 1);
  assert.equal(stats.durations.request.sum, 0.25);
  assert.equal(stats.durations.gc.sum, 1.5);
  assert.equal(stats.durations.background.count, 0);
  assert.equal(stats.durations.expected.count, 0);
});

test('the latest stall sets the top frame (app code first) and time; an uncaptured one keeps the last frame and advice', () => {
  const stats = new StallStats(10);
  stats.record(report({ startedAt: 5_000, stack: [libFrame, appFrame], advice }), '/login');
  let [c] = stats.all();
  assert.deepEqual(c.topFrame, appFrame, 'the app frame under the node: one');
  assert.deepEqual(c.advice, advice);
  assert.equal(c.lastAt, 5_000);
  stats.record(report({ startedAt: 9_000, stack: [], advice: null }), '/login');
  [c] = stats.all();
  assert.deepEqual(c.topFrame, appFrame);
  assert.deepEqual(c.advice, advice);
  assert.equal(c.lastAt, 9_000);
  stats.record(report({ stack: [libFrame] }), '/login');
  [c] = stats.all();
  assert.deepEqual(c.topFrame, libFrame, 'no app frame: the top one');
});

test('stalls from work left behind after the response are counted apart, within the total', () => {
  const stats = new StallStats(10);
  stats.record(report({ afterResponse: true }), '/login');
  stats.record(report(), '/login');
  const [c] = stats.all();
  assert.equal(c.count, 2);
  assert.equal(c.afterResponse, 1);
});

test('recent reports: the newest `keepRecent`, oldest first; none kept when it is 0', () => {
  const stats = new StallStats(3);
  const reports = Array.from({ length: 5 }, () => report());
  for (const r of reports) stats.record(r, '/login');
  assert.deepEqual(stats.recent(), reports.slice(2));
  const none = new StallStats(0);
  none.record(report(), '/login');
  assert.deepEqual(none.recent(), []);
  assert.equal(none.total, 1, 'counted all the same');
});
