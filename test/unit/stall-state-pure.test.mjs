// The stall-state classifier: pure, on numbers shaped like the ones measured
// on this VM (docs/stall-state.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyStall } from '../../dist/internal.js';

const none = { onCpuMs: null, waitingMs: null, throttledMs: null, gcMs: null };
const state = (input) => classifyStall({ thresholdMs: 100, ...none, ...input }).state;

test('cpu: a 300 ms loop, on a CPU nearly all the time', () => {
  assert.equal(state({ durationMs: 300, onCpuMs: 297, waitingMs: 2, throttledMs: 0, gcMs: 0 }), 'cpu');
});

test('parked: execSync, Atomics.wait, a FIFO read: neither on a CPU nor waiting for one', () => {
  assert.equal(state({ durationMs: 305, onCpuMs: 3, waitingMs: 0.2, gcMs: 0 }), 'parked');
});

test('gc: GC pauses cover most of the stall', () => {
  assert.equal(state({ durationMs: 400, onCpuMs: 390, waitingMs: 3, gcMs: 380 }), 'gc');
});

test('host, preemption: a 30 ms route that a real-time task kept off its CPU for 490 ms', () => {
  const r = classifyStall({ thresholdMs: 100, durationMs: 517, onCpuMs: 31, waitingMs: 486, throttledMs: 0, gcMs: 0 });
  assert.deepEqual(r, { state: 'host', hostCaused: true, threadTime: { onCpuMs: 31, waitingMs: 486, throttledMs: 0, gcMs: 0 } });
});

test('host, throttling: a 5 ms route caught by the end of the quota; the wait is the throttled time', () => {
  assert.equal(state({ durationMs: 455, onCpuMs: 5, waitingMs: 449, throttledMs: 449, gcMs: 0 }), 'host');
});

test('a real culprit that the quota stretched stays the route\'s: 123 ms of CPU is a stall on any machine', () => {
  // Measured here: 123 ms of CPU in a group with 50 ms per 500 ms took 815 ms.
  const r = classifyStall({ thresholdMs: 100, durationMs: 815, onCpuMs: 123, waitingMs: 695, throttledMs: 692, gcMs: 0 });
  assert.equal(r.state, 'cpu');
  assert.equal(r.hostCaused, false);
  assert.equal(r.threadTime.throttledMs, 692);
});

test('positive control: a 300 ms CPU culprit on a loaded machine waits most of the time and still is cpu', () => {
  // Load 4 on 2 cores: ~40 % of a CPU. A rule on shares alone would say host here.
  assert.equal(state({ durationMs: 750, onCpuMs: 300, waitingMs: 450, gcMs: 0 }), 'cpu');
  // Load 8: a quarter of a CPU.
  assert.equal(state({ durationMs: 1200, onCpuMs: 300, waitingMs: 900, gcMs: 0 }), 'cpu');
});

test('mixed: a short route on a loaded machine becomes a stall only through the wait: host', () => {
  assert.equal(state({ durationMs: 140, onCpuMs: 20, waitingMs: 120 }), 'host');
});

test('mixed: own time at the threshold is the route\'s, however long the wait', () => {
  assert.equal(state({ durationMs: 400, onCpuMs: 100, waitingMs: 300 }), 'cpu');
  assert.equal(state({ durationMs: 400, onCpuMs: 99.9, waitingMs: 300.1 }), 'host');
});

test('mixed: a wait under half the stall never makes it host, even with little own time', () => {
  assert.equal(state({ durationMs: 150, onCpuMs: 50, waitingMs: 74.9 }), 'cpu');
  assert.equal(state({ durationMs: 150, onCpuMs: 50, waitingMs: 75 }), 'host');
});

test('mixed: GC at exactly half the stall is gc; just under, the code\'s', () => {
  assert.equal(state({ durationMs: 400, onCpuMs: 390, waitingMs: 0, gcMs: 200 }), 'gc');
  assert.equal(state({ durationMs: 400, onCpuMs: 390, waitingMs: 0, gcMs: 199.9 }), 'cpu');
});

