// The heartbeat on a fake clock: how late each beat ran, the delay clock
// that prices a request's wait, the timer that is re-armed rather than
// re-created, and the idle pace (slowing down, waking, and a stall that began
// before an idle beat was due). No timer runs: the test moves time and fires.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Heartbeat, SharedState } from '../../dist/internal.js';

const TIME_ORIGIN = 1_700_000_000_000;

/** A clock whose time, loop activity and one pending timer the test drives. */
function fakeClock() {
  const clock = {
    t: 1000,
    active: 0,
    timeOrigin: TIME_ORIGIN,
    created: [],
    now: () => clock.t,
    activeMs: () => clock.active,
    setTimeout(fn, ms) {
      const timer = {
        fn,
        ms,
        at: clock.t + ms,
        cleared: false,
        unrefed: false,
        refreshes: 0,
        refresh() {
          timer.at = clock.t + timer.ms;
          timer.refreshes++;
        },
        unref() {
          timer.unrefed = true;
        },
      };
      clock.created.push(timer);
      return timer;
    },
    clearTimeout(timer) {
      if (timer !== undefined) timer.cleared = true;
    },
    /** The timer that would fire next. */
    get pending() {
      return clock.created.filter((t) => !t.cleared).at(-1);
    },
    /** Runs the pending timer `lateMs` after it was due. */
    fireLate(lateMs) {
      const timer = clock.pending;
      clock.t = timer.at + lateMs;
      timer.fn();
    },
  };
  return clock;
}

function setup({ periodMs = 10, pace, clock = fakeClock() } = {}) {
  const shared = new SharedState();
  const beats = [];
  const heartbeat = new Heartbeat(periodMs, shared, { onBeat: (lateMs, ended, nowEpoch) => beats.push({ lateMs, ended, nowEpoch }) }, pace, clock);
  return { heartbeat, shared, beats, clock };
}

test('start publishes the period and a first beat, and arms one unref\'d timer; a second start does nothing', () => {
  const { heartbeat, shared, clock } = setup({ periodMs: 10 });
  heartbeat.start();
  heartbeat.start();
  assert.equal(clock.created.length, 1);
  assert.equal(clock.pending.at, 1010);
  assert.equal(clock.pending.unrefed, true, 'the heartbeat never keeps the process alive');
  assert.equal(shared.periodMs, 10);
  assert.equal(shared.lastBeatAt, TIME_ORIGIN + 1000);
  heartbeat.stop();
  assert.equal(clock.created[0].cleared, true);
  assert.equal(clock.pending, undefined);
});

test('a beat reports how late it ran; only lateness past the timer slack goes on the delay clock', () => {
  const { heartbeat, shared, beats, clock } = setup({ periodMs: 10 });
  heartbeat.start();
  const window0 = shared.window;
  clock.fireLate(0.5);
  assert.equal(heartbeat.settledDelayMs(), 0, 'half a millisecond is timer granularity, not delay');
  clock.fireLate(25);
  assert.equal(heartbeat.settledDelayMs(), 24, '25 ms late, less 1 ms of slack');
  assert.deepEqual(beats.map((b) => b.lateMs), [0.5, 25]);
  assert.equal(beats[0].ended, window0, 'each beat names the window it ended');
  assert.equal(beats[1].ended, window0 + 1);
  assert.equal(beats[1].nowEpoch, TIME_ORIGIN + clock.t);
  assert.equal(shared.lastBeatAt, TIME_ORIGIN + clock.t);
});

test('the delay clock includes the lateness building up now, before the late beat runs', () => {
  const { heartbeat, clock } = setup({ periodMs: 10 });
  heartbeat.start();
  clock.fireLate(5); // settled: 4
  const due = clock.pending.at;
  clock.t = due - 3;
  assert.equal(heartbeat.delayClockMs(), 4, 'before the next beat is due, nothing more');
  clock.t = due + 40;
  assert.equal(heartbeat.delayClockMs(), 4 + 39, 'a stall in progress is priced while it lasts');
  assert.equal(heartbeat.delayClockAt(due + 10), 4 + 9);
  assert.equal(heartbeat.settledDelayMs(), 4, 'settled only at the next beat');
});

test('the timer is re-armed with refresh(), never created again, so slow ticks cannot pile up', () => {
  const { heartbeat, clock } = setup({ periodMs: 10 });
  heartbeat.start();
  for (let i = 0; i < 5; i++) clock.fireLate(i * 3);
  assert.equal(clock.created.length, 1);
  assert.equal(clock.created[0].refreshes, 5);
  assert.equal(clock.pending.at, clock.t + 10, 'the next beat is one period after this one ran, not after it was due');
});

