// The worker-served /metrics endpoint with no stall: paths, methods, close, OpenMetrics, a taken port,
// options, exit. (Stall scenarios: prometheus-metrics-server-stalls.test.mjs, retried once by the suite runner.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { Registry } from '../helpers/prom-lib.mjs';
import { createLoopGuard, InvalidOptionError } from 'loopguard';
import { eventually } from '../helpers/prometheus.mjs';
import { startApp } from '../helpers/metrics-server-app.mjs';

test('the worker-served endpoint answers 404 off its path and 405 to other methods', async () => {
  const app = await startApp();
  try {
    assert.equal((await fetch(new URL('/other', app.metricsUrl))).status, 404);
    const post = await fetch(app.metricsUrl, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  } finally {
    await app.close();
  }
});

test('close() stops the worker-served endpoint', async () => {
  const other = await startApp();
  assert.equal((await fetch(other.metricsUrl)).status, 200);
  await other.close();
  await eventually(() => fetch(other.metricsUrl).then(() => false, () => true), { timeoutMs: 5000, everyMs: 50 });
});

test('an OpenMetrics registry is served as OpenMetrics by the worker too', async () => {
  const app = await startApp({ registry: new Registry(Registry.OPENMETRICS_CONTENT_TYPE) });
  try {
    const res = await fetch(app.metricsUrl);
    assert.equal(res.headers.get('content-type'), Registry.OPENMETRICS_CONTENT_TYPE);
    const text = await res.text();
    assert.match(text, /^# TYPE loopguard_stalls counter$/m);
    assert.match(text, /^# TYPE loopguard_eventloop_delay_seconds histogram$/m);
    assert.ok(text.endsWith('\n# EOF\n'));
  } finally {
    await app.close();
  }
});

test('a port already taken is reported through onError; the app runs on', async () => {
  const blocker = net.createServer().listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  const { port } = blocker.address();
  let reported;
  const gotError = new Promise((resolve) => (reported = resolve));
  const guard = createLoopGuard({ prometheus: { registry: new Registry() }, metricsServer: { port }, onError: (e) => reported(e) });
  try {
    const error = await gotError;
    assert.equal(error.code, 'LOOPGUARD_EXPORT_FAILED');
    assert.match(error.message, /EADDRINUSE/);
    assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.equal(guard.metricsServerAddress, undefined);
  } finally {
    guard.close();
    blocker.close();
  }
});

test('bad metricsServer options throw at construction, naming the option', () => {
  const registry = new Registry();
  const cases = [
    [{ metricsServer: { port: -1 } }, 'metricsServer.port'],
    [{ metricsServer: { port: 70000 } }, 'metricsServer.port'],
    [{ metricsServer: { port: '9464' } }, 'metricsServer.port'],
    [{ metricsServer: {} }, 'metricsServer.port'],
    [{ metricsServer: { port: 0, host: '' } }, 'metricsServer.host'],
    [{ metricsServer: { port: 0, path: 'metrics' } }, 'metricsServer.path'],
    [{ metricsServer: { port: 0, path: '/metrics?x=1' } }, 'metricsServer.path'],
    [{ metricsServer: { port: 0, mainThreadTimeoutMs: 0 } }, 'metricsServer.mainThreadTimeoutMs'],
    [{ metricsServer: { port: 0, auth: 'x' } }, 'metricsServer.auth'],
    [{ metricsServer: 9464 }, 'metricsServer'],
    [{ metricsServer: { port: 0 }, prometheus: false }, 'metricsServer'],
  ];
  for (const [options, option] of cases) {
    assert.throws(
      () => createLoopGuard({ prometheus: { registry }, ...options }),
      (e) => e instanceof InvalidOptionError && e.option === option,
      JSON.stringify(options),
    );
  }
});

test('the endpoint does not keep the process alive: an app that is done exits without close()', async () => {
  const { spawn } = await import('node:child_process');
  const script = [
    "import { createLoopGuard } from 'loopguard';",
    'const guard = createLoopGuard({ metricsServer: { port: 0 } });',
    // The app's own work lasts until the endpoint listens; after that nothing of the app's is left.
    'const work = setInterval(() => {}, 1000);',
    "guard.on('metrics:listening', (a) => { console.log('listening', a.port); clearInterval(work); });",
  ].join('\n');
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: new URL('../..', import.meta.url), stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const [code, signal] = await once(child, 'exit');
  clearTimeout(timer);
  assert.match(out, /listening \d+/);
  assert.equal(signal, null, 'exited by itself, not killed after 15 s');
  assert.equal(code, 0);
});