test('mixed: a parallel GC leaves the main thread waiting for a CPU behind its helpers: still gc, not host', () => {
  // Measured here: a 452 ms full GC, 90 ms on a CPU, 352 ms waiting.
  assert.equal(state({ durationMs: 452, onCpuMs: 90, waitingMs: 352, gcMs: 452 }), 'gc');
  // And asleep while the helpers mark: not parked either.
  assert.equal(state({ durationMs: 83, thresholdMs: 50, onCpuMs: 11, waitingMs: 13, gcMs: 83 }), 'gc');
});

test('mixed: cpu when on-CPU is at least half of the own time, else parked', () => {
  // 300 ms own (400 − 100 waiting): 150 on a CPU, 150 asleep.
  assert.equal(state({ durationMs: 400, onCpuMs: 150, waitingMs: 100 }), 'cpu');
  assert.equal(state({ durationMs: 400, onCpuMs: 149.9, waitingMs: 100 }), 'parked');
});

test('window: thread times read from detection on are shares, applied to the whole stall', () => {
  // Stall of 600 ms, read over its last 500: 460 waiting. 8 % own → 48 ms of a 600 ms stall: host.
  assert.equal(state({ durationMs: 600, windowMs: 500, onCpuMs: 40, waitingMs: 460 }), 'host');
  // Same shares over a 2 s stall: 160 ms own, past the threshold.
  assert.equal(state({ durationMs: 2000, windowMs: 500, onCpuMs: 40, waitingMs: 460 }), 'cpu');
});

test('unknown: no schedstat (not Linux) and no GC says nothing: null, with the fields null', () => {
  const r = classifyStall({ thresholdMs: 100, durationMs: 300, ...none });
  assert.deepEqual(r, { state: null, hostCaused: false, threadTime: none });
});

test('unknown: GC alone still decides gc; throttling alone still decides host', () => {
  assert.equal(state({ durationMs: 300, gcMs: 280 }), 'gc');
  assert.equal(state({ durationMs: 500, throttledMs: 450 }), 'host');
  assert.equal(state({ durationMs: 500, throttledMs: 100 }), null);
});

test('unknown: throttling known but schedstat missing never guesses cpu or parked', () => {
  assert.equal(state({ durationMs: 500, throttledMs: 0, gcMs: 0 }), null);
});

test('bad input: NaN, negatives and a zero duration are unknown, not a state', () => {
  assert.equal(state({ durationMs: 0, onCpuMs: 0, waitingMs: 0 }), null);
  assert.equal(state({ durationMs: NaN, onCpuMs: 1, waitingMs: 1 }), null);
  const r = classifyStall({ thresholdMs: 100, durationMs: 300, onCpuMs: -1, waitingMs: NaN, throttledMs: Infinity, gcMs: 5 });
  assert.deepEqual(r.threadTime, { onCpuMs: null, waitingMs: null, throttledMs: null, gcMs: 5 });
  assert.equal(r.state, null);
  // An empty window (the stall ended as it was detected): only GC entries can still speak.
  assert.equal(state({ durationMs: 300, windowMs: 0, onCpuMs: 0, waitingMs: 0, gcMs: 200 }), 'gc');
  assert.equal(state({ durationMs: 300, windowMs: 0, onCpuMs: 0, waitingMs: 0, gcMs: 0 }), null);
});

test('a wait longer than the window (reads are not atomic) counts as all of it, not more', () => {
  assert.equal(state({ durationMs: 300, onCpuMs: 2, waitingMs: 301 }), 'host');
});

