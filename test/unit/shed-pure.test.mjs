// Pure load-shedding logic, driven with explicit times: no timers, no servers.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compileList, compileTemplate, PressureMachine, MAX_COOLDOWN_FACTOR, RecentBlame, selectCulprits, WindowMax, ServedHistory, PressureSignals, Shedder, resolveShedOptions, SHED_DEFAULTS } from '../../dist/internal.js';
import { createLoopGuard } from 'loopguard';

describe('route templates match raw request URLs', () => {
  const cases = [
    ['/users/:id', ['/users/42', '/users/42/', '/USERS/42', '/users/42?x=1&y=/2', '/users/a%2Fb#frag'], ['/users', '/users/', '/users/42/posts', '/userss/42', '/x/users/42']],
    ['/files/*path', ['/files/a', '/files/a/b/c.txt', '/files/a?download=1'], ['/files', '/files/', '/filesx/a']],
    ['/docs{/:page}', ['/docs', '/docs/', '/docs/intro', '/docs?q=1'], ['/docs/a/b', '/doc']],
    ['/items/:id?', ['/items', '/items/9'], ['/items/9/x']],
    ['/reports/:id(\\d+)', ['/reports/17'], ['/reports']],
    ['/static/*', ['/static/', '/static/app.js', '/static/a/b'], ['/stat']],
    ['/a.b/:c', ['/a.b/1'], ['/axb/1']],
    ['/', ['/', '/?q=1', ''], ['/x']],
    ['/login|/signin/:step', ['/login', '/signin/2'], ['/signin', '/logout']],
  ];
  for (const [template, yes, no] of cases) {
    test(template, () => {
      const m = compileTemplate(template);
      assert.ok(m, 'compiles');
      for (const url of yes) assert.ok(m.test(url), `${template} matches ${url}`);
      for (const url of no) assert.ok(!m.test(url), `${template} does not match ${url}`);
    });
  }

  test('labels that are not paths are never matched', () => {
    for (const label of ['(unmatched)', '(overflow)', String(/^\/api\/v\d+/i), '/a{/:b', '/a}/b', '/x/(y)']) {
      assert.equal(compileTemplate(label), null, label);
    }
  });

  test('an exempt list is one matcher; RegExp entries see the path without its query', () => {
    const list = compileList(['/health', '/metrics', /^\/internal\//g]);
    for (const url of ['/health', '/health?full=1', '/metrics', '/internal/x', '/internal/x?y', '/internal/y']) assert.ok(list.test(url), url);
    for (const url of ['/healthy', '/api/health', '/x?/internal/']) assert.ok(!list.test(url), url);
    assert.equal(compileList([]), null);
  });
});

describe('culprits are ranked by recent blocked time', () => {
  test('only stalls inside the window count', () => {
    const blame = new RecentBlame(8);
    blame.add(0, '/old', 'GET', 5000);
    blame.add(9_000, '/a', 'GET', 300);
    blame.add(9_500, '/a', 'GET', 200);
    blame.add(9_600, '/b', 'POST', 100);
    assert.deepEqual(blame.totals(10_000, 5_000), [
      { route: '/a', method: 'GET', ms: 500 },
      { route: '/b', method: 'POST', ms: 100 },
    ]);
  });

  test('the ring forgets the oldest entries past its capacity', () => {
    const blame = new RecentBlame(2);
    blame.add(1, '/a', 'GET', 100);
    blame.add(2, '/b', 'GET', 100);
    blame.add(3, '/c', 'GET', 100);
    assert.deepEqual(blame.totals(4, 1000).map((b) => b.route).sort(), ['/b', '/c']);
  });

  test('the fewest routes covering most of the blocked time, up to max', () => {
    const t = (route, ms) => ({ route, method: 'GET', ms });
    assert.deepEqual(selectCulprits([t('/a', 900), t('/b', 100)], 3).map((c) => c.route), ['/a']);
    assert.deepEqual(selectCulprits([t('/a', 500), t('/b', 400), t('/c', 100)], 3).map((c) => c.route), ['/a', '/b']);
    assert.deepEqual(selectCulprits([t('/a', 300), t('/b', 300), t('/c', 300), t('/d', 100)], 2).map((c) => c.route), ['/a', '/b']);
    // A sentinel cannot be matched by path: it counts toward the total, and is never chosen.
    assert.deepEqual(selectCulprits([t('(overflow)', 900), t('/a', 100)], 3).map((c) => c.route), ['/a']);
    assert.deepEqual(selectCulprits([], 3), []);
  });

  test('a route whose requests each cost little blocked time is not a culprit, however much it was blamed', () => {
    const t = (route, ms) => ({ route, method: 'GET', ms });
    // /items served 5000 requests and had one 300 ms stall pinned on it; /reports blocks 200 ms per request.
    const requests = (route) => (route === '/items/:id' ? 5000 : 4);
    assert.deepEqual(selectCulprits([t('/items/:id', 300), t('/reports/:id', 800)], 3, 10, requests).map((c) => c.route), ['/reports/:id']);
    assert.deepEqual(selectCulprits([t('/items/:id', 300)], 3, 10, requests), []);
    // A route with no recent request counted yet (its culprit still in flight) costs its whole blame.
    assert.deepEqual(selectCulprits([t('/new', 150)], 3, 10, () => 0).map((c) => c.route), ['/new']);
  });

  test('recent requests per route come from the cumulative counters, one to two periods back', () => {
    const stats = [{ route: '/a', method: 'GET', requests: 10 }];
    const history = new ServedHistory({ all: () => stats }, 1000);
    history.tick(0);
    stats[0].requests = 50;
    assert.equal(history.reader()('/a', 'GET'), 50, 'no older snapshot yet: everything since start');
    history.tick(500); // too soon: no new snapshot
    history.tick(1000);
    stats[0].requests = 70;
    assert.equal(history.reader()('/a', 'GET'), 60);
    assert.equal(history.reader()('/a', 'get'.toUpperCase()), 60);
    assert.equal(history.reader()('/b', 'GET'), 0);
  });
});

describe('pressure state machine', () => {
  const calm = { over: null, hot: false };
  const over = { over: 'delay', hot: true };
  const warm = { over: null, hot: true };
  const machine = (overrides = {}) => new PressureMachine({ mode: 'culprits', cooldownMs: 1000, escalateAfterMs: 3000, ...overrides });

  test('pressure with a known culprit sheds culprits, and ends after a calm cooldown', () => {
    const m = machine();
    assert.equal(m.step(0, calm, 0, false), false);
    assert.equal(m.step(100, over, 1, true), true);
    assert.equal(m.state, 'culprits');
    assert.equal(m.reason, 'delay');
    m.step(600, warm, 1, false); // above the recovery level: not calm yet
    m.step(1500, calm, 1, false);
    assert.equal(m.state, 'culprits', 'cooldown counts from the last hot reading');
    assert.equal(m.step(1600, calm, 1, false), true);
    assert.equal(m.state, 'off');
    assert.equal(m.reason, null);
  });

  test('pressure without a culprit waits for one', () => {
    const m = machine();
    m.step(0, over, 0, false);
    assert.equal(m.state, 'pressure');
    m.step(250, over, 1, true);
    assert.equal(m.state, 'culprits');
  });

  test('persisting pressure escalates to shedding everything; a new culprit resets the clock', () => {
    const m = machine();
    m.step(0, over, 1, true);
    m.step(2000, over, 2, true); // a second culprit gets its own chance
    m.step(4500, over, 2, false);
    assert.equal(m.state, 'culprits');
    m.step(5000, { over: 'utilization', hot: true }, 2, false);
    assert.equal(m.state, 'all');
    assert.equal(m.reason, 'utilization');
    m.step(6000, calm, 2, false);
    assert.equal(m.state, 'off');
  });

  test('old evidence does not escalate: only pressure still seen escalateAfterMs later', () => {
    const m = machine({ cooldownMs: 10_000 });
    m.step(0, over, 1, true);
    for (let t = 250; t <= 8000; t += 250) m.step(t, warm, 1, false);
    assert.equal(m.state, 'culprits');
  });

  test("mode 'all' sheds everything at once", () => {
    const m = machine({ mode: 'all' });
    m.step(0, { over: 'heap', hot: true }, 0, false);
    assert.equal(m.state, 'all');
    assert.equal(m.reason, 'heap');
  });

  test('pressure coming back right after a release doubles the cooldown, up to the cap; a calm spell resets it', () => {
    const m = machine();
    let t = 0;
    const cycle = () => {
      m.step(t, over, 1, true);
      t += m.cooldownMs;
      m.step(t, calm, 1, false);
      assert.equal(m.state, 'off');
      t += 100;
    };
    const seen = [];
    for (let i = 0; i < 6; i++) {
      cycle();
      seen.push(m.cooldownMs);
    }
    assert.deepEqual(seen, [1000, 2000, 4000, 8000, 8000, 8000]);
    assert.equal(MAX_COOLDOWN_FACTOR, 8);
    t += 20_000;
    m.step(t, over, 1, true);
    assert.equal(m.cooldownMs, 1000);
  });
});

test('WindowMax keeps the worst value of the recent window, not a mean', () => {
  const w = new WindowMax(10_000, 10);
  w.record(0, 800);
  for (let t = 10; t < 5000; t += 10) w.record(t, 1);
  assert.equal(w.max(5000), 800);
  assert.equal(w.max(10_500), 1, 'the 800 ms stall has left the window');
  assert.equal(w.max(100_000), 0);
});

describe('pressure signals', () => {
  const limits = { maxEventLoopDelayMs: 100, maxEventLoopUtilization: 0, maxHeapUsedBytes: 0, windowMs: 10_000 };

  test('a late beat is fresh evidence once; the recent window still remembers it', () => {
    const signals = new PressureSignals(limits, { utilization: 0 });
    assert.equal(signals.beat(0, 3), false);
    assert.equal(signals.beat(20, 180), true, 'worth reading at once');
    assert.deepEqual(signals.read(25), { over: 'delay', hot: true });
    assert.deepEqual(signals.read(275), { over: null, hot: false }, 'the same stall is not counted twice');
    signals.beat(300, 90);
    assert.deepEqual(signals.read(310), { over: null, hot: true }, 'above 80 % of the limit: not calm');
    assert.equal(signals.recentDelayMs(5000), 180);
  });

  test('ELU over its limit is pressure; delay limit 0 leaves delay out', () => {
    const loop = { utilization: 0.99 };
    const signals = new PressureSignals({ ...limits, maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0.9 }, loop);
    assert.equal(signals.beat(0, 5000), false);
    assert.deepEqual(signals.read(1), { over: 'utilization', hot: true });
    loop.utilization = 0.75;
    assert.deepEqual(signals.read(2), { over: null, hot: true });
    loop.utilization = 0.5;
    assert.deepEqual(signals.read(3), { over: null, hot: false });
  });

  test('heap used over its limit is pressure', () => {
    const signals = new PressureSignals({ ...limits, maxEventLoopDelayMs: 0, maxHeapUsedBytes: 1 }, { utilization: 0 });
    assert.deepEqual(signals.read(0), { over: 'heap', hot: true });
  });
});

test('Shedder: a late beat, then the culprit stall, sheds only the culprit template until a calm cooldown', () => {
  const changes = [];
  const routes = [
    { route: '/reports/:id', method: 'GET', requests: 3 },
    { route: '/items/:id', method: 'GET', requests: 5000 },
  ];
  const host = { loop: { utilization: 0 }, routes: { all: () => routes }, shedTotals: new Map(), reportError: (e) => { throw e; }, shedChanged: (c) => changes.push(c) };
  const shedder = new Shedder(resolveShedOptions({ cooldownMs: 2000, retryAfterSeconds: 9 }, 100), host);
  shedder.onBeat(2, 1000);
  assert.equal(shedder.check('GET', '/reports/1'), null);
  shedder.onBeat(240, 1020);
  assert.equal(shedder.state, 'pressure');
  assert.equal(shedder.active, false, 'nothing to shed before a culprit is known');
  shedder.onStall('/reports/:id', 'GET', 238, 1100);
  shedder.onStall('/items/:id', 'GET', 300, 1110); // pinned on a cheap route once: not a culprit
  assert.equal(shedder.state, 'culprits');
  assert.deepEqual(changes.map((c) => c.state), ['pressure', 'culprits']);
  assert.deepEqual(changes[1].culprits, [{ route: '/reports/:id', method: 'GET' }]);
  const decision = shedder.check('GET', '/reports/5?token=abc');
  assert.deepEqual(decision, { route: '/reports/:id', reason: 'culprit', retryAfterSeconds: 9 });
  assert.equal(shedder.check('HEAD', '/reports/5'), decision);
  assert.equal(shedder.check('POST', '/reports/5'), null);
  assert.equal(shedder.check('GET', '/items/1'), null);
  assert.equal(shedder.check('GET', '/metrics'), null);

  const written = {};
  const res = { headersSent: false, writeHead: (status, headers) => Object.assign(written, { status, headers }), end: (body) => (written.body = String(body)) };
  assert.equal(shedder.shed({}, res, 'GET', '/reports/7'), true);
  assert.equal(written.status, 503);
  assert.equal(written.headers['retry-after'], '9');
  assert.equal(JSON.parse(written.body).reason, 'culprit');
  assert.equal(shedder.shed({}, res, 'GET', '/items/7'), false);
  assert.deepEqual([...host.shedTotals.values()], [{ route: '/reports/:id', reason: 'culprit', count: 1 }]);

  // Calm counts from the last hot reading (the late beat at 1020).
  for (let t = 1300; t <= 3000; t += 250) shedder.onBeat(1, t);
  assert.equal(shedder.state, 'culprits', 'not calm for a whole cooldown yet');
  shedder.onBeat(1, 3400);
  assert.equal(shedder.state, 'off');
  assert.equal(shedder.active, false);
  assert.equal(shedder.check('GET', '/reports/5'), null);
  assert.deepEqual(shedder.status(3400).culprits, []);
  assert.equal(shedder.status(3400).shedTotal, 1);
});

describe('shed options', () => {
  test('off unless asked; true takes the defaults; the delay limit defaults to thresholdMs', () => {
    assert.equal(resolveShedOptions(undefined, 100), false);
    assert.equal(resolveShedOptions(false, 100), false);
    const o = resolveShedOptions(true, 250);
    assert.equal(o.maxEventLoopDelayMs, 250);
    assert.equal(o.mode, 'culprits');
    assert.deepEqual(o.exempt, SHED_DEFAULTS.exempt);
    assert.equal(o.retryAfterSeconds, 5);
    assert.ok(Object.isFrozen(o));
    assert.equal(resolveShedOptions({ maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0.9 }, 100).maxEventLoopDelayMs, 0);
  });

  const bad = [
    [{ mode: 'some' }, 'shed.mode'],
    [{ maxEventLoopDelayMs: -1 }, 'shed.maxEventLoopDelayMs'],
    [{ maxEventLoopUtilization: 1.5 }, 'shed.maxEventLoopUtilization'],
    [{ maxHeapUsedBytes: '1GB' }, 'shed.maxHeapUsedBytes'],
    [{ windowMs: 10 }, 'shed.windowMs'],
    [{ cooldownMs: NaN }, 'shed.cooldownMs'],
    [{ escalateAfterMs: '5s' }, 'shed.escalateAfterMs'],
    [{ maxCulprits: 0 }, 'shed.maxCulprits'],
    [{ retryAfterSeconds: 1.5 }, 'shed.retryAfterSeconds'],
    [{ exempt: '/health' }, 'shed.exempt'],
    [{ exempt: ['health'] }, 'shed.exempt'],
    [{ exempt: ['/a{'] }, 'shed.exempt'],
    [{ onShed: 'yes' }, 'shed.onShed'],
    [{ retryAfter: 5 }, 'shed.retryAfter'],
    [{ maxEventLoopDelayMs: 0 }, 'shed'],
    ['on', 'shed'],
  ];
  for (const [shed, option] of bad) {
    test(`rejects ${JSON.stringify(shed)} naming ${option}`, () => {
      let guard;
      try {
        assert.throws(
          () => (guard = createLoopGuard({ shed, prometheus: false })),
          (err) => err instanceof TypeError && err.code === 'LOOPGUARD_INVALID_OPTION' && err.option === option,
        );
      } finally {
        guard?.close();
      }
    });
  }
});
