// The stall pipeline with a fake clock and fake samples: no timers, no worker, no server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StallPipeline, SAMPLES_TIMEOUT_MS, PENDING_ROUTE_TIMEOUT_MS } from '../../dist/internal.js';

/** A scheduler whose time moves only when told. */
function fakeScheduler(start = 1_000_000) {
  let now = start;
  let nextId = 1;
  const timers = new Map();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(id) {
      timers.delete(id);
    },
    /** Moves time on, running the timers that fall due, in order. */
    advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = [...timers].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
        if (due === undefined) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fn();
      }
      now = until;
    },
    get pending() {
      return timers.size;
    },
  };
}

function setup({ gcPauses = [] } = {}) {
  const clock = fakeScheduler();
  const seen = { delivered: [], culprits: [], charged: [], used: [] };
  const pipeline = new StallPipeline(
    { heartbeatMs: 25 },
    {
      gcPauses: () => gcPauses,
      chargeStall: (id, ms) => seen.charged.push([id, ms]),
      culprit: (id, report) => seen.culprits.push([id, report]),
      deliver: (report) => seen.delivered.push(report),
      samplesUsed: (samples) => seen.used.push(samples),
    },
    clock,
  );
  return { clock, seen, pipeline };
}

const stall = (window, startedAt, durationMs, inFlight = 0) => ({ window, startedAt, durationMs, inFlight });
const frame = { functionName: 'hash', url: '/app/auth.js', lineNumber: 3, columnNumber: 1 };
const sample = (window, at, asyncId, request = null) => ({ window, at, asyncId, request, stack: request ? [frame] : [] });

test('pipeline: a stall with no capture coming is delivered at once as background', () => {
  const { seen, pipeline, clock } = setup();
  pipeline.measured(stall(4, 1000, 180.04, 2), false);
  assert.equal(seen.delivered.length, 1);
  assert.deepEqual(seen.delivered[0], { id: 1, startedAt: 1000, durationMs: 180, route: null, method: null, cause: 'background', stack: [], victims: 2, advice: null, afterResponse: false, state: null, threadTime: { onCpuMs: null, waitingMs: null, throttledMs: null, gcMs: 0 }, interrupted: null });
  assert.equal(clock.pending, 0, 'no timer left behind');
});

test('pipeline: a stall waits for its samples, then names the culprit; the culprit is not its own victim', () => {
  const { seen, pipeline } = setup();
  pipeline.measured(stall(7, 1000, 300, 3), true);
  assert.equal(seen.delivered.length, 0, 'waiting for the watchdog');
  const samples = [sample(7, 1060, 11, { id: 42, method: 'POST', route: '/login' }), sample(7, 1160, 11, { id: 42, method: 'POST', route: '/login' })];
  pipeline.samplesArrived(7, samples);
  assert.equal(seen.delivered.length, 1);
  const [report] = seen.delivered;
  assert.deepEqual([report.route, report.method, report.cause, report.victims, report.durationMs], ['/login', 'POST', 'request', 2, 300]);
  assert.deepEqual(report.stack, [frame]);
  assert.deepEqual(seen.charged, [[42, 300]], 'its own stall is charged to the request still in flight');
  assert.equal(seen.culprits[0][0], 42);
  assert.deepEqual(seen.used, [samples]);
});

test('pipeline: samples for a window no stall waits for are used and make no report', () => {
  const { seen, pipeline } = setup();
  pipeline.samplesArrived(3, [sample(3, 1000, 5)]);
  assert.equal(seen.delivered.length, 0);
  assert.equal(seen.used.length, 1);
});

test('pipeline: samples that never come: the stall is reported without them after the timeout', () => {
  const { seen, pipeline, clock } = setup();
  clock.advance(0);
  pipeline.measured(stall(9, clock.now() - 200, 200, 1), true);
  clock.advance(SAMPLES_TIMEOUT_MS - 1);
  assert.equal(seen.delivered.length, 0);
  clock.advance(1);
  assert.equal(seen.delivered.length, 1);
  assert.equal(seen.delivered[0].cause, 'background');
  assert.equal(clock.pending, 0);
  pipeline.samplesArrived(9, [sample(9, 0, 1, { id: 1, method: 'GET', route: '/late' })]);
  assert.equal(seen.delivered.length, 1, 'samples after the timeout do not report it twice');
});

test('pipeline: a culprit caught before routing waits for its route, taken when the request finishes', () => {
  const { seen, pipeline, clock } = setup();
  pipeline.measured(stall(2, 1000, 250, 1), true);
  pipeline.samplesArrived(2, [sample(2, 1050, 8, { id: 5, method: 'POST', route: null })]);
  assert.equal(seen.delivered.length, 0, 'waiting for the route');
  assert.equal(seen.culprits.length, 1, 'the culprit is known at once (span events need it)');
  pipeline.culpritFinished(5, '/upload/:id');
  assert.equal(seen.delivered.length, 1);
  assert.equal(seen.delivered[0].route, '/upload/:id');
  assert.equal(clock.pending, 0, 'its timeout was cleared');
});

