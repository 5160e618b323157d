import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { eventually } from './helpers/prometheus.mjs';
import { parseExposition, promtoolCheck, sumOf, valueOf } from './fixtures/prometheus-text.mjs';

// The cluster runs in forked processes; this process only makes requests, so
// it is never blocked by the workers' stalls.
let primary;
let info;

before(async () => {
  primary = fork(fileURLToPath(new URL('./fixtures/prometheus-cluster.mjs', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [ready] = await once(primary, 'message');
  info = ready;
  assert.equal(info.workers.length, 2);
  // The primary knows both workers' metrics servers once they announced themselves.
  await eventually(async () => (await fetch(info.metricsUrl)).headers.get('loopguard-cluster-workers') === '2/2', { timeoutMs: 10_000, everyMs: 100 });
});

after(async () => {
  if (primary.exitCode === null) {
    primary.send({ type: 'exit' });
    await once(primary, 'exit');
  }
});

const culprit = { route: '/block', method: 'GET', cause: 'request' };
const scrape = async (url) => parseExposition(await (await fetch(url)).text()).samples;

test("the primary's aggregated /metrics sums the two workers' stalls, counters and histograms alike", async () => {
  for (const worker of info.workers) assert.equal((await fetch(`${worker.appUrl}/block?ms=300`)).status, 200);
  // Each worker counts its own stall once its heartbeat has measured it.
  const perWorker = await eventually(async () => {
    const all = await Promise.all(info.workers.map((w) => scrape(w.metricsUrl)));
    return all.every((s) => sumOf(s, 'loopguard_stalls_total', culprit) === 1) && all;
  }, { timeoutMs: 10_000, everyMs: 100 });
  const res = await fetch(info.metricsUrl);
  assert.equal(res.headers.get('loopguard-cluster-workers'), '2/2');
  const text = await res.text();
  const total = parseExposition(text).samples;
  assert.equal(sumOf(total, 'loopguard_stalls_total', culprit), 2);
  const seconds = perWorker.map((s) => sumOf(s, 'loopguard_stall_seconds_total', culprit));
  assert.ok(seconds.every((s) => s >= 0.2), `each worker stalled: ${seconds}`);
  assert.ok(Math.abs(sumOf(total, 'loopguard_stall_seconds_total', culprit) - (seconds[0] + seconds[1])) < 1e-9);
  assert.equal(sumOf(total, 'loopguard_stall_duration_seconds_count', { cause: 'request' }), 2);
  assert.equal(total.get('loopguard_stall_duration_seconds_bucket{cause="request",le="+Inf"}'), 2);
  assert.equal(total.get('loopguard_stall_duration_seconds_bucket{cause="request",le="0.1"}'), 0);
  assert.equal(sumOf(total, 'loopguard_request_delay_seconds_count', { route: '/block' }), 2);
  const { code, output } = await promtoolCheck(text);
  assert.equal(output, '', 'the aggregated exposition lints clean too');
  assert.equal(code, 0);
  // prom-client's own IPC recipe (AggregatorRegistry.clusterMetrics) agrees: the catalogue's aggregators travel with the metrics.
  const plain = await scrape(info.plainUrl);
  assert.equal(sumOf(plain, 'loopguard_stalls_total', culprit), 2);
  assert.equal(sumOf(plain, 'loopguard_stall_duration_seconds_count', { cause: 'request' }), 2);
});

test('while both workers are blocked, the aggregated scrape answers at once; blocked seconds is the max, not the sum', async () => {
  const [a, b] = info.workers;
  const t0 = performance.now();
  const blocks = [fetch(`${a.appUrl}/block?ms=3000`), fetch(`${b.appUrl}/block?ms=3000`)];
  const polls = [];
  const seen = await eventually(async () => {
    const started = performance.now();
    const res = await fetch(info.metricsUrl);
    const text = await res.text();
    const poll = { ms: performance.now() - started, elapsedS: (performance.now() - t0) / 1000, blocked: valueOf(text, 'loopguard_eventloop_blocked_seconds'), workers: res.headers.get('loopguard-cluster-workers') };
    polls.push(poll);
    return poll.blocked >= 1 && poll;
  }, { timeoutMs: 2800, everyMs: 50 });
  const [blockedA, blockedB] = await Promise.all([a, b].map(async (w) => valueOf(await (await fetch(w.metricsUrl)).text(), 'loopguard_eventloop_blocked_seconds')));
  const plainStarted = performance.now();
  const plain = await fetch(info.plainUrl);
  const plainMs = performance.now() - plainStarted;
  await Promise.all(blocks);

  assert.equal(seen.workers, '2/2', 'both blocked workers answered through their watchdog threads');
  const during = polls.filter((p) => p.blocked > 0.2);
  assert.ok(during.length >= 1);
  // Typically a few ms (it takes three processes and four threads); the bound only says no scrape waited for the 3 s stall.
  for (const p of during) assert.ok(p.ms < 1000, `aggregated scrape during the stall took ${p.ms.toFixed(1)} ms`);
  assert.ok(blockedA >= 0.9 && blockedB >= 0.9, `both workers blocked: ${blockedA}, ${blockedB}`);
  // Neither worker can have been blocked longer than the time since the blocks were requested; a sum would be about twice that.
  assert.ok(seen.blocked <= seen.elapsedS + 0.05, `aggregated ${seen.blocked} s after ${seen.elapsedS.toFixed(2)} s`);
  assert.ok(seen.blocked < 0.75 * (blockedA + blockedB), `aggregated ${seen.blocked} vs workers ${blockedA} + ${blockedB}`);
  // For contrast, prom-client's IPC recipe has to wait for the blocked main threads.
  assert.equal(plain.status, 200);
  assert.ok(plainMs > 500 && plainMs > 5 * seen.ms, `IPC recipe took ${plainMs.toFixed(0)} ms, loopguard's ${seen.ms.toFixed(1)} ms`);
});
