import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BusyEstimator, wilsonInterval, BusySampler, resolveOptions } from '../../dist/internal.js';

const sum = (it) => [...it].reduce((s, t) => s + t.seconds, 0);

test('busy estimator: each interval\'s ELU busy time is shared by the samples, so the keys add up to it', () => {
  const e = new BusyEstimator();
  for (let i = 0; i < 30; i++) e.record('a');
  for (let i = 0; i < 10; i++) e.record('b');
  e.recordIdle();
  e.fold(2, 1000);
  const totals = Object.fromEntries([...e.totals()].map((t) => [t.key, t]));
  assert.equal(totals.a.seconds, 1.5);
  assert.equal(totals.b.seconds, 0.5);
  assert.equal(totals.a.samples, 30);
  e.record('b', 4);
  e.fold(1, 2000);
  assert.equal(Object.fromEntries([...e.totals()].map((t) => [t.key, t.seconds])).b, 1.5);
  assert.ok(Math.abs(sum(e.totals()) - 3) < 1e-12);
});

test('busy estimator: a declared key is exported at 0 before its first sample', () => {
  const e = new BusyEstimator();
  e.declare('bg');
  assert.deepEqual([...e.totals()].map((t) => [t.key, t.seconds]), [['bg', 0]]);
});

test('busy estimator: an interval with no busy sample is shared by the all-time counts; before any sample it is carried', () => {
  const e = new BusyEstimator();
  e.fold(0.3, 0); // no sample yet: carried
  assert.equal(sum(e.totals()), 0);
  e.record('a', 3);
  e.record('b', 1);
  e.fold(0.1, 1000); // 0.4 s shared 3:1
  assert.ok(Math.abs(sum(e.totals()) - 0.4) < 1e-12);
  e.fold(0.8, 2000); // sampler backed off: shared by the all-time counts
  const totals = Object.fromEntries([...e.totals()].map((t) => [t.key, t.seconds]));
  assert.ok(Math.abs(totals.a - 0.9) < 1e-12 && Math.abs(totals.b - 0.3) < 1e-12, JSON.stringify(totals));
  e.fold(Number.NaN, 3000);
  e.fold(-1, 4000);
  assert.ok(Math.abs(sum(e.totals()) - 1.2) < 1e-12, 'NaN and negative intervals add nothing');
});

test('busy estimator: shares cover the last one to two windows, largest first, with intervals that hold the share', () => {
  const e = new BusyEstimator(60_000);
  e.fold(0, 0);
  for (let i = 0; i < 80; i++) e.record('old');
  e.fold(1, 30_000);
  e.fold(1, 61_000); // rotates: old is now the previous window
  for (let i = 0; i < 20; i++) e.record('new');
  let { shares, busySamples } = e.shares();
  assert.equal(busySamples, 100);
  assert.deepEqual(shares.map((s) => s.key), ['old', 'new']);
  assert.ok(shares[1].low < 0.2 && shares[1].high > 0.2);
  e.fold(1, 122_000); // rotates again: old falls out
  ({ shares } = e.shares());
  assert.deepEqual(shares.map((s) => [s.key, s.share]), [['new', 1]]);
  e.fold(1, 400_000); // a long gap leaves nothing recent
  assert.equal(e.shares().busySamples, 0);
});

test('wilson interval: inside [0, 1], contains the estimate, narrows with n', () => {
  const [lo0, hi0] = wilsonInterval(0, 50);
  assert.equal(lo0, 0);
  assert.ok(hi0 > 0 && hi0 < 0.1);
  const [lo, hi] = wilsonInterval(30, 100);
  assert.ok(lo < 0.3 && hi > 0.3 && lo > 0.2 && hi < 0.4);
  const [lo2, hi2] = wilsonInterval(300, 1000);
  assert.ok(hi2 - lo2 < (hi - lo) / 2.5);
  assert.deepEqual(wilsonInterval(0, 0), [0, 1]);
});

test('busy sampler: exponential gaps with the configured mean, doubling once samples have found the loop idle for two seconds', () => {
  let answer = 1;
  const session = { post: (_m, _p, cb) => cb(null, { result: { value: answer } }) };
  // The main thread's state read as running: every sample is asked for, whatever this machine's load.
  const s = new BusySampler(session, { sinkId: 1, sampleHz: 10 }, Math.random, { read: () => false, close() {} });
  const mean = (n) => {
    let total = 0;
    for (let i = 0; i < n; i++) total += s.nextGapMs();
    return total / n;
  };
  const m = mean(20_000);
  assert.ok(m > 85 && m < 105, `mean gap ${m} ms at 10 Hz`); // clamped at 5× the mean: slightly under 100
  for (let i = 0; i < 19; i++) s['fire']();
  assert.ok(mean(20_000) < 1.2 * m, 'idle answers for less than two seconds of samples: no back-off yet');
  s['fire']();
  s['fire']();
  s['fire']();
  assert.ok(mean(20_000) > 3 * m, 'two seconds of idle answers and more: the gaps grew');
  answer = 0;
  s['fire']();
  s.stop();
  assert.ok(mean(20_000) < 1.2 * m, 'a busy answer resets the back-off');
});

test('options: busySampleHz defaults to 10, 0 turns it off, bad values throw naming it', () => {
  assert.equal(resolveOptions({}).busySampleHz, 10);
  assert.equal(resolveOptions({ busySampleHz: 0 }).busySampleHz, 0);
  for (const bad of [-1, 1001, Number.NaN, '10', true]) {
    assert.throws(() => resolveOptions({ busySampleHz: bad }), (err) => err instanceof TypeError && /busySampleHz/.test(err.message));
  }
});

