import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import { Gauge, PROM_CLIENT, register, Registry } from '../helpers/prom-lib.mjs';
import { CATALOGUE, createLoopGuard, InvalidOptionError, loopGuard } from 'loopguard';
import { forkClient } from '../helpers/client.mjs';
import { listen, waitFor } from '../helpers/server.mjs';
import { burnCpu } from '../fixtures/blocking.mjs';
import { parseExposition, promtoolCheck, sumOf } from '../fixtures/prometheus-text.mjs';

describe('every catalogue metric, from cumulative state, with stalls and requests recorded', () => {
  let registry, guard, server, client;

  before(async () => {
    registry = new Registry();
    // precise: true so that request_blocking_seconds has series too.
    const middleware = loopGuard({ thresholdMs: 100, startupGraceMs: 0, precise: true, prometheus: { registry } });
    guard = middleware.guard;
    const app = express();
    app.use(middleware);
    app.get('/fast', (req, res) => res.send('ok'));
    app.get('/users/:id', (req, res) => {
      burnCpu(400);
      res.send(req.params.id);
    });
    server = await listen(app);
    client = await forkClient();
    const stalled = waitFor(guard, 'stall', (r) => r.route === '/users/:id');
    assert.equal((await client.request(`${server.url}/users/42`)).status, 200);
    await stalled;
    for (let i = 0; i < 3; i++) assert.equal((await client.request(`${server.url}/fast`)).status, 200);
  });

  after(async () => {
    await client.close();
    await server.close();
    guard.close();
  });

  test('names, help, type, aggregator, buckets and labels all come from the catalogue', async () => {
    const families = await registry.getMetricsAsJSON();
    assert.equal(families.length, CATALOGUE.length, 'one family per catalogue entry, nothing else');
    for (const def of CATALOGUE) {
      const family = families.find((f) => f.name === `loopguard_${def.name}`);
      assert.ok(family, `loopguard_${def.name} is registered`);
      assert.equal(family.help, def.help);
      assert.equal(family.type, def.type);
      assert.equal(family.aggregator, def.aggregator);
      if (def.unit === 's') assert.match(def.name, /_seconds(_total)?$/, 'unit in the name');
      if (def.type === 'counter') assert.match(def.name, /_total$/);
      for (const sample of family.values) {
        const names = Object.keys(sample.labels).filter((l) => l !== 'le').sort();
        assert.deepEqual(names, [...def.labels].sort(), `${def.name} labels`);
      }
      if (def.type === 'histogram' && family.values.length > 0) {
        const first = JSON.stringify(Object.fromEntries(Object.entries(family.values[0].labels).filter(([k]) => k !== 'le')));
        const les = family.values
          .filter((v) => v.metricName === `${family.name}_bucket` && JSON.stringify(Object.fromEntries(Object.entries(v.labels).filter(([k]) => k !== 'le'))) === first)
          .map((v) => v.labels.le);
        assert.deepEqual(les, [...def.buckets, '+Inf'], `${def.name} buckets`);
      }
    }
    // Buckets span sub-millisecond to tens of seconds.
    const delay = CATALOGUE.find((d) => d.key === 'eventloopDelay');
    assert.ok(delay.buckets[0] < 0.001 && delay.buckets.at(-1) >= 10);
  });

  test('the stall and the requests show up as labelled series', async () => {
    const { samples } = parseExposition(await registry.metrics());
    const culprit = { route: '/users/:id', method: 'GET', cause: 'request' };
    assert.equal(sumOf(samples, 'loopguard_stalls_total', culprit), 1);
    assert.ok(sumOf(samples, 'loopguard_stall_seconds_total', culprit) >= 0.2);
    assert.equal(sumOf(samples, 'loopguard_stall_duration_seconds_count', { cause: 'request' }), 1);
    assert.ok(samples.get('loopguard_stall_duration_seconds_bucket{cause="request",le="0.25"}') === 0, 'a 400 ms stall (measured a heartbeat period shorter at most) is not under 0.25 s');
    assert.equal(samples.get('loopguard_stall_duration_seconds_bucket{cause="request",le="+Inf"}'), 1);
    assert.equal(sumOf(samples, 'loopguard_request_delay_seconds_count', { route: '/fast', method: 'GET' }), 3);
    assert.equal(sumOf(samples, 'loopguard_request_blocking_seconds_count', { route: '/users/:id' }), 1);
    assert.ok(sumOf(samples, 'loopguard_request_blocking_seconds_sum', { route: '/users/:id' }) >= 0.2);
    assert.ok(sumOf(samples, 'loopguard_eventloop_delay_seconds_count') > 0);
    assert.equal(samples.get('loopguard_requests_in_flight'), 0);
    const elu = samples.get('loopguard_eventloop_utilization_ratio{thread="main"}');
    assert.ok(elu >= 0 && elu <= 1, `ELU ${elu}`);
    const blocked = samples.get('loopguard_eventloop_blocked_seconds');
    assert.ok(blocked >= 0 && blocked < 0.1, `the loop turns while we collect (blocked ${blocked} s)`);
  });

  test('collecting does not reset anything: two scrapes in a row agree on every counter and histogram', async () => {
    const a = parseExposition(await registry.metrics()).samples;
    const b = parseExposition(await registry.metrics()).samples;
    for (const [series, value] of a) {
      if (/_total\{|_bucket\{|_count\{|_sum\{/.test(series) && !series.startsWith('loopguard_eventloop_delay')) {
        assert.equal(b.get(series), value, series);
      }
    }
  });

  test('promtool check metrics finds no problem in our exposition', async () => {
    const text = await registry.metrics();
    assert.match(text, /loopguard_stalls_total\{route="\/users\/:id"/);
    const { code, output } = await promtoolCheck(text);
    assert.equal(output, '', 'no lint problems');
    assert.equal(code, 0);
  });

  test('promtool catches a problem when there is one (the check can fail)', async () => {
    const { code, output } = await promtoolCheck('# HELP bad_requests Requests.\n# TYPE bad_requests counter\nbad_requests 1\n');
    assert.notEqual(code, 0);
    assert.match(output, /_total/);
  });

  test('guard.metricsHandler() serves the registry with its content type', async () => {
    const app = express();
    app.get('/metrics', guard.metricsHandler());
    const own = await listen(app);
    try {
      const res = await fetch(`${own.url}/metrics`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), registry.contentType);
      const text = await res.text();
      assert.match(text, /^# HELP loopguard_eventloop_delay_seconds /m);
      assert.match(text, /^loopguard_stalls_total\{route="\/users\/:id",method="GET",cause="request",thread="main"\} 1$/m);
      const head = await fetch(`${own.url}/metrics`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), '');
    } finally {
      await own.close();
    }
  });
});

describe('registries, prefixes and the registration-clash rule', () => {
  test('a second guard on the same registry and prefix throws LOOPGUARD_ALREADY_REGISTERED; one guard serves many mounts', () => {
    const registry = new Registry();
    const guard = createLoopGuard({ prometheus: { registry } });
    try {
      assert.throws(() => createLoopGuard({ prometheus: { registry } }), (err) => {
        assert.equal(err.code, 'LOOPGUARD_ALREADY_REGISTERED');
        assert.match(err.message, /loopguard_eventloop_delay_seconds/);
        assert.match(err.message, /prefix/);
        return true;
      });
      const before = registry.getMetricsAsArray().length;
      const a = loopGuard(guard);
      const b = loopGuard(guard);
      assert.equal(a.guard, guard);
      assert.equal(b.guard, guard);
      assert.equal(registry.getMetricsAsArray().length, before, 'mounting the same guard registers nothing more');
    } finally {
      guard.close();
    }
    assert.equal(registry.getMetricsAsArray().length, 0, 'close() unregisters');
    const next = createLoopGuard({ prometheus: { registry } });
    assert.ok(registry.getSingleMetric('loopguard_stalls_total'));
    next.close();
  });

  test('a prefix gives a second guard its own names on the same registry; close() removes only its own', async () => {
    const registry = new Registry();
    const first = createLoopGuard({ prometheus: { registry } });
    const second = createLoopGuard({ prometheus: { registry, prefix: 'worker_lg_' } });
    try {
      const names = registry.getMetricsAsArray().map((m) => m.name);
      for (const def of CATALOGUE) {
        assert.ok(names.includes(`loopguard_${def.name}`));
        assert.ok(names.includes(`worker_lg_${def.name}`));
      }
      const { code, output } = await promtoolCheck(await registry.metrics());
      assert.equal(output, '');
      assert.equal(code, 0);
      second.close();
      assert.equal(registry.getMetricsAsArray().length, CATALOGUE.length);
      assert.ok(registry.getSingleMetric('loopguard_stalls_total'));
    } finally {
      first.close();
      second.close();
    }
  });

  test(`by default the series go to the loaded client's default registry (${PROM_CLIENT}), so an app's existing /metrics shows them`, () => {
    const guard = createLoopGuard();
    try {
      assert.ok(register.getSingleMetric('loopguard_stalls_total'));
    } finally {
      guard.close();
    }
    assert.equal(register.getSingleMetric('loopguard_stalls_total'), undefined);
  });

  test('a second guard on the default registry starts: it reports the clash once and leaves the first guard\'s series', async () => {
    const first = createLoopGuard({ otel: false });
    const errors = [];
    let second;
    try {
      const series = register.getSingleMetric('loopguard_stalls_total');
      // The zero-code start beside an app's own default loopGuard(): the app's start must not break.
      second = loopGuard({ otel: false, onError: (err) => errors.push(err) });
      assert.equal(errors.length, 1);
      assert.equal(errors[0].code, 'LOOPGUARD_ALREADY_REGISTERED');
      assert.match(errors[0].message, /default Prometheus registry/);
      assert.equal(register.getSingleMetric('loopguard_stalls_total'), series, "the first guard's series stay");
      const handler = second.guard.metricsHandler();
      const server = await listen((req, res) => handler(req, res));
      try {
        assert.match(await (await fetch(server.url)).text(), /loopguard_stalls_total/, 'its handler serves the shared registry');
      } finally {
        await server.close();
      }
      second.guard.close();
      assert.equal(register.getSingleMetric('loopguard_stalls_total'), series, "closing the second leaves the first guard's series");
    } finally {
      second?.guard.close();
      first.close();
    }
    assert.equal(register.getSingleMetric('loopguard_stalls_total'), undefined);
  });

  test('bad prometheus options throw at construction, naming the option', () => {
    assert.throws(() => createLoopGuard({ prometheus: { prefix: 'bad-prefix' } }), (e) => e instanceof InvalidOptionError && e.option === 'prometheus.prefix');
    assert.throws(() => createLoopGuard({ prometheus: { registry: {} } }), (e) => e instanceof InvalidOptionError && e.option === 'prometheus.registry');
    assert.throws(() => createLoopGuard({ prometheus: 'yes' }), (e) => e instanceof InvalidOptionError && e.option === 'prometheus');
  });

  test('metricsHandler() without Prometheus export throws at setup, naming the option', () => {
    const guard = createLoopGuard({ prometheus: false });
    try {
      assert.throws(() => guard.metricsHandler(), (e) => e instanceof InvalidOptionError && e.option === 'prometheus');
    } finally {
      guard.close();
    }
  });

  test('metricsHandler() follows an OpenMetrics registry, and a failing collector gives a 500, reported once, never a crash', async () => {
    const registry = new Registry(Registry.OPENMETRICS_CONTENT_TYPE);
    const errors = [];
    const guard = createLoopGuard({ prometheus: { registry }, onError: (e) => errors.push(e) });
    const own = await listen((req, res) => handler(req, res));
    const handler = guard.metricsHandler();
    try {
      const res = await fetch(own.url);
      assert.equal(res.headers.get('content-type'), Registry.OPENMETRICS_CONTENT_TYPE);
      const text = await res.text();
      assert.match(text, /^# TYPE loopguard_stalls counter$/m, 'OpenMetrics names the counter family without _total');
      assert.ok(text.endsWith('# EOF\n'));
      new Gauge({
        name: 'app_broken',
        help: 'A gauge whose collect throws.',
        registers: [registry],
        collect() {
          throw new Error('collector exploded');
        },
      });
      const broken = await fetch(own.url);
      assert.equal(broken.status, 500);
      await fetch(own.url);
      const reported = errors.filter((e) => e.code === 'LOOPGUARD_EXPORT_FAILED');
      assert.equal(reported.length, 1, 'reported once');
      assert.match(reported[0].message, /collector exploded/);
    } finally {
      await own.close();
      guard.close();
    }
  });
});
