// Pool tasks as culprits (issue 28): a piscina task that holds its worker is
// reported by its task name (piscina's filename and export, with no code in
// the task file beyond watching the worker), its function and its thread; the
// pool's queue wait, watched from the main thread, rises behind it; a
// worker's wait for its next task is no stall. A hand-made pool names its
// tasks with guard.task(name, fn).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { Registry } from 'prom-client';
import { createLoopGuard, culpritFrame } from 'loopguard';
import { parseExposition } from '../fixtures/prometheus-text.mjs';
import { waitFor } from '../helpers/server.mjs';

const TASKS = fileURLToPath(new URL('../fixtures/pool-task-blocking.mjs', import.meta.url));
const WORKER = fileURLToPath(new URL('../fixtures/watched-worker.mjs', import.meta.url));
const BLOCK_MS = 300;

function startGuard() {
  const registry = new Registry();
  const guard = createLoopGuard({ startupGraceMs: 0, thresholdMs: 100, prometheus: { registry }, otel: false });
  return { guard, registry };
}

/** Resolves with the first `n` stall reports for which `predicate` holds (a failure guard times out, never a sleep). */
function stalls(guard, predicate, n, timeoutMs = 15_000) {
  return new Promise((resolve, reject) => {
    const found = [];
    const timer = setTimeout(() => {
      guard.off('stall', onStall);
      reject(new Error(`timed out with ${found.length} of ${n} stalls: ${JSON.stringify(found.map((r) => [r.thread, r.cause, r.route]))}`));
    }, timeoutMs);
    function onStall(report) {
      if (!predicate(report)) return;
      found.push(report);
      if (found.length < n) return;
      clearTimeout(timer);
      guard.off('stall', onStall);
      resolve(found);
    }
    guard.on('stall', onStall);
  });
}

/**
 * Until both workers are watched: a parked worker reads the main thread's
 * answer when its next task begins, so each round is two tasks, one per
 * worker (piscina gives each idle worker one), and a turn of this loop.
 */
