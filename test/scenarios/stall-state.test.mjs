// What the loop was doing during a stall, on real processes (issue 27): each
// stall at least 300 ms, made one way per test, in an app of its own
// (test/fixtures/stall-state-app.mjs). Requests come from this process, never
// from the stalled one. Host pressure needs root (a cgroup v1 CPU quota,
// chrt/taskset): where the machine refuses, the test fails and says why.
// Timing: retried once by the suite runner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { pinThread, runInCpuQuota, startRtCompetitor } from '../helpers/host-pressure.mjs';

const APP = fileURLToPath(new URL('../fixtures/stall-state-app.mjs', import.meta.url));

/** Starts the app (inside a CPU quota when `quota` is given); resolves once its watchdog is ready. */
async function startApp({ env = {}, quota } = {}) {
  const childEnv = { ...process.env, ...env };
  const child = quota
    ? runInCpuQuota({ ...quota, command: process.execPath, args: [APP], env: childEnv }).child
    : spawn(process.execPath, [APP], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  const waiters = new Set();
  let stderr = '';
  let buffered = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  child.stdout.setEncoding('utf8').on('data', (d) => {
    buffered += d;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
      lines.push(line);
      for (const w of waiters) if (w.predicate(line)) (waiters.delete(w), w.resolve(line));
    }
  });
  /** The first line (seen or to come) for which predicate holds; rejects after timeoutMs (a failure guard, not a sleep). */
  const next = (predicate, timeoutMs = 20_000, what = 'a line') =>
    new Promise((resolve, reject) => {
      const seen = lines.find(predicate);
      if (seen) return resolve(seen);
      const w = { predicate, resolve };
      waiters.add(w);
      setTimeout(() => {
        if (!waiters.delete(w)) return;
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; app printed ${JSON.stringify(lines)} ${stderr}`));
      }, timeoutMs).unref();
    });
  const ready = await next((l) => l.type === 'ready', 30_000, 'the app to be ready');
  return {
    url: ready.url,
    pid: ready.pid,
    lines,
    next,
    /** Reports made once the watchdog ran: before it, nothing reads the thread's clock (a start under a CPU quota stalls too). */
    stalls: () => lines.slice(lines.indexOf(ready)).filter((l) => l.type === 'stall').map((l) => l.report),
    stall: (predicate, timeoutMs, what = 'a stall') =>
      next((l) => l.type === 'stall' && lines.indexOf(l) > lines.indexOf(ready) && predicate(l.report), timeoutMs, what).then((l) => l.report),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

const get = (url) => fetch(url).then((r) => r.text());
const share = (part, report) => part / report.durationMs;
const show = (r) => JSON.stringify({ route: r.route, cause: r.cause, state: r.state, durationMs: r.durationMs, threadTime: r.threadTime, interrupted: r.interrupted, advice: r.advice?.kind });

// On a shared machine the thread also waits for a CPU (measured: 158 of 384 ms
// at load 3.6 on 2 cores), so the on-CPU share is taken of the thread's own
// time (the stall less that wait); on an idle machine the two are the same.
const own = (r) => r.durationMs - r.threadTime.waitingMs;

test('computing: a CPU loop in a route is cpu, on a CPU at least 80 % of its own time, and blamed on its route', async () => {
  const app = await startApp();
  try {
    await get(`${app.url}/cpu?ms=350`);
    const r = await app.stall((s) => s.route === '/cpu', undefined, 'the /cpu stall');
    assert.ok(r.durationMs >= 300, show(r));
    assert.equal(r.cause, 'request', show(r));
    assert.equal(r.state, 'cpu', show(r));
    assert.ok(r.threadTime.onCpuMs >= 0.8 * own(r), show(r));
    assert.notEqual(r.advice?.kind, 'sync-fs', show(r));
    console.log(`# cpu: ${show(r)}`);
  } finally {
    await app.close();
  }
});

for (const [route, what] of [
  ['/sleep', "execSync('sleep 0.3')"],
  ['/atomics', 'Atomics.wait 300 ms'],
  ['/fifo', 'readFileSync on a FIFO another process feeds after 300 ms'],
]) {
  test(`parked: ${what} is parked, on a CPU at most 20 % of the stall, and blamed on its route`, async () => {
    const app = await startApp();
    try {
      await get(`${app.url}${route}`);
      const r = await app.stall((s) => s.route === route, undefined, `the ${route} stall`);
      // The heartbeat measures lateness past its schedule: a 300 ms block reads up to one period (25 ms) shorter.
      assert.ok(r.durationMs >= 270, show(r));
      assert.equal(r.cause, 'request', show(r));
      assert.equal(r.state, 'parked', show(r));
      assert.ok(r.threadTime.onCpuMs <= 0.2 * own(r), show(r));
      assert.notEqual(r.advice?.kind, 'cpu', `a parked stall is not given computing advice: ${show(r)}`);
      console.log(`# parked ${route}: ${show(r)}`);
    } finally {
      await app.close();
    }
  });
}

test('gc: a forced full collection of a large live heap is gc', async () => {
  // Node 24 collects 3e6 objects in ~230 ms here; 5e6 keep it over 300 ms on both lines.
  const app = await startApp({ env: { STALL_APP_GC_HEAP: '5e6' } });
  try {
    const done = await app.next((l) => l.type === 'gc:done', 30_000, 'the forced GC');
    assert.equal(done.objects, 5e6);
    // The first report after the collection returned is its stall (its report needs the loop to turn first).
    const r = (await app.next((l) => l.type === 'stall' && app.lines.indexOf(l) > app.lines.indexOf(done), 20_000, 'the GC stall')).report;
    assert.ok(r.durationMs >= 300, show(r));
    assert.equal(r.state, 'gc', show(r));
    assert.equal(r.cause, 'gc', show(r));
    assert.ok(share(r.threadTime.gcMs, r) >= 0.5, show(r));
    console.log(`# gc: ${show(r)}`);
  } finally {
    await app.close();
  }
});

test('host, preemption: a real-time task on the pinned main thread\'s CPU for 400 ms while a fast route runs: host, no route blamed', async () => {
  const cpu = os.availableParallelism() - 1;
  const app = await startApp();
  try {
    // Only the main thread: the watchdog must keep its own CPU to read the clock.
    pinThread(app.pid, cpu);
    const at = Date.now() + 1000;
    const competitor = startRtCompetitor({ cpu, ms: 400, startAtEpochMs: at });
    const answered = get(`${app.url}/fast?at=${at}`);
    const r = await app.stall((s) => s.durationMs >= 300, 20_000, 'the preemption stall');
    await Promise.all([answered, competitor.exited]);
    assert.equal(r.state, 'host', show(r));
    assert.equal(r.cause, 'host', show(r));
    assert.equal(r.route, null, show(r));
    assert.ok(share(r.threadTime.waitingMs, r) >= 0.5, show(r));
    if (r.interrupted !== null) assert.deepEqual(r.interrupted, { route: '/fast', method: 'GET' }, show(r));
    const blamed = app.stalls().filter((s) => s.route === '/fast' || s.cause === 'request');
    assert.deepEqual(blamed.map(show), [], 'no stall blamed on a route');
    console.log(`# host, preemption: ${show(r)}`);
  } finally {
    await app.close();
  }
});

test('host, throttling: a CPU-light route in a cgroup at 50 ms per 500 ms: host stalls with throttled time, none blamed on the route', async () => {
  const app = await startApp({ quota: { quotaUs: 50_000, periodUs: 500_000 } });
  try {
    // Drive the route until three stalls have been reported (each throttled period makes one).
    let stop = false;
    const driving = (async () => {
      while (!stop) await get(`${app.url}/light?ms=5`);
    })();
    try {
      await app.stall(() => app.stalls().length >= 3, 30_000, 'three stalls under the quota');
    } finally {
      stop = true;
      await driving;
    }
    const stalls = app.stalls();
    const host = stalls.filter((s) => s.state === 'host');
    assert.ok(host.length >= 1, `host stalls: ${stalls.map(show).join('\n')}`);
    assert.ok(
      host.every((s) => s.cause === 'host' && s.route === null && s.threadTime.throttledMs > 0),
      `host stalls blame no route and say how long the quota held them: ${host.map(show).join('\n')}`,
    );
    assert.ok(stalls.every((s) => s.state === 'host' || s.state === 'gc'), `every stall is the host's (or a GC it stretched): ${stalls.map(show).join('\n')}`);
    assert.deepEqual(stalls.filter((s) => s.route === '/light' || s.cause === 'request').map(show), [], 'none blamed on the route');
    console.log(`# host, throttling: ${stalls.length} stalls\n${stalls.map((s) => `#   ${show(s)}`).join('\n')}`);
  } finally {
    await app.close();
  }
});

test('positive control: a 350 ms CPU culprit under background load on every core stays cpu and blamed', async () => {
  const cpus = os.availableParallelism();
  // One busy process per core beside the app: the culprit gets about half a CPU.
  const load = Array.from({ length: cpus }, () => spawn(process.execPath, ['-e', 'for(;;);'], { stdio: 'ignore' }));
  const app = await startApp();
  try {
    await get(`${app.url}/cpu?ms=350`);
    const r = await app.stall((s) => s.route === '/cpu', undefined, 'the /cpu stall under load');
    assert.equal(r.cause, 'request', show(r));
    assert.equal(r.route, '/cpu', show(r));
    assert.equal(r.state, 'cpu', show(r));
    console.log(`# positive control: ${show(r)}`);
  } finally {
    await app.close();
    for (const child of load) child.kill('SIGKILL');
    await Promise.all(load.map((child) => (child.exitCode === null && child.signalCode === null ? once(child, 'exit') : null)));
  }
});
