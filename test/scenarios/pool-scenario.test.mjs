// After the fix, the next bottleneck: a service whose hash route runs async
// crypto.pbkdf2 (≈50 ms each) on libuv's pool. With 16 requests in flight and
// the default 4 threads the pool saturates while the loop stays healthy; the
// probe must show it, and show it go away with UV_THREADPOOL_SIZE=16. The app
// runs in a child process (its own pool and environment); the load comes from
// a forked client. Figures are taken over the load only: the difference of
// two scrapes of the app's real /metrics, with a control beside it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { forkClient } from '../helpers/client.mjs';
import { eventually } from '../helpers/prometheus.mjs';
import { parseExposition, sumOf } from '../fixtures/prometheus-text.mjs';
import { quantileFromBuckets, THREADPOOL_BUCKETS_SECONDS, DELAY_BUCKETS_SECONDS } from '../../dist/internal.js';

const APP = fileURLToPath(new URL('../fixtures/pool-app.mjs', import.meta.url));
/** Probe samples (one per 50 ms) the load must cover before it is judged. */
const SAMPLES = 80;

let client;
/** The same service with no traffic, beside each scenario. */
let control;
after(async () => {
  await client?.close();
  await control?.close();
});

/** `env` on top of ours; UV_THREADPOOL_SIZE unset unless given (libuv reads an empty value as 1 thread). */
async function startApp(env = {}) {
  const { UV_THREADPOOL_SIZE, ...inherited } = process.env;
  const child = fork(APP, [], { env: { ...inherited, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  // An app that dies at start (a missing dependency) fails here, not as a wait the emptied loop cancels.
  const msg = await new Promise((resolve, reject) => {
    const onExit = (code, signal) => reject(new Error(`the pool app exited before listening (code ${code}, signal ${signal})`));
    child.once('exit', onExit);
    child.once('message', (m) => {
      child.off('exit', onExit);
      resolve(m);
    });
  });
  assert.equal(msg.type, 'listening');
  return {
    url: `http://127.0.0.1:${msg.port}`,
    async close() {
      child.send('exit');
      await once(child, 'exit');
    },
  };
}

async function scrape(app) {
  return parseExposition(await (await fetch(`${app.url}/metrics`)).text()).samples;
}

/** Non-cumulative bucket counts of histogram `name` between two scrapes. */
function bucketDelta(before, after, name, bounds) {
  const cumulative = (samples) => [...bounds.map(String), '+Inf'].map((le) => sumOf(samples, `${name}_bucket`, { le }));
  const b = cumulative(before);
  const a = cumulative(after);
  return a.map((v, i) => v - b[i] - (i === 0 ? 0 : a[i - 1] - b[i - 1]));
}

/** Pool and loop figures of `app` between two scrapes. */
function figures(before, after) {
  const pool = bucketDelta(before, after, 'loopguard_threadpool_delay_seconds', THREADPOOL_BUCKETS_SECONDS);
  const loop = bucketDelta(before, after, 'loopguard_eventloop_delay_seconds', DELAY_BUCKETS_SECONDS);
  const samples = pool.reduce((a, b) => a + b, 0);
  const poolSum = sumOf(after, 'loopguard_threadpool_delay_seconds_sum') - sumOf(before, 'loopguard_threadpool_delay_seconds_sum');
  const ms = (s) => Math.round(s * 10_000) / 10;
  return {
    samples,
    poolP50Ms: ms(quantileFromBuckets(0.5, THREADPOOL_BUCKETS_SECONDS, pool)),
    poolP99Ms: ms(quantileFromBuckets(0.99, THREADPOOL_BUCKETS_SECONDS, pool)),
    poolMeanMs: ms(poolSum / samples),
    loopP99Ms: ms(quantileFromBuckets(0.99, DELAY_BUCKETS_SECONDS, loop)),
    stalls: sumOf(after, 'loopguard_stalls_total') - sumOf(before, 'loopguard_stalls_total'),
    last: after,
  };
}

/**
 * `inFlight` requests to `path` on `app`, kept going until its probe has
 * `samples` samples; beside it, over the same seconds, the control: the same
 * service with no traffic. The control sees what the machine does to any
 * process then (other work, and this load's threads competing for the
 * cores); on a machine so loaded that even the control misses the issue's
 * absolute figures (2 cores shared by many), those figures cannot be
 * judged, and the test judges against the control instead and says so.
 */
async function scenario(t, app, path, inFlight, { duringLoad, samples = SAMPLES } = {}) {
  client ??= await forkClient();
  control ??= await startApp();
  await client.request(`${app.url}${path}`); // the first pool job starts libuv's threads
  const [before, controlBefore] = await Promise.all([scrape(app), scrape(control)]);
  const probes = (s) => sumOf(s, 'loopguard_threadpool_delay_seconds_count');
  await client.startLoad([{ name: 'load', url: `${app.url}${path}`, concurrency: inFlight }]);
  let last;
  await eventually(
    async () => {
      last = await scrape(app);
      duringLoad?.(last);
      return probes(last) - probes(before) >= samples;
    },
    { everyMs: 500, timeoutMs: 60_000 },
  );
  const controlAfter = await scrape(control);
  const requests = (await client.stopLoad()).load.statuses;
  const loaded = { requests, ...figures(before, last) };
  const idle = figures(controlBefore, controlAfter);
  const show = ({ last: _, ...r }) => JSON.stringify(r);
  t.diagnostic(`control, no traffic: ${show(idle)}`);
  t.diagnostic(`${inFlight} in flight: ${show(loaded)}`);
  return { idle, loaded };
}

const quietEnough = (idle) => idle.poolP99Ms < 5 && idle.loopP99Ms < 50 && idle.stalls === 0;

/** The saturated scenario's median pool delay, for the UV_THREADPOOL_SIZE=16 comparison. */
let saturatedP50Ms;

test('16 pbkdf2 in flight on the default pool of 4: the pool waits ≥ 100 ms at p99 while the loop stays under the stall threshold', async (t) => {
  const app = await startApp();
  try {
    const { idle, loaded } = await scenario(t, app, '/hash', 16);
    assert.equal(sumOf(loaded.last, 'loopguard_threadpool_size'), 4);
    assert.ok(loaded.poolP99Ms >= 100, `pool p99 ${loaded.poolP99Ms} ms`);
    assert.ok(loaded.poolP50Ms >= 5 * Math.max(1, idle.poolP50Ms), `pool p50 ${loaded.poolP50Ms} ms vs ${idle.poolP50Ms} ms in the control`);
    if (quietEnough(idle)) {
      assert.ok(loaded.loopP99Ms < 100, `loop p99 ${loaded.loopP99Ms} ms (threshold 100)`);
      assert.equal(loaded.stalls, 0, 'no stall: the loop is not what is slow');
    } else {
      t.diagnostic('machine too loaded for the absolute loop figures (see the control): judged against the control');
      // A busy loop on a starved CPU waits more than an idle one: a generous margin over the control.
      assert.ok(loaded.loopP99Ms < Math.max(100, 3 * idle.loopP99Ms), `loop p99 ${loaded.loopP99Ms} ms vs ${idle.loopP99Ms} ms in the control`);
      assert.ok(loaded.poolP99Ms > 4 * loaded.loopP99Ms, `the pool (p99 ${loaded.poolP99Ms} ms), not the loop (${loaded.loopP99Ms} ms), is what waits`);
    }
    saturatedP50Ms = loaded.poolP50Ms;
  } finally {
    await app.close();
  }
});

test('the same service at 1 request in flight: pool p99 under 5 ms', async (t) => {
  const app = await startApp();
  try {
    // More samples: p99 of 200 lets two probes meet a descheduled thread on a shared machine.
    const { idle, loaded } = await scenario(t, app, '/hash', 1, { samples: 200 });
    // The 5 ms target means something only where the control's own tail, with no traffic at all,
    // is well under it (CI once read 4.3 ms in the control and 6.7 ms under load).
    if (quietEnough(idle) && idle.poolP99Ms < 2.5) assert.ok(loaded.poolP99Ms < 5, `pool p99 ${loaded.poolP99Ms} ms`);
    else {
      t.diagnostic('machine too loaded for the absolute pool figure (see the control): judged against the control');
      assert.ok(loaded.poolP99Ms < 5 + 2 * idle.poolP99Ms, `pool p99 ${loaded.poolP99Ms} ms vs ${idle.poolP99Ms} ms in the control`);
      assert.ok(loaded.poolP50Ms < 5 + 2 * idle.poolP50Ms, `pool p50 ${loaded.poolP50Ms} ms vs ${idle.poolP50Ms} ms in the control`);
    }
  } finally {
    await app.close();
  }
});

test('UV_THREADPOOL_SIZE=16 for the same saturated load: the pool delay drops at least 3×', async (t) => {
  // Not a skip: a figure the earlier scenario did not set is a failure to check, never a pass.
  assert.ok(saturatedP50Ms !== undefined, 'the saturated 4-thread scenario ran first and set its median');
  const app = await startApp({ UV_THREADPOOL_SIZE: '16' });
  try {
    const { loaded } = await scenario(t, app, '/hash', 16);
    assert.equal(sumOf(loaded.last, 'loopguard_threadpool_size'), 16);
    // The median: the queue that more threads remove. 16 CPU-bound threads on a machine with fewer
    // cores move part of the wait into the CPU scheduler instead, which shows in the tail (and in
    // the loop's delay): the mean and p99 are in the diagnostics, not judged.
    assert.ok(loaded.poolP50Ms * 3 <= saturatedP50Ms, `median pool delay ${loaded.poolP50Ms} ms with 16 threads vs ${saturatedP50Ms} ms with 4`);
  } finally {
    await app.close();
  }
});

test('a piscina pool saturated by CPU work shows its queue and queue wait through watchPool', async (t) => {
  const app = await startApp({ POOL_APP_PISCINA: '1' });
  try {
    let maxQueue = 0;
    const { loaded } = await scenario(t, app, '/cpu', 16, {
      duringLoad: (s) => (maxQueue = Math.max(maxQueue, sumOf(s, 'loopguard_worker_pool_queue_size', { pool: 'cpu' }))),
    });
    const p99 = sumOf(loaded.last, 'loopguard_worker_pool_wait_seconds', { pool: 'cpu', percentile: '99' });
    t.diagnostic(`piscina, 2 threads, 16 in flight: queue up to ${maxQueue}, its p99 queue wait ${Math.round(p99 * 1000)} ms`);
    assert.equal(sumOf(loaded.last, 'loopguard_worker_pool_size', { pool: 'cpu' }), 2);
    assert.ok(maxQueue >= 4, `queue size seen ${maxQueue}`);
    assert.ok(p99 >= 0.1, `piscina's own p99 queue wait ${p99 * 1000} ms`);
  } finally {
    await app.close();
  }
});
