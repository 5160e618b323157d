// Pure logic, tested without timers or I/O: attribution, route table, histograms, frames, options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitStall, gcShare, RouteTable, normaliseMethod, Histogram, quantileFromBuckets, normaliseFrames, culpritFrame, formatFrame, resolveOptions } from '../../dist/internal.js';
import { InvalidOptionError } from 'loopguard';

const sample = (at, asyncId, requestId = 0, route = null) => ({
  window: 1,
  at,
  asyncId,
  request: requestId ? { id: requestId, method: 'GET', route } : null,
  stack: [],
});

test('splitStall: no samples is one unattributed segment', () => {
  assert.deepEqual(splitStall(1000, 300, []), [{ startedAt: 1000, durationMs: 300, sample: null, advice: null }]);
});

test('splitStall: samples of one callback are one segment covering the whole stall', () => {
  const segments = splitStall(1000, 300, [sample(1060, 7, 1, '/a'), sample(1110, 7, 1, '/a'), sample(1160, 7, 1, '/a')]);
  assert.equal(segments.length, 1);
  assert.equal(segments[0].durationMs, 300);
  assert.equal(segments[0].sample.request.route, '/a');
});

test('splitStall: back-to-back culprits in one loop turn split the time at the first sample of the second', () => {
  const segments = splitStall(1000, 600, [sample(1060, 3), sample(1160, 3), sample(1320, 9, 2, '/b'), sample(1420, 9, 2, '/b')]);
  assert.equal(segments.length, 2);
  assert.equal(segments[0].sample.request, null);
  assert.deepEqual([segments[0].startedAt, segments[0].durationMs], [1000, 320]);
  assert.deepEqual([segments[1].startedAt, segments[1].durationMs], [1320, 280]);
  assert.equal(segments[1].sample.request.route, '/b');
});

test('splitStall: a different callback sampled only once after the stall is not blamed', () => {
  const segments = splitStall(1000, 400, [sample(1060, 3, 1, '/culprit'), sample(1160, 3, 1, '/culprit'), sample(1390, 12, 5, '/victim')]);
  assert.equal(segments.length, 1);
  assert.equal(segments[0].sample.request.route, '/culprit');
  assert.equal(segments[0].durationMs, 400);
});

test('gcShare: fraction of the interval covered by GC pauses', () => {
  assert.equal(gcShare(0, 100, []), 0);
  assert.equal(gcShare(0, 100, [{ start: 10, end: 70 }]), 0.6);
  assert.equal(gcShare(0, 100, [{ start: -50, end: 200 }]), 1);
  assert.equal(gcShare(0, 100, [{ start: 200, end: 300 }]), 0);
});

test('RouteTable caps distinct templates; sentinels do not count against the cap', () => {
  const table = new RouteTable(2);
  table.stats('/a', 'GET');
  table.stats('/b', 'GET');
  table.stats('(unmatched)', 'GET');
  assert.equal(table.stats('/c', 'GET').route, '(overflow)');
  assert.equal(table.stats('/a', 'POST').route, '/a');
  assert.equal(table.size, 2);
  const routes = new Set([...table.all()].map((s) => s.route));
  assert.deepEqual([...routes].sort(), ['(overflow)', '(unmatched)', '/a', '/b']);
});

test('unusual methods fold into one label value', () => {
  assert.equal(normaliseMethod('GET'), 'GET');
  assert.equal(normaliseMethod('PROPFIND'), '_OTHER');
  const table = new RouteTable(10);
  assert.equal(table.stats('/a', 'PROPFIND'), table.stats('/a', 'MKCOL'));
});

test('Histogram buckets are cumulative with +Inf last, and quantiles interpolate like Prometheus', () => {
  const h = new Histogram([0.1, 0.5, 1]);
  for (const v of [0.05, 0.2, 0.3, 0.7, 5]) h.record(v);
  assert.deepEqual(h.cumulative(), [1, 3, 4, 5]);
  assert.equal(h.count, 5);
  assert.ok(Math.abs(h.sum - 6.25) < 1e-9);
  assert.equal(quantileFromBuckets(0.5, h.bounds, h.counts), 0.1 + 0.4 * ((2.5 - 1) / 2));
  assert.equal(quantileFromBuckets(0.99, h.bounds, h.counts), 1);
  assert.equal(quantileFromBuckets(0.99, h.bounds, new Float64Array(4)), 0);
});

