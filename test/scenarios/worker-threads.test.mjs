// Worker threads watched by the process's one watchdog (issue 28): a worker's
// stall is reported with its thread, its function and its series, the main
// thread is not blamed, and threads that come and go leave nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { createLoopGuard, culpritFrame } from 'loopguard';
import { guardInternals } from '../../dist/internal.js';
import { parseExposition } from '../fixtures/prometheus-text.mjs';
import { waitFor } from '../helpers/server.mjs';

const WORKER = fileURLToPath(new URL('../fixtures/watched-worker.mjs', import.meta.url));

function startGuard() {
  const registry = new Registry();
  const guard = createLoopGuard({ startupGraceMs: 0, thresholdMs: 100, prometheus: { registry }, otel: false });
  return { guard, registry };
}

async function startWorker(options) {
  const worker = new Worker(WORKER, options);
  const [message] = await once(worker, 'message');
  assert.equal(message.type, 'watched');
  return worker;
}

async function block(worker, ms) {
  worker.postMessage({ type: 'block', ms });
  const [message] = await once(worker, 'message');
  assert.equal(message.type, 'blocked');
}

test('a worker that blocks in a message handler: its stall names the thread and the function; the main thread is not blamed', async () => {
  const { guard, registry } = startGuard();
  const reports = [];
  guard.on('stall', (r) => reports.push(r));
  let worker;
  try {
    if (!guard.watchdogReady) await waitFor(guard, 'watchdog:ready');
    // Named on the Worker (Node ≥ 22 reads it there) and for Node 20 through watchThisThread's option.
    worker = await startWorker({ name: 'resizer', workerData: { name: 'resizer' } });
    const stalled = waitFor(guard, 'stall', (r) => r.thread === 'resizer');
    await block(worker, 400);
    const report = await stalled;
    assert.ok(report.durationMs >= 250, `measured ${report.durationMs} ms`);
    assert.equal(report.cause, 'background');
    const frame = report.stack.find((f) => f.url.endsWith('watched-worker.mjs'));
    assert.ok(frame, `the worker's own frames: ${JSON.stringify(report.stack)}`);
    // The top frame may be a builtin blockFor calls (performance.now's internals): the culprit frame is the first of the app's.
    assert.equal(culpritFrame(report.stack)?.functionName, 'blockFor');
    assert.ok(report.stack.some((f) => f.functionName === 'onBlockMessage'), 'the message handler is on the stack');
    assert.ok(culpritFrame(report.stack).lineNumber > 0);
    // A loaded machine may stall the main thread on its own; none of that may be the worker's stall.
    assert.deepEqual(reports.filter((r) => r.thread !== 'resizer' && overlaps(r, report)).map((r) => [r.thread, r.durationMs]), [], 'the worker\'s stall is not blamed on the main thread');

    const { samples } = parseExposition(await registry.metrics());
    assert.equal(samples.get('loopguard_stalls_total{route="(background)",method="",cause="background",thread="resizer"}'), 1);
    assert.ok(samples.get('loopguard_eventloop_delay_seconds_count{thread="resizer"}') > 0, 'the worker\'s loop delay is exported by the main thread');
    assert.ok(samples.get('loopguard_eventloop_delay_seconds_count{thread="main"}') > 0);
    assert.equal(guard.snapshot().threads.find((t) => t.thread === 'resizer')?.threads, 1);
  } finally {
    await worker?.terminate();
    guard.close();
  }
});

/** Whether two stall reports' intervals overlap. */
function overlaps(a, b) {
  return a.startedAt < b.startedAt + b.durationMs && b.startedAt < a.startedAt + a.durationMs;
}

function threadCount() {
  return readdirSync('/proc/self/task').length;
}

function collectGarbage() {
  setFlagsFromString('--expose-gc');
  runInNewContext('gc')();
}

