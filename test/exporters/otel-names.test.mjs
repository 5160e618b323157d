import { test } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { CATALOGUE, DEFAULT_PREFIX, loopGuard } from 'loopguard';
import { instrumentName } from 'loopguard/otel';
import { burnCpu } from '../fixtures/blocking.mjs';
import { CollectingReader, collectorType } from '../fixtures/otel-helpers.mjs';
import { listen, waitFor } from '../helpers/server.mjs';
import { guardInternals } from '../../dist/internal.js';

// The OpenTelemetry Collector's OTLP → Prometheus name translation with
// suffixes on (the default of its prometheus and prometheusremotewrite
// exporters), per the OTel spec's Prometheus compatibility rules:
// - the name is split into tokens on every character Prometheus does not allow;
// - the unit becomes a word (`s` → `seconds`, `By` → `bytes`, `1` → nothing),
//   `{annotations}` are dropped, `a/b` becomes `a_per_b`; it is appended
//   unless the name already has it as a token;
// - monotonic sums end in `_total`; gauges with unit `1` end in `_ratio`.
const UNIT_WORDS = {
  d: 'days', h: 'hours', min: 'minutes', s: 'seconds', ms: 'milliseconds', us: 'microseconds', ns: 'nanoseconds',
  By: 'bytes', KiBy: 'kibibytes', MiBy: 'mebibytes', GiBy: 'gibibytes', KBy: 'kilobytes', MBy: 'megabytes', GBy: 'gigabytes',
  m: 'meters', V: 'volts', A: 'amperes', J: 'joules', W: 'watts', g: 'grams', Cel: 'celsius', Hz: 'hertz', 1: '', '%': 'percent',
};
const PER_WORDS = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week', mo: 'month', y: 'year' };

function unitWord(unit, words) {
  const u = unit.trim();
  if (u === '' || /[{}]/.test(u)) return '';
  return (words[u] ?? u).replace(/[^a-zA-Z0-9:]/g, '_').replace(/_+/g, '_').replace(/^_|_$/g, '');
}

function collectorPrometheusName({ name, unit, type }) {
  let tokens = name.split(/[^a-zA-Z0-9:]/).filter((t) => t !== '');
  const slash = unit.indexOf('/');
  const main = unitWord(slash === -1 ? unit : unit.slice(0, slash), UNIT_WORDS);
  const perWord = slash === -1 ? '' : unitWord(unit.slice(slash + 1), PER_WORDS);
  const per = perWord === '' ? '' : `per_${perWord}`;
  if (main !== '' && !tokens.includes(main)) tokens.push(main);
  if (per !== '' && !tokens.includes(per)) tokens.push(per);
  if (type === 'monotonic_counter') tokens = [...tokens.filter((t) => t !== 'total'), 'total'];
  if (unit === '1' && type === 'gauge') tokens = [...tokens.filter((t) => t !== 'ratio'), 'ratio'];
  const joined = tokens.join('_');
  return /^[0-9]/.test(joined) ? `_${joined}` : joined;
}

/** The Prometheus type each OTLP metric becomes. */
const PROMETHEUS_TYPE = { monotonic_counter: 'counter', non_monotonic_counter: 'gauge', gauge: 'gauge', histogram: 'histogram' };

test('the translation rule reproduces the documented examples', () => {
  const cases = [
    [{ name: 'http.server.request.duration', unit: 's', type: 'histogram' }, 'http_server_request_duration_seconds'],
    [{ name: 'requests.count', unit: '1', type: 'monotonic_counter' }, 'requests_count_total'],
    [{ name: 'memory.usage', unit: 'By', type: 'gauge' }, 'memory_usage_bytes'],
    [{ name: 'system.cpu.utilization', unit: '1', type: 'gauge' }, 'system_cpu_utilization_ratio'],
    [{ name: 'process.cpu.time', unit: 's', type: 'monotonic_counter' }, 'process_cpu_time_seconds_total'],
    [{ name: 'network.packets', unit: '{packet}', type: 'monotonic_counter' }, 'network_packets_total'],
    [{ name: 'network.io', unit: 'By/s', type: 'gauge' }, 'network_io_bytes_per_second'],
    [{ name: 'queue.seconds', unit: 's', type: 'gauge' }, 'queue_seconds'],
    [{ name: 'db.in_flight', unit: '{request}', type: 'non_monotonic_counter' }, 'db_in_flight'],
  ];
  for (const [metric, expected] of cases) assert.equal(collectorPrometheusName(metric), expected, JSON.stringify(metric));
});

test('every catalogue instrument, as the SDK exports it, translates to its prom-client name', async () => {
  const reader = new CollectingReader();
  const provider = new MeterProvider({ readers: [reader] });
  const middleware = loopGuard({
    startupGraceMs: 0,
    precise: true,
    prometheus: false,
    otel: { meter: provider.getMeter('loopguard') },
    threadPoolProbe: { intervalMs: 10 },
  });
  const guard = middleware.guard;
  const app = express();
  app.use(middleware);
  app.get('/users/:id', (req, res) => res.json({ id: req.params.id }));
  const server = await listen(app);
  try {
    // Data for every instrument (the SDK leaves out instruments without data points).
    const stalled = waitFor(guard, 'stall');
    setTimeout(function nightlyJob() {
      burnCpu(150);
    }, 20);
    await stalled;
    assert.equal((await fetch(`${server.url}/users/1`)).status, 200);
    // Load shedding's cumulative state, as its policy records a 503.
    guardInternals(guard).shedTotals.set('/users/:id\u0000test', { route: '/users/:id', reason: 'test', count: 1 });
    // A watched worker pool, and the thread-pool probe's first sample (from the watchdog thread: no event to wait on).
    guard.watchPool({ queueSize: 0, maxThreads: 2, histogram: { waitTime: { p50: 1, p99: 2 } } }, { name: 'test' });
    while (guard.snapshot().threadPool.delay.samples === 0) await new Promise((resolve) => setTimeout(resolve, 10));

    const metrics = await reader.metrics();
    for (const def of CATALOGUE) {
      const metric = metrics.get(instrumentName(def));
      assert.ok(metric, `${instrumentName(def)} was exported; got ${[...metrics.keys()].join(', ')}`);
      const { name, unit, description } = metric.descriptor;
      assert.equal(unit, def.unit, name);
      assert.equal(description, def.help, name);
      const type = collectorType(metric);
      assert.equal(PROMETHEUS_TYPE[type], def.type, `${name} is a Prometheus ${def.type}`);
      assert.equal(collectorPrometheusName({ name, unit, type }), DEFAULT_PREFIX + def.name);
      if (def.type === 'histogram') {
        assert.deepEqual(metric.dataPoints[0].value.buckets.boundaries, [...def.buckets], `${name} uses the catalogue's buckets`);
      }
    }
    assert.equal(metrics.size, CATALOGUE.length, `only catalogue instruments: ${[...metrics.keys()].join(', ')}`);
  } finally {
    await server.close();
    guard.close();
    await provider.shutdown();
  }
});
