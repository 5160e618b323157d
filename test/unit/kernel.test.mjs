// The kernel (src/core/kernel.ts) and the composition around it
// (src/compose.ts), driven by hand: beats are fed to Kernel.onBeat, no
// heartbeat timer or watchdog worker runs (the kernel is never started).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { composeGuard, Kernel, resolveOptions } from '../../dist/internal.js';

const options = (extra = {}) => resolveOptions({ prometheus: false, otel: false, captureStacks: false, startupGraceMs: 0, thresholdMs: 100, ...extra });
const now = () => performance.timeOrigin + performance.now();

test('kernel: a beat later than the threshold is one stall, delivered to the observers with its route label; a shorter one only beats', () => {
  const kernel = new Kernel(options());
  const beats = [];
  const stalls = [];
  kernel.observers.add({ beat: (lateMs) => beats.push(lateMs), stall: (report, label) => stalls.push({ report, label }) });
  kernel.onBeat(40, 1, now());
  assert.deepEqual(beats, [40]);
  assert.equal(stalls.length, 0, 'under the threshold: no stall');
  kernel.onBeat(250, 2, now());
  assert.deepEqual(beats, [40, 250]);
  assert.equal(stalls.length, 1);
  assert.equal(stalls[0].report.durationMs, 250);
  assert.equal(stalls[0].report.cause, 'background', 'no sample, no request: background');
  assert.equal(stalls[0].label, '(background)');
  kernel.close();
});

test('kernel: inside startup grace a late beat is no stall', () => {
  const kernel = new Kernel(options({ startupGraceMs: 60_000 }));
  const stalls = [];
  kernel.observers.add({ stall: (report) => stalls.push(report) });
  kernel.onBeat(500, 1, now());
  assert.equal(stalls.length, 0);
  assert.equal(kernel.inStartupGrace(), true);
  kernel.close();
});

test('kernel: close() closes every collector once, reports one that throws and still closes the rest; a collector attached after close is closed at once', () => {
  const problems = [];
  const kernel = new Kernel(options({ onError: (err) => problems.push(err.message) }));
  const closed = [];
  kernel.attach({ close: () => closed.push('a') });
  kernel.attach({
    close: () => {
      throw new Error('b failed');
    },
  });
  kernel.attach({ close: () => closed.push('c') });
  kernel.close();
  kernel.close();
  assert.deepEqual(closed, ['a', 'c']);
  assert.deepEqual(problems, ['b failed']);
  assert.equal(kernel.isClosed, true);
  kernel.attach({ close: () => closed.push('late') });
  assert.deepEqual(closed, ['a', 'c', 'late']);
});

test('kernel: an observer that throws is reported and the others still see the beat', () => {
  const problems = [];
  const kernel = new Kernel(options({ onError: (err) => problems.push(err.message) }));
  const seen = [];
  kernel.observers.add({
    beat() {
      throw new Error('observer failed');
    },
  });
  kernel.observers.add({ beat: (lateMs) => seen.push(lateMs) });
  kernel.onBeat(10, 1, now());
  assert.deepEqual(seen, [10]);
  assert.deepEqual(problems, ['observer failed']);
  kernel.close();
});

test('composition: a stall is counted before it is emitted, so a listener reading the snapshot finds it; beats feed the delay histogram', () => {
  const seen = [];
  let parts;
  parts = composeGuard(options(), (event, report) => {
    if (event === 'stall') seen.push({ report, inSnapshot: parts.snapshot().recentStalls.some((s) => s.id === report.id) });
  });
  parts.kernel.onBeat(5, 1, now());
  parts.kernel.onBeat(300, 2, now());
  assert.equal(seen.length, 1);
  assert.equal(seen[0].inSnapshot, true, 'stall stats are attached before the delivery step');
  assert.equal(parts.stalls.total, 1);
  assert.equal(parts.delayHistogram.count, 2, 'both beats recorded');
  assert.equal(parts.model.requestsInFlight, 0);
  parts.kernel.close();
});

test('composition: onStall is limited per culprit; metrics still count every stall', () => {
  const delivered = [];
  const parts = composeGuard(options({ reportsPerCulpritPerMinute: 2, onStall: (r) => delivered.push(r) }), () => undefined);
  for (let i = 0; i < 5; i++) parts.kernel.onBeat(200, i + 1, now());
  assert.equal(parts.stalls.total, 5);
  assert.equal(delivered.length, 2);
  parts.kernel.close();
});
