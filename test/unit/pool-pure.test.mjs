// The thread-pool probe's pure parts, without timers or a worker: bucketing,
// the shared histogram, and what a tick records while a probe is stuck.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bucketIndex, SharedHistogram, RING_SIZE, ProbeSchedule } from '../../dist/internal.js';

const BOUNDS = [0.0001, 0.001, 0.01, 0.1, 1, 10];

test('bucketIndex: upper bounds are inclusive (Prometheus le), beyond the last is +Inf', () => {
  assert.equal(bucketIndex(BOUNDS, 0), 0);
  assert.equal(bucketIndex(BOUNDS, 0.0001), 0);
  assert.equal(bucketIndex(BOUNDS, 0.00011), 1);
  assert.equal(bucketIndex(BOUNDS, 0.1), 3);
  assert.equal(bucketIndex(BOUNDS, 10), 5);
  assert.equal(bucketIndex(BOUNDS, 11), 6);
});

test('SharedHistogram: a second view on the same buffer reads what the first wrote', () => {
  const writer = new SharedHistogram(BOUNDS);
  const reader = new SharedHistogram(BOUNDS, writer.buffer);
  writer.record(0.00005);
  writer.record(0.05);
  writer.record(0.05);
  writer.record(30);
  assert.equal(reader.count, 4);
  assert.deepEqual(reader.cumulative(), [1, 1, 1, 3, 3, 3, 4]);
  assert.ok(Math.abs(reader.sum - 30.10005) < 1e-9);
  assert.equal(reader.last, 30);
  assert.throws(() => new SharedHistogram([0.1, 1], writer.buffer), RangeError);
});

test('SharedHistogram: samplesSince hands each sample once, and only what the ring still holds', () => {
  const h = new SharedHistogram(BOUNDS);
  h.record(1);
  h.record(2);
  const first = h.samplesSince(0);
  assert.deepEqual(first.values, [1, 2]);
  h.record(3);
  const second = h.samplesSince(first.next);
  assert.deepEqual(second.values, [3]);
  assert.deepEqual(h.samplesSince(second.next).values, []);
  for (let i = 0; i < RING_SIZE + 10; i++) h.record(i);
  const lapped = h.samplesSince(second.next);
  assert.equal(lapped.values.length, RING_SIZE);
  assert.equal(lapped.values.at(-1), RING_SIZE + 9);
  assert.equal(h.count, RING_SIZE + 13);
});

function recordingSink() {
  const recorded = [];
  return { recorded, queuedSince: 0, record: (s) => recorded.push(Math.round(s * 1000)) };
}

test('ProbeSchedule: one probe at a time; a completed probe records its whole wait', () => {
  const sink = recordingSink();
  const probe = new ProbeSchedule(sink);
  assert.equal(probe.tick(1000), true);
  assert.equal(sink.queuedSince, 1000);
  probe.done(1002);
  assert.deepEqual(sink.recorded, [2]);
  assert.equal(sink.queuedSince, 0);
  assert.equal(probe.tick(1500), true);
  probe.done(1500.5);
  assert.deepEqual(sink.recorded, [2, 1]);
});

test('ProbeSchedule: a stuck probe is never joined by another, and its growing wait is recorded at every tick', () => {
  const sink = recordingSink();
  const probe = new ProbeSchedule(sink);
  assert.equal(probe.tick(0 + 1e12), true);
  // The pool does not answer for 1.7 s: ticks every 500 ms send nothing and record the wait so far.
  assert.equal(probe.tick(500 + 1e12), false);
  assert.equal(probe.tick(1000 + 1e12), false);
  assert.equal(probe.tick(1500 + 1e12), false);
  assert.equal(probe.queued, true);
  probe.done(1700 + 1e12);
  assert.deepEqual(sink.recorded, [500, 1000, 1500, 1700]);
  assert.equal(probe.tick(2000 + 1e12), true);
});

test('ProbeSchedule: a probe that could not be submitted leaves nothing queued', () => {
  const sink = recordingSink();
  const probe = new ProbeSchedule(sink);
  probe.tick(1e12);
  probe.forget();
  assert.equal(probe.queued, false);
  assert.equal(sink.queuedSince, 0);
  probe.done(1e12 + 5);
  assert.deepEqual(sink.recorded, []);
});

test('threadPoolSize reads UV_THREADPOOL_SIZE the way libuv does', async () => {
  const { threadPoolSize } = await import('../../dist/internal.js');
  assert.equal(threadPoolSize({}), 4);
  assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: '16' }), 16);
  assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: ' 8threads' }), 8);
  assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: '0' }), 1);
  assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: 'many' }), 1);
  assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: '5000' }), 1024);
});

