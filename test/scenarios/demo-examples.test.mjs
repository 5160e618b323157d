// Every per-framework example under examples/ runs as its README says: it
// listens, reports the stall its blocking route causes with the route and
// the function, serves /metrics and the live page, and exits on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { eventually } from '../helpers/prometheus.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The examples keep loopguard's default startupGraceMs. */
const STARTUP_GRACE_MS = 1000;

/** Example file → the blocking request to make and what its stall line must say. */
const EXAMPLES = [
  // Production style: pino's JSON warn lines, and /metrics from the worker-thread metrics server.
  { file: 'examples/express.mjs', request: { method: 'POST', path: '/login' }, culprit: 'POST /login', fn: 'hashPassword', pino: true, metricsServer: true },
  { file: 'examples/fastify.mjs', request: { method: 'POST', path: '/login' }, culprit: 'POST /login', fn: 'hashPassword' },
  { file: 'examples/koa.mjs', request: { method: 'POST', path: '/login' }, culprit: 'POST /login', fn: 'hashPassword' },
  { file: 'examples/http.mjs', request: { method: 'POST', path: '/login' }, culprit: 'POST /login', fn: 'hashPassword' },
];

function run(file) {
  const child = spawn(process.execPath, [file], { cwd: ROOT, env: { ...process.env, PORT: '0', METRICS_PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const listeners = new Set();
  const onData = (chunk) => {
    output += chunk;
    for (const l of listeners) l();
  };
  child.stdout.setEncoding('utf8').on('data', onData);
  child.stderr.setEncoding('utf8').on('data', onData);
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000); // failure guard
  const exit = once(child, 'exit').then(([code, signal]) => {
    clearTimeout(killer);
    for (const l of listeners) l();
    return { code, signal };
  });
  /** Resolves with the first match of pattern in the output so far or to come. */
  const waitFor = (pattern) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const m = pattern.exec(output);
        if (m) {
          listeners.delete(check);
          resolve(m);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          listeners.delete(check);
          reject(new Error(`${file} exited before printing ${pattern}:\n${output}`));
        }
      };
      listeners.add(check);
      check();
    });
  /** Resolves once the output holds at least `count` matches of a global pattern. */
  const waitForCount = (pattern, count) =>
    new Promise((resolve, reject) => {
      const check = () => {
        if ((output.match(pattern) ?? []).length >= count) {
          listeners.delete(check);
          resolve();
        } else if (child.exitCode !== null || child.signalCode !== null) {
          listeners.delete(check);
          reject(new Error(`${file} exited before printing ${pattern} ${count} times:\n${output}`));
        }
      };
      listeners.add(check);
      check();
    });
  return { child, exit, waitFor, waitForCount, output: () => output };
}

for (const example of EXAMPLES) {
  test(`${example.file}: reports its blocking route and function, then exits on SIGTERM`, async () => {
    const app = run(example.file);
    const [, base] = await app.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const stallLine = example.pino
      ? new RegExp(`^\\{"level":40,.*"functionName":"${example.fn}".*"msg":"event loop stalled \\d+ ms in ${example.culprit}(, [^"]+)?"\\}$`, 'gm')
      : new RegExp(`stall [\\d.]+ ms by ${example.culprit} in ${example.fn} \\(examples/[\\w.]+:\\d+\\)`, 'g');
    const metricsUrl = example.metricsServer ? (await app.waitFor(/metrics +(http:\/\/127\.0\.0\.1:\d+\/metrics)/))[1] : `${base}/metrics`;
    const listenedAt = performance.now();
    // Wait out what stands before a named report: the watchdog thread starting
    // (seen in the snapshot) and the default 1 s startup grace, which began
    // before the server listened. After that, every blocking request must be named.
    await eventually(async () => (await (await fetch(`${base}/loopguard/snapshot.json`)).json()).watchdogRunning === true);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, STARTUP_GRACE_MS + 100 - (performance.now() - listenedAt))));
    for (let i = 1; i <= 3; i++) {
      const res = await fetch(base + example.request.path, { method: example.request.method, headers: { 'content-type': 'application/json' }, body: example.request.method === 'POST' ? '{"password":"hunter2"}' : undefined });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      await app.waitForCount(stallLine, i);
    }
    assert.equal(app.output().match(stallLine).length, 3, `three requests, three stall lines:\n${app.output()}`);

    const metrics = await fetch(metricsUrl);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), new RegExp(`loopguard_stalls_total\\{route="${example.request.path}",method="${example.request.method}",cause="request",thread="main"\\} [1-9]`));
    const page = await fetch(`${base}/loopguard/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    await page.arrayBuffer();
    const snapshot = await (await fetch(`${base}/loopguard/snapshot.json`)).json();
    assert.ok(snapshot.culprits.some((c) => c.route === example.request.path && c.topFrame?.startsWith(`${example.fn} (examples/`)), JSON.stringify(snapshot.culprits));

    app.child.kill('SIGTERM');
    const { code, signal } = await app.exit;
    assert.equal(signal, null, app.output());
    assert.equal(code, 0, app.output());
  });
}