test('pipeline: a culprit that never finishes is reported without a route after the route timeout', () => {
  const { seen, pipeline, clock } = setup();
  pipeline.measured(stall(2, 1000, 250, 1), true);
  pipeline.samplesArrived(2, [sample(2, 1050, 8, { id: 5, method: 'POST', route: null })]);
  clock.advance(PENDING_ROUTE_TIMEOUT_MS);
  assert.equal(seen.delivered.length, 1);
  assert.equal(seen.delivered[0].route, null);
  assert.equal(seen.delivered[0].cause, 'request');
});

test('pipeline: samples of a culprit that already finished take its final route, and every in-flight request was a victim', () => {
  const { seen, pipeline } = setup();
  pipeline.measured(stall(6, 1000, 400, 2), true);
  pipeline.culpritFinished(77, '/reports/:id');
  pipeline.samplesArrived(6, [sample(6, 1100, 3, { id: 77, method: 'GET', route: null })]);
  assert.equal(seen.delivered.length, 1);
  assert.deepEqual([seen.delivered[0].route, seen.delivered[0].victims], ['/reports/:id', 2]);
  assert.deepEqual(seen.charged, [], 'nothing charged to a finished request');
});

test('pipeline: a stall the loop spent in GC is gc, whoever ran next', () => {
  const { seen, pipeline } = setup({ gcPauses: [{ start: 1005, end: 1290 }] });
  pipeline.measured(stall(1, 1000, 300, 0), true);
  pipeline.samplesArrived(1, [sample(1, 1250, 4, { id: 9, method: 'GET', route: '/next' })]);
  assert.deepEqual(seen.delivered.map((r) => [r.cause, r.route]), [['gc', null]]);
});

test('pipeline: back-to-back culprits in one stale window become two reports', () => {
  const { seen, pipeline } = setup();
  pipeline.measured(stall(3, 1000, 600, 1), true);
  pipeline.samplesArrived(3, [
    sample(3, 1060, 3),
    sample(3, 1160, 3),
    sample(3, 1320, 9, { id: 2, method: 'GET', route: '/b' }),
    sample(3, 1420, 9, { id: 2, method: 'GET', route: '/b' }),
  ]);
  assert.deepEqual(
    seen.delivered.map((r) => [r.cause, r.route, r.startedAt, r.durationMs]),
    [
      ['background', null, 1000, 320],
      ['request', '/b', 1320, 280],
    ],
  );
  assert.deepEqual(seen.delivered.map((r) => r.id), [1, 2], 'report ids count up');
});

test('pipeline: after close() nothing is delivered and no timer is left', () => {
  const { seen, pipeline, clock } = setup();
  pipeline.measured(stall(2, 1000, 250, 1), true);
  pipeline.measured(stall(3, 1300, 250, 1), true);
  pipeline.samplesArrived(2, [sample(2, 1050, 8, { id: 5, method: 'POST', route: null })]);
  pipeline.close();
  assert.equal(clock.pending, 0);
  pipeline.culpritFinished(5, '/x');
  pipeline.measured(stall(4, 2000, 300, 0), false);
  clock.advance(PENDING_ROUTE_TIMEOUT_MS * 2);
  assert.equal(seen.delivered.length, 0);
});

test('pipeline: work a finished request left behind is its route\'s, after the response, and it is no victim', () => {
  const { seen, pipeline } = setup();
  pipeline.measured(stall(9, 2000, 150, 3), true);
  const leftBehind = { id: 77, method: 'POST', route: '/orders', afterResponse: true };
  pipeline.samplesArrived(9, [sample(9, 2040, 21, leftBehind), sample(9, 2100, 21, leftBehind)]);
  assert.equal(seen.delivered.length, 1);
  const [report] = seen.delivered;
  assert.deepEqual([report.route, report.method, report.cause, report.afterResponse], ['/orders', 'POST', 'request', true]);
  assert.equal(report.victims, 3, 'the finished request was not in flight: every request in flight is a victim');
  assert.deepEqual(seen.charged, [], 'nothing charged to a request that has finished');
  assert.deepEqual(seen.culprits, [], 'its span has ended: no culprit hook');
});

test('pipeline: the advice for left-behind work says to move it off the request loop', () => {
  const { seen, pipeline } = setup();
  pipeline.measured(stall(10, 3000, 150, 0), true);
  const leftBehind = { id: 78, method: 'POST', route: '/orders', afterResponse: true };
  const advice = { call: 'crypto.pbkdf2Sync', kind: 'sync-crypto', fix: 'Use crypto.pbkdf2.', docs: 'x' };
  pipeline.samplesArrived(10, [{ ...sample(10, 3040, 22, leftBehind), advice }, { ...sample(10, 3100, 22, leftBehind), advice }]);
  const [report] = seen.delivered;
  assert.equal(report.advice.call, 'crypto.pbkdf2Sync');
  assert.equal(report.advice.kind, 'sync-crypto');
  assert.match(report.advice.fix, /job queue or a worker pool/);
  assert.match(report.advice.fix, /Use crypto\.pbkdf2\./);
});

// ── The thread's state (issue 27): the worker's clock comes with its samples ──

