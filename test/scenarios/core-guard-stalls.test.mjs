// The guard's stall scenarios: real stalls of a real loop (timing: retried once by the suite runner).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { CATALOGUE } from 'loopguard';
import { forkClient } from '../helpers/client.mjs';
import { waitFor } from '../helpers/server.mjs';
import { burnCpu } from '../fixtures/blocking.mjs';
import { series, withApp } from '../helpers/guard-app.mjs';

test('every catalogue metric is registered, and a stall shows up under its culprit route', async () => {
  await withApp(
    {},
    (app) => app.get('/orders/:id', (req, res) => res.send(String(burnCpu(250)))),
    async ({ guard, registry, url }) => {
      for (const def of CATALOGUE) assert.ok(registry.getSingleMetric(`loopguard_${def.name}`), def.name);
      if (!guard.watchdogReady) await waitFor(guard, 'watchdog:ready');
      const stalled = waitFor(guard, 'stall', (r) => r.route === '/orders/:id');
      const client = await forkClient();
      try {
        assert.equal((await client.request(`${url}/orders/123?token=secret`)).status, 200);
      } finally {
        await client.close();
      }
      await stalled;
      // A loaded machine may add background or GC stalls of its own; requests must show exactly this one.
      const stalls = (await series(registry, 'loopguard_stalls_total')).filter((s) => s.labels.cause === 'request');
      assert.deepEqual(stalls.map((s) => [s.labels.route, s.labels.method, s.value]), [['/orders/:id', 'GET', 1]]);
      const seconds = (await series(registry, 'loopguard_stall_seconds_total')).find((s) => s.labels.route === '/orders/:id');
      assert.ok(seconds.value >= 0.1);
      const text = await registry.metrics();
      assert.ok(!text.includes('/orders/123'), 'no raw URL in labels');
      assert.ok(!text.includes('secret'));
      assert.match(text, /loopguard_request_delay_seconds_bucket\{route="\/orders\/:id",method="GET",le="\+Inf"\} 1/);
      assert.match(text, /loopguard_requests_in_flight 0/);
    },
  );
});

test('precise mode records each request\'s own synchronous time, including blocking under the threshold', async () => {
  await withApp(
    { precise: true, thresholdMs: 200 },
    (app) => {
      app.get('/light', (req, res) => res.send('ok'));
      app.get('/heavy', async (req, res) => {
        await new Promise((resolve) => setImmediate(resolve));
        burnCpu(40); // well under the threshold: no stall, but its own time
        res.send('ok');
      });
    },
    async ({ guard, registry, url }) => {
      for (let i = 0; i < 5; i++) {
        await fetch(`${url}/light`).then((r) => r.text());
        await fetch(`${url}/heavy`).then((r) => r.text());
      }
      assert.equal(guard.snapshot().stallsTotal, 0);
      const values = await series(registry, 'loopguard_request_blocking_seconds');
      const sum = (route) => values.find((v) => v.metricName.endsWith('_sum') && v.labels.route === route).value;
      const count = (route) => values.find((v) => v.metricName.endsWith('_count') && v.labels.route === route).value;
      assert.equal(count('/heavy'), 5);
      const heavyMean = sum('/heavy') / 5;
      const lightMean = sum('/light') / 5;
      assert.ok(heavyMean >= 0.035, `heavy mean ${heavyMean}`);
      // Wall-clock time: a descheduled process inflates both alike, so compare the difference.
      assert.ok(heavyMean - lightMean >= 0.025, `heavy ${heavyMean} vs light ${lightMean}`);
    },
  );
});

test('a throwing onStall is reported once through onError and never reaches the app', async () => {
  const errors = [];
  await withApp(
    {
      onStall() {
        throw new Error('logger down');
      },
      onError: (err) => errors.push(err),
    },
    (app) => app.get('/block', (req, res) => res.send(String(burnCpu(200)))),
    async ({ guard, url }) => {
      const client = await forkClient();
      try {
        for (let i = 0; i < 2; i++) {
          const stalled = waitFor(guard, 'stall');
          assert.equal((await client.request(`${url}/block`)).status, 200);
          await stalled;
        }
      } finally {
        await client.close();
      }
      assert.equal(errors.length, 1);
      assert.equal(errors[0].code, 'LOOPGUARD_CALLBACK_FAILED');
    },
  );
});

test('a process whose guard is closed exits by itself, without waiting for a debugger', async () => {
  const script = fileURLToPath(new URL('../fixtures/close-exits.mjs', import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000); // failure guard only
  const [code, signal] = await once(child, 'exit');
  clearTimeout(timer);
  assert.equal(signal, null, `the process did not exit by itself: ${output}`);
  assert.equal(code, 0, output);
  assert.match(output, /stalls: [1-9]/);
  assert.doesNotMatch(output, /Waiting for the debugger/);
});

test('a stall that is mostly a GC pause is reported as gc, not blamed on the code that ran next', async () => {
  const script = fileURLToPath(new URL('../fixtures/gc-stall.mjs', import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
  const reports = JSON.parse(output);
  const gcStall = reports.find((r) => r.cause === 'gc');
  assert.ok(gcStall, `a gc stall among ${JSON.stringify(reports)}`);
  assert.equal(gcStall.route, null);
  assert.ok(gcStall.durationMs >= 100);
});