test('after a second of quiet on-time beats the pace slows to the idle period, and the worker is told', () => {
  let quiet = true;
  const { heartbeat, shared, clock } = setup({ periodMs: 10, pace: { periodMs: 250, quiet: () => quiet } });
  heartbeat.start();
  for (let i = 0; i < 99; i++) clock.fireLate(0);
  assert.equal(heartbeat.idle, false, '99 beats of 10 ms are not yet a second');
  clock.fireLate(0);
  assert.equal(heartbeat.idle, true);
  assert.equal(heartbeat.currentPeriodMs, 250);
  assert.equal(shared.idle, true);
  assert.equal(shared.periodMs, 250, 'the watchdog sleeps by the idle period');
  assert.equal(clock.pending.ms, 250);
  // A busy beat ends the idle pace at once.
  quiet = false;
  clock.fireLate(0);
  assert.equal(heartbeat.idle, false);
  assert.equal(heartbeat.currentPeriodMs, 10);
  assert.equal(shared.idle, false);
  assert.equal(clock.pending.ms, 10);
});

test('requests in flight, or late beats, keep the busy pace', () => {
  const busy = setup({ periodMs: 10, pace: { periodMs: 250, quiet: () => false } });
  busy.heartbeat.start();
  for (let i = 0; i < 300; i++) busy.clock.fireLate(0);
  assert.equal(busy.heartbeat.idle, false);
  const late = setup({ periodMs: 10, pace: { periodMs: 250, quiet: () => true } });
  late.heartbeat.start();
  for (let i = 0; i < 300; i++) late.clock.fireLate(i % 50 === 0 ? 10 : 0);
  assert.equal(late.heartbeat.idle, false, 'a beat a period late restarts the count');
  const none = setup({ periodMs: 10 });
  none.heartbeat.start();
  for (let i = 0; i < 300; i++) none.clock.fireLate(0);
  assert.equal(none.heartbeat.idle, false, 'no idle pace without one');
});

/** A heartbeat brought to its idle pace. */
function idleHeartbeat() {
  const s = setup({ periodMs: 10, pace: { periodMs: 250, quiet: () => true } });
  s.heartbeat.start();
  for (let i = 0; i < 100; i++) s.clock.fireLate(0);
  assert.equal(s.heartbeat.idle, true);
  return s;
}

test('a request arriving while idle brings the busy period back at once; a late idle beat is left to the tick', () => {
  const { heartbeat, shared, clock } = idleHeartbeat();
  clock.t = clock.pending.at - 100;
  heartbeat.wake();
  assert.equal(heartbeat.idle, false);
  assert.equal(heartbeat.currentPeriodMs, 10);
  assert.equal(shared.idle, false);
  assert.equal(clock.pending.at, clock.t + 10, 'the next beat is one busy period away');
  assert.equal(shared.periodMs, 10, 'the worker looks again by the busy deadline');

  const late = idleHeartbeat();
  late.clock.t = late.clock.pending.at + 30;
  late.heartbeat.wake();
  assert.equal(late.heartbeat.idle, true, 'the late beat measures the stall; waking now would lose it');
  assert.equal(late.heartbeat.currentPeriodMs, 250);
});

test('at the idle pace a stall that began before the beat was due is measured by the loop\'s active time', () => {
  /** The lateness the first idle beat reports when the loop was active `activeMs` since the pace slowed and the beat ran `lateMs` late. */
  const idleBeat = (activeMs, lateMs) => {
    const { heartbeat, beats, clock } = idleHeartbeat();
    const settled = heartbeat.settledDelayMs();
    clock.active += activeMs;
    clock.fireLate(lateMs);
    return { late: beats.at(-1).lateMs, added: heartbeat.settledDelayMs() - settled, idle: heartbeat.idle };
  };
  // The loop was busy 200 ms, of which only the last 150 ms ran past the beat's due time.
  assert.deepEqual(idleBeat(200, 150), { late: 200, added: 199, idle: false });
  // Active time shorter than the lateness (the process was descheduled): the lateness stands.
  assert.deepEqual(idleBeat(50, 150), { late: 150, added: 149, idle: false });
  // Never more than the lateness plus one idle period.
  assert.equal(idleBeat(5000, 150).late, 150 + 250);
  // A beat within the slack is no stall, whatever ran before it.
  assert.deepEqual(idleBeat(200, 0.5), { late: 0.5, added: 0, idle: true });
});