async function bothWatched(pool) {
  const watched = new Set();
  for (let round = 0; round < 500 && watched.size < 2; round++) {
    const answers = await Promise.all([pool.run(null, { name: 'ready' }), pool.run(null, { name: 'ready' })]);
    for (const a of answers) if (a.watched) watched.add(a.threadId);
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(watched.size, 2, 'both workers joined the guard');
  return [...watched];
}

async function waitP99(registry) {
  const { samples } = parseExposition(await registry.metrics());
  return samples.get('loopguard_worker_pool_wait_seconds{pool="images",percentile="99"}');
}

test('piscina, 2 threads: a task that blocks 300 ms is named by its file and export, with its function and thread; the queue wait rises behind it; waiting for tasks is no stall', async () => {
  const { guard, registry } = startGuard();
  const reports = [];
  guard.on('stall', (r) => reports.push(r));
  const pool = new Piscina({ filename: TASKS, minThreads: 2, maxThreads: 2 });
  const taskName = `${relative(process.cwd(), TASKS).split('\\').join('/')}#resize`;
  try {
    if (!guard.watchdogReady) await waitFor(guard, 'watchdog:ready');
    guard.watchPool(pool, { name: 'images' });
    const threads = await bothWatched(pool);
    const labels = threads.map((id) => `worker-${id}`);
    for (let i = 0; i < 10; i++) await pool.run(i, { name: 'quick' });
    const waitBefore = await waitP99(registry);
    assert.equal(typeof waitBefore, 'number', 'the pool\'s queue wait is exported');

    // One worker blocks; the other runs the quick tasks, then waits for work
    // parked (in Atomics.wait) the rest of the block: that wait is no stall.
    const first = stalls(guard, (r) => r.cause === 'task', 1);
    const [blocked, ...quick] = await Promise.all([pool.run(BLOCK_MS, { name: 'resize' }), ...Array.from({ length: 5 }, (_, i) => pool.run(i, { name: 'quick' }))]);
    const [report] = await first;
    assert.equal(report.route, taskName, 'named by piscina\'s filename and export');
    assert.equal(report.method, null);
    assert.equal(report.thread, `worker-${blocked.threadId}`, 'the worker that ran it');
    assert.ok(labels.includes(report.thread), `${report.thread} is one of ${labels}`);
    assert.ok(report.durationMs >= BLOCK_MS * 0.6, `measured ${report.durationMs} ms of a ${BLOCK_MS} ms block`);
    const frame = culpritFrame(report.stack);
    assert.equal(frame?.functionName, 'spin', `its function: ${JSON.stringify(report.stack)}`);
    assert.ok(frame.url.endsWith('pool-task-blocking.mjs') && frame.lineNumber > 0, `file:line ${frame.url}:${frame.lineNumber}`);
    assert.ok(report.stack.some((f) => f.functionName === 'resize'), 'the task\'s export is on the stack');
    assert.ok(quick.every((q) => q.threadId !== blocked.threadId), 'the quick tasks ran on the other worker');

    // Both workers block at once; six quick tasks queue behind them.
    const both = stalls(guard, (r) => r.cause === 'task', 2);
    const runs = await Promise.all([pool.run(BLOCK_MS, { name: 'resize' }), pool.run(BLOCK_MS, { name: 'resize' }), ...Array.from({ length: 6 }, (_, i) => pool.run(i, { name: 'quick' }))]);
    const pair = await both;
    assert.deepEqual(pair.map((r) => r.route), [taskName, taskName]);
    assert.deepEqual(new Set(pair.map((r) => r.thread)), new Set(runs.slice(0, 2).map((r) => `worker-${r.threadId}`)), 'one report per worker');
    // One capture at a time: one of the two may come without a stack, never without its task.
    assert.ok(pair.some((r) => culpritFrame(r.stack)?.functionName === 'spin'));
    const waitAfter = await waitP99(registry);
    assert.ok(waitAfter >= (BLOCK_MS / 1000) * 0.5, `queue wait p99 ${waitAfter} s behind ${BLOCK_MS} ms blocks`);
    assert.ok(waitAfter >= Math.max(waitBefore * 10, 0.05), `queue wait p99 rose from ${waitBefore} s to ${waitAfter} s`);

    const { samples } = parseExposition(await registry.metrics());
    const counted = labels.reduce((sum, t) => sum + (samples.get(`loopguard_stalls_total{route="${taskName}",method="",cause="task",thread="${t}"}`) ?? 0), 0);
    assert.equal(counted, 3, 'counted under the task\'s name and its worker\'s thread');
    const workerStalls = reports.filter((r) => r.thread !== 'main');
    assert.deepEqual(
      workerStalls.filter((r) => r.route !== taskName).map((r) => [r.thread, r.cause, r.route, r.durationMs]),
      [],
      'a worker parked between tasks, and the quick tasks, are never a stall',
    );
  } finally {
    await pool.destroy();
    guard.close();
  }
});

test('a hand-made pool: guard.task(name, fn) in the worker names the task, its function and its thread', async () => {
  const { guard, registry } = startGuard();
  let worker;
  try {
    if (!guard.watchdogReady) await waitFor(guard, 'watchdog:ready');
    worker = new Worker(WORKER, { name: 'images', workerData: { name: 'images' } });
    const [hello] = await once(worker, 'message');
    assert.equal(hello.type, 'watched');
    const stalled = waitFor(guard, 'stall', (r) => r.thread === 'images');
    worker.postMessage({ type: 'task', name: 'resize', ms: BLOCK_MS });
    await once(worker, 'message');
    const report = await stalled;
    assert.deepEqual([report.cause, report.route, report.method], ['task', 'resize', null]);
    assert.ok(report.durationMs >= BLOCK_MS * 0.6, `measured ${report.durationMs} ms`);
    assert.equal(culpritFrame(report.stack)?.functionName, 'blockFor', JSON.stringify(report.stack));
    const { samples } = parseExposition(await registry.metrics());
    assert.equal(samples.get('loopguard_stalls_total{route="resize",method="",cause="task",thread="images"}'), 1);
  } finally {
    await worker?.terminate();
    guard.close();
  }
});