test('threadTimeByState: a stall split by what its thread did adds up to the stall; GC first, the rest in proportion', async () => {
  const { threadTimeByState } = await import('../../dist/internal.js');
  const sum = (r) => Object.values(r).reduce((a, b) => a + b, 0);
  const host = threadTimeByState(450, { onCpuMs: 22.5, waitingMs: 425.3, throttledMs: 337.5, gcMs: 0 });
  assert.equal(Math.round(host.throttled), 338);
  assert.equal(Math.round(host.host), 88);
  assert.equal(Math.round(host.cpu), 23);
  assert.ok(Math.abs(sum(host) - 450) < 1e-9);
  const gc = threadTimeByState(400, { onCpuMs: 100, waitingMs: 300, throttledMs: 0, gcMs: 300 });
  assert.equal(gc.gc, 300);
  assert.equal(gc.cpu + gc.host, 100, 'the rest in the measured proportions');
  assert.deepEqual(threadTimeByState(200, { onCpuMs: null, waitingMs: null, throttledMs: null, gcMs: 0 }), { cpu: 0, parked: 0, gc: 0, host: 0, throttled: 0, unknown: 200 });
  const noisy = threadTimeByState(300, { onCpuMs: 290, waitingMs: 30, throttledMs: null, gcMs: 0 });
  assert.ok(Math.abs(sum(noisy) - 300) < 1e-9 && noisy.parked === 0, 'readings past the stall are scaled down, never negative');
});

test('classifyStall: threadTime is the window scaled to the whole stall, each part at most the stall', () => {
  const r = classifyStall({ thresholdMs: 100, durationMs: 600, windowMs: 500, onCpuMs: 40, waitingMs: 460, throttledMs: 460, gcMs: 12 });
  assert.deepEqual(r.threadTime, { onCpuMs: 48, waitingMs: 552, throttledMs: 552, gcMs: 12 });
});

test('host, throttled where the wait was not seen: no code caught, the group throttled most of the window, little CPU', () => {
  // Measured with an end reading taken before the thread ran again: 447 ms stall, a 470 ms window, 21 ms on a CPU, 0.15 ms waiting, the group throttled throughout.
  const input = { thresholdMs: 100, durationMs: 447, windowMs: 470, onCpuMs: 20.8, waitingMs: 0.15, throttledMs: 0.15, gcMs: 0, cgroupThrottledMs: 440 };
  const r = classifyStall({ ...input, codeRunning: false });
  assert.equal(r.state, 'host');
  assert.ok(r.threadTime.throttledMs > 400, JSON.stringify(r.threadTime));
  assert.equal(classifyStall({ ...input, codeRunning: true }).state, 'parked', 'a culprit caught in its callback stays parked');
  assert.equal(classifyStall(input).state, 'parked', 'unknown whether code ran: as if it did');
  assert.equal(classifyStall({ ...input, codeRunning: false, cgroupThrottledMs: 100 }).state, 'parked', 'throttled a small part only');
  assert.equal(classifyStall({ ...input, codeRunning: false, onCpuMs: 300 }).state, 'cpu', 'its own CPU time was a stall');
  assert.equal(classifyStall({ ...input, codeRunning: false, onCpuMs: 150 }).state, 'parked', 'own CPU time past the threshold: not excused, parked by its share');
});

test('host needs long waits: time-sharing a loaded CPU cuts the wait into short slices and leaves the culprit its stall', () => {
  // Measured on the live-page scenario at load 2.7: a route spinning 250 ms of wall clock got 66 ms of CPU in a 275 ms stall.
  const shared = { thresholdMs: 100, durationMs: 274.7, windowMs: 250, onCpuMs: 60, waitingMs: 190, throttledMs: 0, gcMs: 0 };
  assert.equal(classifyStall({ ...shared, timeslices: 40 }).state, 'cpu', '40 runs: ~5 ms of wait between runs');
  assert.equal(classifyStall({ ...shared, timeslices: 2 }).state, 'host', 'two runs: one long stretch off the CPU');
  assert.equal(classifyStall(shared).state, 'host', 'slices unknown: the shares alone decide, as before');
});

test('host needs long waits, but a throttled wait is one whatever the runs around it in the window', () => {
  // Measured under the quota: a window from before the stall held 12 runs of the route's requests, then 456 ms throttled.
  const throttled = { thresholdMs: 100, durationMs: 456.5, windowMs: 470, onCpuMs: 33, waitingMs: 437, throttledMs: 437, gcMs: 0, timeslices: 12 };
  assert.equal(classifyStall(throttled).state, 'host');
  assert.equal(classifyStall({ ...throttled, throttledMs: 0 }).state, 'cpu', 'the same runs and wait without throttling: time-sharing');
});