/** A worker measurement over `wallMs` from detection, shaped like docs/stall-state.md's. */
const clockOver = (wallMs, onCpuMs, waitingMs, throttledMs = 0) => ({ wallMs, onCpuMs, waitingMs, throttledMs, nrThrottled: throttledMs > 0 ? 1 : 0, taskState: 'R', unavailable: [] });

test('pipeline: a host stall blames no one, charges nothing, keeps the interrupted request and says why', () => {
  const { seen, pipeline } = setup();
  pipeline.measured(stall(5, 1000, 450, 3), true);
  const caught = [sample(5, 1100, 21, { id: 8, method: 'GET', route: '/fast' }), sample(5, 1300, 21, { id: 8, method: 'GET', route: '/fast' })];
  pipeline.samplesArrived(5, caught.map((s) => ({ ...s, preempted: true })), clockOver(400, 20, 378, 300));
  assert.equal(seen.delivered.length, 1);
  const [report] = seen.delivered;
  assert.deepEqual([report.cause, report.route, report.method, report.state, report.victims], ['host', null, null, 'host', 3]);
  assert.deepEqual(report.interrupted, { route: '/fast', method: 'GET' });
  assert.equal(report.advice.kind, 'host');
  assert.deepEqual(report.stack, [], 'no frame to blame');
  assert.deepEqual(report.threadTime, { onCpuMs: 22.5, waitingMs: 425.3, throttledMs: 337.5, gcMs: 0 }, 'scaled from the 400 ms window to the 450 ms stall');
  assert.deepEqual(seen.culprits, [], 'no culprit hook');
  assert.deepEqual(seen.charged, [], 'nothing charged: the request waited like the others');
});

test('pipeline: a culprit that ran 300 ms of its own on a loaded machine stays cpu and blamed, preempted probes left out', () => {
  const { seen, pipeline } = setup();
  pipeline.measured(stall(6, 1000, 700, 1), true);
  const own = { id: 3, method: 'POST', route: '/hash' };
  const samples = [{ ...sample(6, 1100, 4, own), preempted: true }, sample(6, 1200, 4, own), sample(6, 1400, 4, own)];
  pipeline.samplesArrived(6, samples, clockOver(650, 280, 370));
  const [report] = seen.delivered;
  assert.deepEqual([report.cause, report.route, report.state], ['request', '/hash', 'cpu']);
  assert.equal(report.interrupted, null);
});

test('pipeline: only preempted probes and a non-host stall: nobody is blamed on their word', () => {
  const { seen, pipeline } = setup();
  pipeline.measured(stall(6, 1000, 400, 1), true);
  pipeline.samplesArrived(6, [{ ...sample(6, 1100, 4, { id: 3, method: 'GET', route: '/next' }), preempted: true }], clockOver(350, 330, 10));
  assert.deepEqual([seen.delivered[0].cause, seen.delivered[0].route, seen.delivered[0].state], ['background', null, 'cpu']);
});

test('pipeline: advice follows the state: parked with no call names a blocking system call, computing never gets sync-I/O advice', () => {
  const { seen, pipeline } = setup();
  const req = { id: 1, method: 'GET', route: '/r' };
  pipeline.measured(stall(1, 1000, 320, 0), true);
  pipeline.samplesArrived(1, [sample(1, 1100, 9, req)], clockOver(300, 2, 1));
  assert.equal(seen.delivered[0].state, 'parked');
  assert.equal(seen.delivered[0].advice.kind, 'blocking-syscall');
  assert.match(seen.delivered[0].advice.fix, /blocking system call: look for sync I\/O, a sync child process or a wait/);

  const syncFs = { call: 'fs.readFileSync', kind: 'sync-fs', fix: 'Use fs.promises.readFile.', docs: 'x' };
  pipeline.measured(stall(2, 2000, 320, 0), true);
  pipeline.samplesArrived(2, [{ ...sample(2, 2100, 9, { ...req, id: 2 }), advice: syncFs }], clockOver(300, 295, 1));
  assert.equal(seen.delivered[1].state, 'cpu');
  assert.equal(seen.delivered[1].advice.kind, 'cpu', 'the read returned; the computing held the loop');

  pipeline.measured(stall(3, 3000, 320, 0), true);
  pipeline.samplesArrived(3, [{ ...sample(3, 3100, 9, { ...req, id: 3 }), advice: syncFs }], clockOver(300, 3, 1));
  assert.deepEqual([seen.delivered[2].state, seen.delivered[2].advice.kind], ['parked', 'sync-fs'], 'a known call in a parked stall is kept');
});

test('pipeline: without a clock (not Linux, captures off) the state is null unless GC decides', () => {
  const { seen, pipeline } = setup({ gcPauses: [{ start: 1000, end: 1290 }] });
  pipeline.measured(stall(1, 1000, 300, 0), false);
  assert.deepEqual([seen.delivered[0].cause, seen.delivered[0].state, seen.delivered[0].threadTime.gcMs], ['gc', 'gc', 290]);
  pipeline.measured(stall(2, 5000, 300, 0), false);
  assert.deepEqual([seen.delivered[1].state, seen.delivered[1].threadTime.onCpuMs], [null, null]);
});
