// The thread-pool probe and a watched worker pool through both exporters: a
// real prom-client registry (promtool accepts the exposition) and the real
// OpenTelemetry SDK, which must carry the same probe samples, one for one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import { createLoopGuard } from 'loopguard';
import { CollectingReader, pointWith } from '../fixtures/otel-helpers.mjs';
import { parseExposition, promtoolCheck, sumOf } from '../fixtures/prometheus-text.mjs';
import { threadPoolSize } from '../../dist/internal.js';

/** 4 unless the environment running the tests sets UV_THREADPOOL_SIZE. */
const SIZE = threadPoolSize();

const pool = { queueSize: 3, maxThreads: 2, histogram: { waitTime: { p50: 12, p99: 480 } } };

/** The probe runs on the watchdog thread: there is no event for its samples, so look until there are enough. */
async function probeSamples(guard, atLeast) {
  while (guard.snapshot().threadPool.delay.samples < atLeast) await new Promise((resolve) => setTimeout(resolve, 10));
}

test('Prometheus: probe histogram, pool size and the watched pool, an exposition promtool accepts', async () => {
  const registry = new Registry();
  const guard = createLoopGuard({ prometheus: { registry }, otel: false, threadPoolProbe: { intervalMs: 10 } });
  try {
    guard.watchPool(pool, { name: 'resize' });
    await probeSamples(guard, 5);
    const text = await registry.metrics();
    const { samples, types } = parseExposition(text);
    assert.equal(types.get('loopguard_threadpool_delay_seconds'), 'histogram');
    assert.ok(sumOf(samples, 'loopguard_threadpool_delay_seconds_count') >= 5);
    // An idle pool answers a one-byte randomFill within 10 s, whatever the machine.
    assert.equal(sumOf(samples, 'loopguard_threadpool_delay_seconds_bucket', { le: '10' }), sumOf(samples, 'loopguard_threadpool_delay_seconds_count'));
    assert.equal(sumOf(samples, 'loopguard_threadpool_size'), SIZE);
    assert.equal(sumOf(samples, 'loopguard_worker_pool_queue_size', { pool: 'resize' }), 3);
    assert.equal(sumOf(samples, 'loopguard_worker_pool_size', { pool: 'resize' }), 2);
    assert.equal(sumOf(samples, 'loopguard_worker_pool_wait_seconds', { pool: 'resize', percentile: '99' }), 0.48);
    const lint = await promtoolCheck(text);
    assert.equal(lint.code, 0, lint.output);
  } finally {
    guard.close();
  }
});

test('OpenTelemetry: the same probe samples as Prometheus, each once, and the pool gauges with loopguard.pool', async () => {
  const reader = new CollectingReader();
  const provider = new MeterProvider({ readers: [reader] });
  const registry = new Registry();
  const guard = createLoopGuard({ prometheus: { registry }, otel: { meter: provider.getMeter('loopguard') }, threadPoolProbe: { intervalMs: 10 } });
  try {
    guard.watchPool(pool, { name: 'resize' });
    await probeSamples(guard, 5);
    const first = (await reader.metrics()).get('loopguard.threadpool.delay').dataPoints[0].value.count;
    await probeSamples(guard, first + 5);
    // Collected back to back: at most the one sample that landed in between.
    const otel = await reader.metrics();
    const prom = sumOf(parseExposition(await registry.metrics()).samples, 'loopguard_threadpool_delay_seconds_count');
    const count = otel.get('loopguard.threadpool.delay').dataPoints[0].value.count;
    assert.ok(count >= first + 5 && prom - count <= 1 && prom >= count, `OTel ${count} samples, Prometheus ${prom}`);
    assert.equal(pointWith(otel.get('loopguard.worker_pool.queue_size'), { 'loopguard.pool': 'resize' }).value, 3);
    assert.equal(pointWith(otel.get('loopguard.worker_pool.wait'), { 'loopguard.pool': 'resize', 'loopguard.percentile': '50' }).value, 0.012);
    assert.equal(otel.get('loopguard.threadpool.size').dataPoints[0].value, SIZE);
  } finally {
    guard.close();
    await provider.shutdown();
  }
});

test('threadPoolProbe: false exports the pool size but no probe histogram, and starts no worker for it', async () => {
  const registry = new Registry();
  // Nothing else that needs the worker either (stack capture, busy-time sampling).
  const guard = createLoopGuard({ prometheus: { registry }, otel: false, captureStacks: false, busySampleHz: 0, threadPoolProbe: false });
  try {
    const { samples, types } = parseExposition(await registry.metrics());
    assert.equal(types.get('loopguard_threadpool_delay_seconds'), 'histogram');
    assert.equal(sumOf(samples, 'loopguard_threadpool_delay_seconds_count'), 0);
    assert.equal(sumOf(samples, 'loopguard_threadpool_size'), SIZE);
    assert.equal(guard.snapshot().threadPool.delay, null);
    assert.equal(guard.watchdogRunning, false);
  } finally {
    guard.close();
  }
});

test('threadPoolProbe is validated at construction, naming the option', () => {
  for (const bad of [{ intervalMs: 5 }, { intervalMs: 1.5 }, { intervalMs: '1000' }, { every: 10 }, null, 'on']) {
    assert.throws(() => createLoopGuard({ threadPoolProbe: bad, prometheus: false, otel: false }), (e) => e instanceof TypeError && /^threadPoolProbe/.test(e.option), JSON.stringify(bad));
  }
  const guard = createLoopGuard({ threadPoolProbe: true, prometheus: false, otel: false, captureStacks: false });
  assert.deepEqual(guard.options.threadPoolProbe, { intervalMs: 1000 });
  guard.close();
});