test('frames: file URLs become paths, anonymous functions are named, the app frame is the culprit', () => {
  const frames = normaliseFrames(
    [
      ['pbkdf2Sync', 'node:internal/crypto/pbkdf2', 78, 3],
      ['', 'file:///srv/app/routes/login.js', 10, 1],
    ],
    10,
  );
  assert.deepEqual(frames[0], { functionName: 'pbkdf2Sync', url: 'node:internal/crypto/pbkdf2', lineNumber: 78, columnNumber: 3 });
  assert.deepEqual(frames[1], { functionName: '(anonymous)', url: '/srv/app/routes/login.js', lineNumber: 10, columnNumber: 1 });
  assert.equal(culpritFrame(frames), frames[1]);
  assert.equal(formatFrame(frames[1], '/srv/app'), '(anonymous) (routes/login.js:10)');
  assert.equal(normaliseFrames(frames.map(() => ['f', '', 1, 1]), 1).length, 1);
});

test('options: defaults, derived intervals, frozen', () => {
  const o = resolveOptions();
  assert.equal(o.thresholdMs, 100);
  assert.equal(o.heartbeatMs, 25);
  assert.ok(o.captureAfterMs >= o.heartbeatMs && o.captureAfterMs < o.thresholdMs);
  assert.ok(Object.isFrozen(o));
  assert.equal(resolveOptions({ startupGraceMs: 0 }).startupGraceMs, 0, 'a legitimate 0 is kept');
});

test('options: each bad value throws a TypeError naming the option', () => {
  const cases = [
    [{ thresholdMs: -1 }, 'thresholdMs'],
    [{ thresholdMs: '100' }, 'thresholdMs'],
    [{ thresholdMs: NaN }, 'thresholdMs'],
    [{ maxRoutes: 1.5 }, 'maxRoutes'],
    [{ onStall: 'log' }, 'onStall'],
    [{ captureStacks: 1 }, 'captureStacks'],
    [{ prometheus: { prefix: 'bad-prefix' } }, 'prometheus.prefix'],
    [{ prometheus: { registry: {} } }, 'prometheus.registry'],
    [{ prometheus: [] }, 'prometheus'],
    [{ startupGraceMs: Infinity }, 'startupGraceMs'],
    [{ blameAfterResponseMs: -1 }, 'blameAfterResponseMs'],
    [{ blameAfterResponseMs: '10s' }, 'blameAfterResponseMs'],
    [{ thresholMs: 100 }, 'thresholMs'],
  ];
  for (const [input, name] of cases) {
    assert.throws(
      () => resolveOptions(input),
      (err) => err instanceof TypeError && err instanceof InvalidOptionError && err.code === 'LOOPGUARD_INVALID_OPTION' && err.option === name && err.message.includes(`"${name}"`),
      `bad ${name}`,
    );
  }
  assert.throws(() => resolveOptions(null), TypeError);
});

test('preemption: a thread that waited for a CPU and hardly ran was descheduled, not blocked', async () => {
  const { mostlyPreempted } = await import('../../dist/internal.js');
  const at = (ms, runMs, waitMs) => ({ atMs: ms, onCpuNs: runMs * 1e6, waitingNs: waitMs * 1e6, taskState: 'R', throttledNs: null, nrThrottled: null });
  const start = at(0, 0, 0);
  assert.equal(mostlyPreempted(start, at(100, 2, 95)), true, 'descheduled');
  assert.equal(mostlyPreempted(start, at(100, 25, 75)), false, 'blocking code with its fair share on a loaded machine');
  assert.equal(mostlyPreempted(start, at(100, 98, 1)), false, 'blocking code on an idle machine');
  assert.equal(mostlyPreempted(start, at(100, 0, 0)), false, 'asleep in a native call (Atomics.wait, a slow read)');
  assert.equal(mostlyPreempted(undefined, at(100, 2, 95)), false, 'unknown: capture anyway');
  assert.equal(mostlyPreempted({ ...start, onCpuNs: null, waitingNs: null }, at(100, 2, 95)), false, 'no schedstat (off Linux): capture anyway');
});

test('isGcStall: GC the loop went straight into is GC; GC triggered mid-way by sampled request code is that code\'s cost', async () => {
  const { isGcStall } = await import('../../dist/internal.js');
  const gcFirst = [{ start: 1005, end: 1250 }];
  const gcMidway = [{ start: 1100, end: 1280 }];
  assert.equal(isGcStall(1000, 1300, gcFirst, 30, false), true, 'mostly GC, nothing sampled');
  assert.equal(isGcStall(1000, 1300, gcFirst, 30, true), true, 'straight into GC: the sampled request only ran next');
  assert.equal(isGcStall(1000, 1300, gcMidway, 30, true), false, 'the request allocated its way into GC');
  assert.equal(isGcStall(1000, 1300, gcMidway, 30, false), true);
  assert.equal(isGcStall(1000, 1300, [{ start: 1100, end: 1150 }], 30, false), false, 'GC under half the stall');
});
