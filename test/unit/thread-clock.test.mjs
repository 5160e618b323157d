// The thread clock reader: on a fake /proc and cgroup tree (what is read, what
// is tried once, what is null), and once on this machine's real procfs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openThreadClock, threadTimeBetween } from '../../dist/internal.js';

const fixtureDir = new URL('../fixtures/proc/', import.meta.url);

/** A /proc and /sys/fs/cgroup of our own: thread 77 and a v1 `cpu` group, as on this VM. */
function fakeTree({ schedstat = true, cgroupFile = 'cgroup-hybrid-this-vm' } = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lg-thread-clock-'));
  const task = path.join(root, 'proc/self/task/77');
  fs.mkdirSync(task, { recursive: true });
  if (schedstat) fs.copyFileSync(new URL('schedstat.txt', fixtureDir), path.join(task, 'schedstat'));
  fs.copyFileSync(new URL('task-stat.txt', fixtureDir), path.join(task, 'stat'));
  fs.copyFileSync(new URL(cgroupFile, fixtureDir), path.join(root, 'proc/self/cgroup'));
  const group = path.join(root, 'cgroup/cpu/loopguard-test');
  fs.mkdirSync(group, { recursive: true });
  fs.copyFileSync(new URL('cpu.stat.v1', fixtureDir), path.join(group, 'cpu.stat'));
  return { root, task, group, procRoot: path.join(root, 'proc'), cgroupRoot: path.join(root, 'cgroup') };
}

test('thread clock: reads schedstat, stat and the v1 cgroup found through /proc/self/cgroup', (t) => {
  const tree = fakeTree();
  t.after(() => fs.rmSync(tree.root, { recursive: true, force: true }));
  const clock = openThreadClock(77, tree);
  t.after(() => clock.close());
  const s = clock.read();
  assert.deepEqual(
    { ...s, atMs: typeof s.atMs },
    { atMs: 'number', onCpuNs: 50359409, waitingNs: 12280361, timeslices: 114, taskState: 'R', throttledNs: 5131678984, nrThrottled: 9 },
  );
  assert.deepEqual(clock.unavailable, []);
});

test('thread clock: a file is opened once and re-read in place, so a new value shows without a new open', (t) => {
  const tree = fakeTree();
  t.after(() => fs.rmSync(tree.root, { recursive: true, force: true }));
  const clock = openThreadClock(77, tree);
  t.after(() => clock.close());
  // Rewritten in place (same inode, as procfs regenerates its text): seen.
  fs.writeFileSync(path.join(tree.task, 'schedstat'), '60000000 13000000 120\n');
  assert.equal(clock.read().onCpuNs, 60000000);
  // Unlinked: the open descriptor still reads; a reader that reopened would lose it.
  fs.rmSync(path.join(tree.group, 'cpu.stat'));
  assert.equal(clock.read().nrThrottled, 9);
});

test('thread clock: a missing file is tried once, then null, and named once in `unavailable`', (t) => {
  const tree = fakeTree({ schedstat: false, cgroupFile: 'cgroup-v2-container' });
  t.after(() => fs.rmSync(tree.root, { recursive: true, force: true }));
  const clock = openThreadClock(77, tree);
  t.after(() => clock.close());
  assert.deepEqual(clock.unavailable, ['schedstat', 'cgroup cpu.stat']);
  fs.copyFileSync(new URL('schedstat.txt', fixtureDir), path.join(tree.task, 'schedstat'));
  const s = clock.read();
  assert.equal(s.onCpuNs, null);
  assert.equal(s.waitingNs, null);
  assert.equal(s.throttledNs, null);
  assert.equal(s.taskState, 'R');
});

test('thread clock: no procfs at all (not Linux): every field null, nothing thrown, close twice is fine', () => {
  const clock = openThreadClock(1, { procRoot: '/nonexistent-proc', cgroupRoot: '/nonexistent-cgroup' });
  const s = clock.read();
  assert.deepEqual({ ...s, atMs: 0 }, { atMs: 0, onCpuNs: null, waitingNs: null, timeslices: null, taskState: null, throttledNs: null, nrThrottled: null });
  assert.deepEqual(clock.unavailable, ['schedstat', 'stat', 'cgroup cpu.stat']);
  clock.close();
  clock.close();
});

