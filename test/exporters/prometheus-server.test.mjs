import { test } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import { Registry } from '../helpers/prom-lib.mjs';
import { loopGuard } from 'loopguard';
import { forkClient } from '../helpers/client.mjs';
import { listen, waitFor } from '../helpers/server.mjs';
import { eventually, startPrometheus } from '../helpers/prometheus.mjs';
import { burnCpu } from '../fixtures/blocking.mjs';

test('a real Prometheus keeps up == 1 on the worker-served endpoint through a 3 s stall, and records it; the main-thread handler fails those scrapes', async (t) => {
  const registry = new Registry();
  const middleware = loopGuard({ thresholdMs: 100, startupGraceMs: 0, prometheus: { registry }, metricsServer: { port: 0 } });
  const { guard } = middleware;
  t.after(() => guard.close());
  const listening = waitFor(guard, 'metrics:listening');
  const app = express();
  app.use(middleware);
  app.get('/block', (req, res) => {
    burnCpu(Number(req.query.ms));
    res.send('done');
  });
  // The same registry, served the usual way from the app's own router, for contrast.
  app.get('/metrics', guard.metricsHandler());
  const server = await listen(app);
  t.after(() => server.close());
  const { url: metricsUrl } = await listening;
  const workerTarget = new URL(metricsUrl).host;
  const appTarget = new URL(server.url).host;

  const prom = await startPrometheus({ targets: [workerTarget, appTarget], scrapeIntervalS: 1, scrapeTimeoutMs: 500 });
  t.after(() => prom.stop());
  const client = await forkClient();
  t.after(() => client.close());

  // Both targets healthy for a few scrapes first.
  await eventually(async () => {
    const result = await prom.query('min_over_time(up[1m]) and count_over_time(up[1m]) >= 3');
    return result.length === 2 && result.every((r) => r.value[1] === '1');
  });

  const stalled = waitFor(guard, 'stall', (r) => r.route === '/block' && r.durationMs >= 2500);
  const startS = Date.now() / 1000;
  assert.equal((await client.request(`${server.url}/block?ms=3000`)).status, 200);
  const report = await stalled;
  const endS = Date.now() / 1000;
  // Prometheus's own state: wait until it has scraped the worker endpoint past the stall.
  await eventually(async () => {
    const result = await prom.query(`timestamp(up{instance="${workerTarget}"})`);
    return result.length === 1 && Number(result[0].value[1]) > endS + 1;
  });

  const at = endS + 1;
  const window = `${Math.ceil(endS - startS) + 2}s`;
  const at1 = async (expr) => {
    const body = await prom.get(`/api/v1/query?query=${encodeURIComponent(expr)}&time=${at}`);
    assert.equal(body.status, 'success', expr);
    assert.equal(body.data.result.length, 1, `${expr}: ${JSON.stringify(body.data.result)}`);
    return Number(body.data.result[0].value[1]);
  };
  const worker = `instance="${workerTarget}"`;
  assert.equal(await at1(`min_over_time(up{${worker}}[${window}])`), 1, 'every scrape of the worker endpoint succeeded through the stall');
  const samples = await at1(`count_over_time(up{${worker}}[${window}])`);
  assert.ok(samples >= Math.floor(endS - startS), `${samples} scrapes in the ${window} window: none skipped`);
  const blocked = await at1(`max_over_time(loopguard_eventloop_blocked_seconds{${worker}}[${window}])`);
  assert.ok(blocked >= 1 && blocked <= report.durationMs / 1000 + 0.2, `Prometheus recorded the loop blocked for ${blocked} s`);
  // up == 1 throughout already bounds every scrape by the 500 ms scrape timeout, a sixth of the stall.
  // The typical one, relative to the stall: a median under 5 % of it (a one-off slow scrape on a
  // loaded machine moves the max, not the median).
  const stallS = report.durationMs / 1000;
  const typical = await at1(`quantile_over_time(0.5, scrape_duration_seconds{${worker}}[${window}])`);
  assert.ok(typical < 0.05 * stallS, `median scrape ${typical} s during a ${stallS} s stall`);
  // The same registry behind the blocked main thread: Prometheus saw failed scrapes, not the stall.
  assert.equal(await at1(`min_over_time(up{instance="${appTarget}"}[${window}])`), 0, 'the main-thread handler missed scrapes');
});