test('50 short-lived workers in turn: the thread label stays capped, and threads and memory return to their start', async () => {
  const { guard, registry } = startGuard();
  const internals = guardInternals(guard);
  try {
    if (!guard.watchdogReady) await waitFor(guard, 'watchdog:ready');
    // One worker first: whatever a first worker loads once (loopguard's modules in a new isolate, the inspector's worker session) is not a leak.
    const first = await startWorker();
    await first.terminate();
    await new Promise((resolve) => setTimeout(resolve, 200));
    collectGarbage();
    const threadsAtStart = threadCount();
    const heapAtStart = process.memoryUsage().heapUsed;
    for (let i = 0; i < 50; i++) {
      const worker = await startWorker();
      // Some stall (a capture each), the rest only beat.
      if (i % 5 === 0) await block(worker, 150);
      if (i % 2 === 0) {
        await worker.terminate();
      } else {
        worker.postMessage({ type: 'exit' });
        await once(worker, 'exit');
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(internals.threads.size, 0, 'every thread that ended was unregistered');
    const labels = new Set();
    for (const key of parseExposition(await registry.metrics()).samples.keys()) {
      const match = /thread="([^"]*)"/.exec(key);
      if (match) labels.add(match[1]);
    }
    assert.ok(labels.has('(other)'), `beyond the cap: ${[...labels]}`);
    assert.ok(labels.size <= 16 + 1 + 1, `at most 16 worker labels, (other) and main: ${labels.size}`);
    assert.equal(threadCount(), threadsAtStart, 'threads back to their start');
    collectGarbage();
    const grownMb = (process.memoryUsage().heapUsed - heapAtStart) / 1e6;
    assert.ok(grownMb < 4, `heap grew ${grownMb.toFixed(1)} MB over 50 workers`);
  } finally {
    guard.close();
  }
});

test('node --import loopguard/register app.js: a worker with no loopguard code in it is watched, and its stall reported', async () => {
  const { spawn } = await import('node:child_process');
  const { cleanEnv } = await import('../helpers/register.mjs');
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const app = fileURLToPath(new URL('../fixtures/register-worker-app.mjs', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'loopguard/register', app], {
    cwd: root,
    env: cleanEnv({ LOOPGUARD_ON_STALL: 'log', LOOPGUARD_STARTUP_GRACE_MS: '0', LOOPGUARD_PROMETHEUS: 'false' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, stderr);
  const reports = stderr
    .split('\n')
    .flatMap((line) => {
      try {
        return [JSON.parse(line)];
      } catch {
        return [];
      }
    })
    .filter((entry) => entry.msg === 'loopguard: event loop stalled');
  // Node 20 cannot read a worker's name in the worker: the label is then worker-<threadId>.
  const worker = reports.filter((r) => r.thread === 'image-worker' || /^worker-\d+$/.test(r.thread ?? ''));
  assert.equal(worker.length, 1, stderr);
  assert.ok(worker[0].durationMs >= 250);
  if (worker[0].stack?.length) assert.ok(worker[0].stack.some((f) => f.functionName === 'resizeImage'), JSON.stringify(worker[0].stack));
  assert.deepEqual(reports.filter((r) => r.thread === 'main' && overlaps(r, worker[0])), [], 'the main thread is not blamed');
});

test('an Express app served from inside a worker thread: the route and the function are named, and its victims counted on that thread', async () => {
  const { guard, registry } = startGuard();
  const worker = new Worker(fileURLToPath(new URL('../fixtures/express-worker.mjs', import.meta.url)), { name: 'api-worker' });
  try {
    if (!guard.watchdogReady) await waitFor(guard, 'watchdog:ready');
    const [listening] = await once(worker, 'message');
    // `import 'loopguard/worker'` keeps the default startup grace (1 s: module loading blocks by nature).
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const url = `http://127.0.0.1:${listening.port}`;
    const stalled = waitFor(guard, 'stall', (r) => r.route === '/hash/:id');
    // The main thread's loop is free: requests can come from here. /slow is in flight (its timer pending) when /hash blocks.
    const slow = fetch(`${url}/slow`).then((r) => r.text());
    await new Promise((resolve) => setTimeout(resolve, 20));
    const hash = fetch(`${url}/hash/42`).then((r) => r.text());
    assert.deepEqual(await Promise.all([slow, hash]), ['slow', 'ok']);
    const report = await stalled;
    assert.ok(report.thread === 'api-worker' || /^worker-\d+$/.test(report.thread), report.thread);
    assert.equal(report.method, 'GET');
    assert.equal(report.cause, 'request');
    assert.equal(culpritFrame(report.stack)?.functionName, 'hashPassword');
    assert.ok(report.victims >= 1, `victims ${report.victims}`);
    const { samples } = parseExposition(await registry.metrics());
    assert.equal(samples.get(`loopguard_stalls_total{route="/hash/:id",method="GET",cause="request",thread="${report.thread}"}`), 1);
  } finally {
    worker.postMessage('close');
    await worker.terminate();
    guard.close();
  }
});
