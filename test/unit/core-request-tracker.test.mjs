// RequestTracker's arithmetic on a fake delay clock: a victim's delay is the
// clock's difference, a culprit's own stall is not delay it suffered, a
// request accepted mid-stall is recognised, and a discarded request counts
// nowhere. Pure: no timers, no I/O.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RouteTable, RequestTracker } from '../../dist/internal.js';

/** A delay clock the test moves by hand: `delay` includes the window in progress, `settled` does not. */
function fakeClock() {
  return {
    delay: 0,
    settled: 0,
    window: 1,
    idle: false,
    wakes: 0,
    wake() {
      this.wakes++;
      this.idle = false;
    },
    delayClockMs() {
      return this.delay;
    },
    delayClockAt() {
      return this.delay;
    },
    settledDelayMs() {
      return this.settled;
    },
  };
}

function tracker({ precise = false } = {}) {
  const routes = new RouteTable(10);
  const clock = fakeClock();
  const culprits = [];
  const t = new RequestTracker(routes, clock, precise, (finished) => culprits.push(finished));
  t.victimThresholdMs = 100;
  const stats = (route, method = 'GET') => [...routes.all()].find((s) => s.route === route && s.method === method);
  return { t, clock, culprits, stats };
}

const route = (template) => (req, settled) => (settled ? template : null);

test("a victim's delay is the delay clock's difference over its flight, and a long one counts as a finished victim", () => {
  const { t, clock, stats } = tracker();
  clock.delay = clock.settled = 10;
  const record = t.begin({}, 'GET', route('/io'));
  assert.equal(t.inFlight, 1);
  clock.delay = clock.settled = 260; // a 250 ms stall passed while it was in flight
  t.finish(record);
  assert.equal(t.inFlight, 0);
  const s = stats('/io');
  assert.equal(s.requests, 1);
  assert.equal(s.delay.count, 1);
  assert.ok(Math.abs(s.delay.sum - 0.25) < 1e-9, `${s.delay.sum}`);
  assert.equal(t.finishedVictims, 1);
  assert.equal(record.finalRoute, '/io');
  assert.equal(record.req, null, 'the framework request is released');
  // A short wait is recorded but is no victim.
  const quick = t.begin({}, 'GET', route('/io'));
  clock.delay = clock.settled = 270;
  t.finish(quick);
  assert.equal(t.finishedVictims, 1);
  assert.equal(stats('/io').delay.count, 2);
});

test("a culprit's own stall is not delay it waited through; its finish is announced with its route", () => {
  const { t, clock, stats, culprits } = tracker();
  const record = t.begin({}, 'POST', route('/login'));
  // The probe caught it holding the loop in an earlier window; the stall was finalised and charged to it.
  record.capturedWindow = clock.window;
  clock.window = 2;
  clock.delay = clock.settled = 300;
  t.chargeStall(record.id, 280);
  t.finish(record);
  const s = stats('/login', 'POST');
  assert.ok(Math.abs(s.delay.sum - 0.02) < 1e-9, `own stall subtracted: ${s.delay.sum}`);
  assert.equal(t.finishedVictims, 0, 'the culprit is never its own victim');
  assert.deepEqual(culprits.map((c) => [c.record.id, c.route]), [[record.id, '/login']]);
});

test('a culprit finishing in the window of its stall takes the settled clock: the stall in progress is its own', () => {
  const { t, clock, stats } = tracker();
  const record = t.begin({}, 'GET', route('/report'));
  record.capturedWindow = clock.window;
  clock.settled = 5;
  clock.delay = 400; // lateness of the window still in progress
  t.finish(record);
  assert.ok(Math.abs(stats('/report').delay.sum - 0.005) < 1e-9, `${stats('/report').delay.sum}`);
});

test('a request accepted when the loop was already late by half the threshold arrived during the stall', () => {
  const { t, clock } = tracker();
  clock.settled = 0;
  clock.delay = 40;
  const early = t.begin({}, 'GET', route('/a'));
  clock.delay = 60;
  const late = t.begin({}, 'GET', route('/a'));
  assert.equal(t.arrivedDuringStall(early), false);
  assert.equal(t.arrivedDuringStall(late), true);
  // Once the stall settles into the clock, a new request began after it: not "during".
  clock.settled = 60;
  assert.equal(t.arrivedDuringStall(late), false);
});

test('a discarded request counts nowhere, and finishing it afterwards does nothing', () => {
  const { t, stats } = tracker();
  const record = t.begin({ raw: true }, 'GET', route('/shed'));
  t.discard(record);
  assert.equal(t.inFlight, 0);
  assert.equal(record.req, null);
  t.finish(record);
  t.discard(record);
  assert.equal(t.inFlight, 0);
  assert.equal(stats('/shed'), undefined);
});

test('the route is resolved settled at finish, and an unresolved one is (unmatched)', () => {
  const { t, stats } = tracker();
  const calls = [];
  const record = t.begin({}, 'GET', (req, settled) => (calls.push(settled), null));
  t.finish(record);
  assert.deepEqual(calls, [true]);
  assert.equal(stats('(unmatched)').requests, 1);
});

test('precise mode records each request\'s own time; a throwing resolver loses no numbers', () => {
  const { t, stats } = tracker({ precise: true });
  const record = t.begin({}, 'GET', () => {
    throw new Error('broken resolver');
  });
  record.blockingMs = 12;
  t.finish(record);
  const s = stats('(unmatched)');
  assert.equal(s.blocking.count, 1);
  assert.ok(Math.abs(s.blocking.sum - 0.012) < 1e-9);
});

test('the first request after a quiet spell wakes the heartbeat; later ones do not; ids rise and the in-flight count follows', () => {
  const { t, clock } = tracker();
  clock.idle = true;
  const a = t.begin({}, 'GET', route('/a'));
  assert.equal(clock.wakes, 1);
  const b = t.begin({}, 'GET', route('/b'));
  assert.equal(clock.wakes, 1, 'busy already: one branch, no call');
  assert.equal(b.id, a.id + 1);
  assert.equal(t.inFlight, 2);
  t.finish(a);
  t.finish(a);
  assert.equal(t.inFlight, 1, 'finishing twice counts once');
  t.discard(b);
  assert.equal(t.inFlight, 0);
});

test('an observer opens each request\'s span and hears captures; a throwing observer costs the probe nothing', () => {
  const { t } = tracker();
  const heard = [];
  t.observer = { begin: () => 'span-1', captured: (r) => heard.push(r.id), finished() {} };
  const record = t.begin({}, 'GET', route('/a'));
  assert.equal(record.span, 'span-1');
  t.captured(record);
  assert.deepEqual(heard, [record.id]);
  t.observer = { begin: () => undefined, captured: () => { throw new Error('observer broke'); }, finished() {} };
  assert.doesNotThrow(() => t.captured(record), 'it runs while the main thread is paused');
});