test('ThreadPoolStats: percentiles over a window that moves when read, not since start', async () => {
  const { ThreadPoolStats } = await import('../../dist/internal.js');
  const stats = new ThreadPoolStats(BOUNDS, 500, {}, 0);
  assert.equal(stats.size, 4);
  assert.deepEqual(stats.probeConfig(), { buffer: stats.histogram.buffer, bounds: BOUNDS, intervalMs: 500 });
  for (let i = 0; i < 100; i++) stats.histogram.record(0.5); // a saturated minute, long ago
  assert.ok(stats.delay(1000).p99Ms > 100);
  for (let i = 0; i < 100; i++) stats.histogram.record(0.0005);
  // Read at 12 s: the window restarts from the read at 1 s, which saw the 0.5 s samples.
  const later = stats.delay(12_000);
  assert.equal(later.samples, 100);
  assert.ok(later.p99Ms <= 1, `p99 ${later.p99Ms}`);
  assert.equal(later.lastMs, 0.5);
  assert.equal(later.queuedForMs, 0);
});

test('WorkerPools: validates the pool and its name, caps the pool label, reads piscina 4 and 5 shapes', async () => {
  const { WorkerPools, MAX_WATCHED_POOLS } = await import('../../dist/internal.js');
  const pools = new WorkerPools();
  assert.throws(() => pools.watch(null, { name: 'a' }), (e) => e instanceof TypeError && e.option === 'pool');
  assert.throws(() => pools.watch({ queueSize: 1 }, { name: 'a' }), (e) => e instanceof TypeError && e.option === 'pool');
  assert.throws(() => pools.watch({ queueSize: 0, maxThreads: 2 }, { name: 'has space' }), (e) => e.option === 'name');
  assert.throws(() => pools.watch({ queueSize: 0, maxThreads: 2 }, {}), (e) => e.option === 'name');
  const v5 = { queueSize: 3, maxThreads: 2, histogram: { waitTime: { p50: 12, p99: 40 } } };
  const unwatch = pools.watch(v5, { name: 'images' });
  assert.throws(() => pools.watch(v5, { name: 'images' }), (e) => e.code === 'LOOPGUARD_POOL_WATCHED');
  pools.watch({ queueSize: 0, maxThreads: 1, waitTime: { p50: NaN, p99: 1 } }, { name: 'v4' });
  const errors = [];
  pools.watch({ get queueSize() { return 0; }, maxThreads: 1, get histogram() { throw new Error('gone'); } }, { name: 'broken' });
  assert.deepEqual(pools.read((e) => errors.push(e)), [
    { name: 'images', queueSize: 3, size: 2, waitP50Ms: 12, waitP99Ms: 40 },
    { name: 'v4', queueSize: 0, size: 1, waitP50Ms: null, waitP99Ms: 1 },
  ]);
  assert.equal(errors[0].code, 'LOOPGUARD_EXPORT_FAILED');
  for (let i = pools.size; i < MAX_WATCHED_POOLS; i++) pools.watch({ queueSize: 0, maxThreads: 1 }, { name: `p${i}` });
  assert.throws(() => pools.watch({ queueSize: 0, maxThreads: 1 }, { name: 'one-more' }), (e) => e.code === 'LOOPGUARD_TOO_MANY_POOLS');
  unwatch();
  pools.watch({ queueSize: 0, maxThreads: 1 }, { name: 'one-more' });
});

test('zero-code start: LOOPGUARD_THREADPOOL_PROBE and LOOPGUARD_THREADPOOL_PROBE_INTERVAL_MS', async () => {
  const { optionsFromEnv } = await import('../../dist/internal.js');
  assert.deepEqual(optionsFromEnv({ LOOPGUARD_THREADPOOL_PROBE: 'off' }).options, { threadPoolProbe: false });
  assert.deepEqual(optionsFromEnv({ LOOPGUARD_THREADPOOL_PROBE: 'on' }).options, {});
  assert.deepEqual(optionsFromEnv({ LOOPGUARD_THREADPOOL_PROBE_INTERVAL_MS: '250' }).options, { threadPoolProbe: { intervalMs: 250 } });
  // A conflicting or bad variable is named in a warning and left out.
  const named = (variable, env) => optionsFromEnv(env).warnings.some((w) => w.includes(variable));
  assert.ok(named('LOOPGUARD_THREADPOOL_PROBE_INTERVAL_MS', { LOOPGUARD_THREADPOOL_PROBE: 'false', LOOPGUARD_THREADPOOL_PROBE_INTERVAL_MS: '250' }));
  assert.deepEqual(optionsFromEnv({ LOOPGUARD_THREADPOOL_PROBE: 'false', LOOPGUARD_THREADPOOL_PROBE_INTERVAL_MS: '250' }).options, { threadPoolProbe: false });
  assert.ok(named('LOOPGUARD_THREADPOOL_PROBE_INTERVAL_MS', { LOOPGUARD_THREADPOOL_PROBE_INTERVAL_MS: '5' }));
});