test('shedding: with rankByBusyTime a saturated loop with no stall sheds the routes taking most of its time; off by default', async () => {
  const { Shedder } = await import('../../dist/internal.js');
  const { resolveShedOptions } = await import('../../dist/internal.js');
  const routes = [
    { route: '/report/:id', method: 'GET', requests: 0 },
    { route: '/search', method: 'GET', requests: 0 },
    { route: '/items/:id', method: 'GET', requests: 0 },
  ];
  const busy = {
    shares: () => ({
      shares: [
        { key: { route: '/report/:id', method: 'GET', cause: 'request' }, share: 0.55 },
        { key: { route: '/search', method: 'GET', cause: 'request' }, share: 0.3 },
        { key: { route: '(background)', method: '', cause: 'background' }, share: 0.1 },
        { key: { route: '/items/:id', method: 'GET', cause: 'request' }, share: 0.05 },
      ],
    }),
  };
  const run = (rankByBusyTime) => {
    const host = { loop: { utilization: 0.97 }, routes: { all: () => routes }, shedTotals: new Map(), reportError: (e) => { throw e; }, shedChanged: () => {}, busy };
    const shedder = new Shedder(resolveShedOptions({ maxEventLoopUtilization: 0.9, rankByBusyTime, escalateAfterMs: 60_000 }, 100), host);
    // 8 and 4 ms a request on the two heavy routes, 0.2 ms on the cheap one, over the window.
    let t = 0;
    for (; t <= 6000; t += 250) {
      routes[0].requests += 17; routes[1].requests += 19; routes[2].requests += 62;
      shedder.onBeat(2, t);
    }
    return shedder;
  };
  const ranked = run(true);
  assert.equal(ranked.state, 'culprits');
  assert.deepEqual(ranked.status().culprits, [{ route: '/report/:id', method: 'GET' }, { route: '/search', method: 'GET' }]);
  assert.ok(ranked.check('GET', '/report/7') !== null && ranked.check('GET', '/items/1') === null);
  const plain = run(false);
  assert.equal(plain.state, 'pressure', 'without the option no culprit is known: nothing is shed yet');
  assert.equal(plain.active, false);
});

test('shed options: rankByBusyTime is a boolean, off by default', async () => {
  const { resolveShedOptions } = await import('../../dist/internal.js');
  assert.equal(resolveShedOptions(true, 100).rankByBusyTime, false);
  assert.throws(() => resolveShedOptions({ rankByBusyTime: 'yes' }, 100), (err) => err instanceof TypeError && /shed\.rankByBusyTime/.test(err.message));
});

test('busy sampler: on Linux the worker reads whether the main thread waits in epoll (idle by ELU\'s definition) or runs', { skip: process.platform !== 'linux' }, async () => {
  const { Worker } = await import('node:worker_threads');
  const { openLoopIdleReader } = await import('../../dist/internal.js');
  const own = openLoopIdleReader();
  assert.ok(own !== undefined, 'procfs syscall file readable');
  assert.equal(own.read(), false, 'this thread, reading itself, is running');
  own.close();
  assert.equal(openLoopIdleReader(process.pid, 'no-such-arch'), undefined);
  const url = new URL('../../dist/internal.js', import.meta.url).href;
  // The worker reads while this thread waits in epoll (awaiting its message), then while it spins.
  const worker = new Worker(`
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(url)}).then(({ openLoopIdleReader }) => {
      const r = openLoopIdleReader();
      parentPort.postMessage('ready');
      parentPort.on('message', (m) => {
        const deadline = performance.now() + 200;
        let seen = false;
        // Under load one read can catch the thread between syscalls: wait for the expected state.
        while (!seen && performance.now() < deadline) seen = r.read() === (m === 'idle');
        parentPort.postMessage(seen);
      });
    });`, { eval: true });
  const { once } = await import('node:events');
  await once(worker, 'message');
  worker.postMessage('idle');
  const [idleSeen] = await once(worker, 'message');
  assert.equal(idleSeen, true, 'seen waiting in epoll while this loop idles');
  worker.postMessage('busy');
  const spinUntil = performance.now() + 300;
  while (performance.now() < spinUntil);
  const [busySeen] = await once(worker, 'message');
  assert.equal(busySeen, true, 'seen running while this thread spins');
  await worker.terminate();
});

test('busy time: a sample asked for during a GC pause is (gc), one inside expectBlocking is expected, the rest the loop\'s own work', async () => {
  const { BusyTime } = await import('../../dist/internal.js');
  const { busySharedViews } = await import('../../dist/internal.js');
  const { RouteTable } = await import('../../dist/internal.js');
  const { createLoopGuard } = await import('loopguard');
  const pauses = [{ start: 1000, end: 1005 }];
  const busy = new BusyTime(new RouteTable(10), {}, 10, undefined, () => pauses);
  const { askedAt } = busySharedViews(busy.shared);
  const { kBusyProbe } = await import('../../dist/internal.js');
  const probe = globalThis[kBusyProbe];
  const guard = createLoopGuard({ busySampleHz: 0, prometheus: false, otel: false });
  // Inside a callback (execution async id not 0), as the interrupt lands in running code.
  await new Promise((resolve) => setImmediate(() => {
    askedAt[0] = 1002; // inside the pause: GC's
    assert.equal(probe(busy.sinkId), 0);
    askedAt[0] = 1010; // after it: the code running
    assert.equal(probe(busy.sinkId), 0);
    guard.expectBlocking(() => assert.equal(probe(busy.sinkId), 0));
    resolve();
  }));
  const byCause = Object.fromEntries(busy.shares().shares.map((s) => [`${s.key.cause} ${s.key.route}`, s.samples]));
  busy.close();
  await guard.close();
  assert.deepEqual(byCause, { 'gc (gc)': 1, 'background (background)': 1, 'expected (background)': 1 });
});