const openDescriptors = () => fs.readdirSync('/proc/self/fd').length;

test('thread clock: close releases every descriptor', { skip: !fs.existsSync('/proc/self/fd') && 'needs /proc/self/fd' }, (t) => {
  const tree = fakeTree();
  t.after(() => fs.rmSync(tree.root, { recursive: true, force: true }));
  const before = openDescriptors();
  const clock = openThreadClock(77, tree);
  assert.equal(openDescriptors(), before + 3);
  clock.close();
  assert.equal(openDescriptors(), before);
});

test('thread clock: after close, reads are null, even where a descriptor number was handed out again', (t) => {
  const tree = fakeTree();
  t.after(() => fs.rmSync(tree.root, { recursive: true, force: true }));
  const clock = openThreadClock(77, tree);
  clock.close();
  // The kernel hands out the lowest free numbers: these reuse the clock's three.
  const reused = [0, 1, 2].map(() => fs.openSync(new URL('schedstat.txt', fixtureDir), 'r'));
  t.after(() => reused.forEach((fd) => fs.closeSync(fd)));
  assert.equal(clock.read().onCpuNs, null);
});

const sample = (atMs, onCpuMs, waitingMs, throttledMs, nrThrottled = 0) => ({
  atMs,
  onCpuNs: onCpuMs === null ? null : onCpuMs * 1e6,
  waitingNs: waitingMs === null ? null : waitingMs * 1e6,
  taskState: 'R',
  throttledNs: throttledMs === null ? null : throttledMs * 1e6,
  nrThrottled: throttledMs === null ? null : nrThrottled,
});

test('threadTimeBetween: deltas in ms; the cgroup\'s throttled time is clamped to the thread\'s own wait', () => {
  // Measured shape (docs/stall-state.md): 1476 ms wall, 1342 ms waiting, the cgroup 2226 ms throttled (two CPUs summed).
  assert.deepEqual(threadTimeBetween(sample(1000, 10, 5, 100, 6), sample(2476, 133, 1347, 2326, 9)), {
    wallMs: 1476,
    onCpuMs: 123,
    waitingMs: 1342,
    throttledMs: 1342,
    nrThrottled: 3,
    cgroupThrottledMs: 1476,
    timeslices: null,
  });
  // A group throttled while this thread slept in a read: it lost nothing of its wait; the group's own figure is kept apart.
  const asleep = threadTimeBetween(sample(0, 0, 0, 0), sample(400, 2, 1, 350, 1));
  assert.deepEqual([asleep.throttledMs, asleep.cgroupThrottledMs], [1, 350]);
});

test('threadTimeBetween: without schedstat the throttled time is clamped to the wall time', () => {
  const d = threadTimeBetween(sample(0, null, null, 0), sample(500, null, null, 900, 2));
  assert.deepEqual(d, { wallMs: 500, onCpuMs: null, waitingMs: null, throttledMs: 500, nrThrottled: 2, cgroupThrottledMs: 500, timeslices: null });
});

test('threadTimeBetween: a counter that went backwards, or a side missing, is null', () => {
  const d = threadTimeBetween(sample(0, 50, 10, 100), sample(300, 40, 20, null));
  assert.deepEqual(d, { wallMs: 300, onCpuMs: null, waitingMs: 10, throttledMs: null, nrThrottled: null, cgroupThrottledMs: null, timeslices: null });
});

test('thread clock on this machine: the main thread\'s own CPU loop shows as on-CPU time', { skip: process.platform !== 'linux' && 'Linux only' }, () => {
  const clock = openThreadClock(process.pid);
  try {
    assert.equal(clock.unavailable.includes('schedstat'), false, `unavailable: ${clock.unavailable}`);
    const before = clock.read();
    const until = performance.now() + 60;
    let x = 0;
    while (performance.now() < until) x++;
    const d = threadTimeBetween(before, clock.read());
    assert.ok(x > 0);
    // On a CPU or waiting for one: a busy loop never sleeps, however loaded the machine.
    assert.ok(d.onCpuMs + d.waitingMs >= 0.9 * d.wallMs, JSON.stringify(d));
    assert.ok(d.onCpuMs > 0, JSON.stringify(d));
  } finally {
    clock.close();
  }
});
