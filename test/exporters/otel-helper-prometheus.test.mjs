import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import express from 'express';
import { Registry } from 'prom-client';
import { CATALOGUE, DEFAULT_PREFIX, loopGuard } from 'loopguard';
import { startOtel } from 'loopguard/otel';
import { burnCpu } from '../fixtures/blocking.mjs';
import { listen, waitFor } from '../helpers/server.mjs';
import { PROMTOOL_BIN } from '../helpers/prometheus.mjs';

/** name → type, from the `# TYPE` lines of an exposition, loopguard's only. */
function families(text) {
  return new Map([...text.matchAll(/^# TYPE (loopguard_\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
}

test('bad helper options throw a TypeError naming the option', () => {
  for (const [options, option] of [
    [{ exporter: 'jaeger' }, 'exporter'],
    [{ exporter: 'prometheus', prometheus: { port: 70000 } }, 'prometheus.port'],
    [{ traces: 'yes' }, 'traces'],
    [{ exportIntervalMs: 0 }, 'exportIntervalMs'],
  ]) {
    assert.throws(() => startOtel(options), (err) => err instanceof TypeError && err.option === option, JSON.stringify(options));
  }
});

test('startOtel({ exporter: "prometheus" }) serves the same metric names and types as prom-client', async () => {
  const otel = startOtel({ exporter: 'prometheus', prometheus: { port: 0 } });
  const { metricsUrl } = await otel.ready;
  assert.match(metricsUrl, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  const registry = new Registry();
  const middleware = loopGuard({ startupGraceMs: 0, prometheus: { registry } });
  const app = express();
  app.use(middleware);
  app.get('/users/:id', (req, res) => res.json({ id: req.params.id }));
  const server = await listen(app);
  try {
    const stalled = waitFor(middleware.guard, 'stall');
    setTimeout(function nightlyJob() {
      burnCpu(150);
    }, 20);
    await stalled;
    assert.equal((await fetch(`${server.url}/users/1`)).status, 200);

    const res = await fetch(metricsUrl);
    assert.equal(res.status, 200);
    const text = await res.text();
    const otelFamilies = families(text);
    const promFamilies = families(await registry.metrics());
    assert.ok(otelFamilies.size >= 8, `OTel families: ${[...otelFamilies.keys()].join(', ')}`);
    for (const [name, type] of otelFamilies) {
      assert.equal(type, promFamilies.get(name), `${name}: ${type} via OTel, ${promFamilies.get(name)} via prom-client`);
    }
    for (const def of CATALOGUE.filter((d) => d.type === 'histogram' && otelFamilies.has(DEFAULT_PREFIX + d.name))) {
      const les = [...new Set([...text.matchAll(new RegExp(`^${DEFAULT_PREFIX}${def.name}_bucket\\{.*le="([^"]+)"`, 'gm'))].map((m) => m[1]))];
      assert.deepEqual(les, [...def.buckets.map(String), '+Inf'], `${def.name} buckets`);
    }
    // The job's stall, counted: as background, or as GC's when a collection (preempted on a loaded
    // machine) covered most of it (seen on Node 24 at load 4): either way a sentinel route, never a path.
    assert.match(text, /^loopguard_stalls_total\{.*http_route="\((background|gc)\)".*\} [1-9]\d*$/m);
    // The exit status and the whole output, not a filter over lines that name our series: a parse error names none.
    const lint = spawnSync(PROMTOOL_BIN, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(lint.error, undefined, 'promtool runs');
    assert.equal(lint.status, 0, `promtool check metrics exited ${lint.status}: ${lint.stdout}${lint.stderr}`);
    assert.equal(`${lint.stdout}${lint.stderr}`.trim(), '', 'promtool has nothing to say about the exposition');

    assert.equal((await fetch(metricsUrl.replace('/metrics', '/other'))).status, 404);
  } finally {
    await server.close();
    middleware.guard.close();
    await otel.shutdown();
  }
});
