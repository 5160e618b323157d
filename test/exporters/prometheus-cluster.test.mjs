import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { eventually } from '../helpers/prometheus.mjs';
import { parseExposition, promtoolCheck, sumOf, valueOf } from '../fixtures/prometheus-text.mjs';

// The cluster runs in forked processes; this process only makes requests, so
// it is never blocked by the workers' stalls.
let primary;
let info;

before(async () => {
  primary = fork(fileURLToPath(new URL('../fixtures/prometheus-cluster.mjs', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
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
  const BLOCK_MS = 3000;
  const [a, b] = info.workers;
  const t0 = performance.now();
  // When each blocked request is answered: its worker's loop turned again. Scrapes are judged
  // against these moments, not against a fixed number of milliseconds.
  let firstAnswered = Infinity;
  let answered = 0;
  const blocks = [a, b].map((w) =>
    fetch(`${w.appUrl}/block?ms=${BLOCK_MS}`).then(async (res) => {
      await res.arrayBuffer();
      firstAnswered = Math.min(firstAnswered, performance.now());
      answered++;
      return res.status;
    }),
  );
  const polls = [];
  let seen;
  // Poll until the aggregated gauge shows the stall, for as long as both workers are still blocked.
  while (answered === 0 && !seen) {
    const started = performance.now();
    const res = await fetch(info.metricsUrl);
    const text = await res.text();
    const poll = { started, ended: performance.now(), elapsedS: (performance.now() - t0) / 1000, blocked: valueOf(text, 'loopguard_eventloop_blocked_seconds'), workers: res.headers.get('loopguard-cluster-workers') };
    polls.push(poll);
    if (poll.blocked >= 1) seen = poll;
    else await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(seen, `the aggregated scrape showed the loop blocked >= 1 s before the blocks ended: ${JSON.stringify(polls.slice(-5))}`);
  // Asked at once, while both main threads are still blocked.
  const plainStarted = performance.now();
  const plain = fetch(info.plainUrl).then(async (res) => ({ status: res.status, ended: (await res.arrayBuffer(), performance.now()) }));
  const [blockedA, blockedB] = await Promise.all([a, b].map(async (w) => valueOf(await (await fetch(w.metricsUrl)).text(), 'loopguard_eventloop_blocked_seconds')));
  const plainDone = await plain;
  assert.deepEqual(await Promise.all(blocks), [200, 200]);

  assert.equal(seen.workers, '2/2', 'both blocked workers answered through their watchdog threads');
  // Every scrape that saw the stall was answered while both workers were still blocked: none waited for it.
  // "At once" relative to the stall: typically a few ms (three processes, four threads), and well under a third of it.
  for (const p of polls.filter((p) => p.blocked > 0.2)) {
    assert.ok(p.ended < firstAnswered, `a scrape during the stall was answered ${(p.ended - firstAnswered).toFixed(0)} ms after the first block ended`);
    assert.ok(p.ended - p.started < BLOCK_MS / 3, `a scrape during the ${BLOCK_MS} ms stall took ${(p.ended - p.started).toFixed(0)} ms`);
  }
  assert.ok(blockedA >= 0.9 && blockedB >= 0.9, `both workers blocked: ${blockedA}, ${blockedB}`);
  // Neither worker can have been blocked longer than the time since the blocks were requested; a sum would be about twice that.
  assert.ok(seen.blocked <= seen.elapsedS + 0.05, `aggregated ${seen.blocked} s after ${seen.elapsedS.toFixed(2)} s`);
  assert.ok(seen.blocked < 0.75 * (blockedA + blockedB), `aggregated ${seen.blocked} vs workers ${blockedA} + ${blockedB}`);
  // For contrast, prom-client's IPC recipe has to wait for the blocked main threads: asked before
  // either block ended, it is answered only after one has.
  assert.equal(plainDone.status, 200);
  assert.ok(plainStarted < firstAnswered, 'the IPC recipe was asked while the workers were blocked');
  assert.ok(plainDone.ended >= firstAnswered, `IPC recipe answered ${(firstAnswered - plainDone.ended).toFixed(0)} ms before any blocked worker turned`);
});
