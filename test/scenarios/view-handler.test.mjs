// The live page's HTTP surface: where it answers (Express mount or plain
// node:http), who may see it (authorize), what it refuses, and its options.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import express from 'express';
import { createLoopGuard, dashboardHandler, InvalidOptionError } from 'loopguard';
import { listen } from '../helpers/server.mjs';

let guard;
before(() => {
  guard = createLoopGuard({ prometheus: false, startupGraceMs: 0 });
});
after(() => guard.close());

test('plain node:http: the page at its path, the JSON beside it, security headers on both', async () => {
  const dashboard = dashboardHandler(guard);
  const server = await listen(
    http.createServer((req, res) => {
      if (req.url.startsWith('/ops/loopguard')) return dashboard(req, res);
      res.end('app');
    }),
  );
  try {
    const page = await fetch(`${server.url}/ops/loopguard`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    const csp = page.headers.get('content-security-policy');
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'sha256-[A-Za-z0-9+/=]+'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const html = await page.text();
    assert.doesNotMatch(html, /<(script|link)[^>]+(src|href)="(https?:)?\/\//, 'nothing loaded from elsewhere: works offline');

    const again = await fetch(`${server.url}/ops/loopguard/`, { headers: { 'if-none-match': page.headers.get('etag') } });
    assert.equal(again.status, 304);

    const json = await fetch(`${server.url}/ops/loopguard/snapshot.json?cache=bust`);
    assert.equal(json.status, 200);
    const body = await json.json();
    assert.equal(body.thresholdMs, 100);
    assert.ok(Array.isArray(body.history) && Array.isArray(body.culprits) && Array.isArray(body.recentStalls));

    const head = await fetch(`${server.url}/ops/loopguard`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers.get('content-length')), Buffer.byteLength(html));
    assert.equal((await head.text()).length, 0);

    const post = await fetch(`${server.url}/ops/loopguard/snapshot.json`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  } finally {
    await server.close();
  }
});

test('Express mount: other paths under the mount fall through to the app', async () => {
  const app = express();
  app.use('/loopguard', guard.dashboardHandler());
  app.use((req, res) => res.status(404).send('app 404'));
  const server = await listen(app);
  try {
    assert.equal((await fetch(`${server.url}/loopguard`)).status, 200);
    assert.equal((await fetch(`${server.url}/loopguard/snapshot.json`)).status, 200);
    const other = await fetch(`${server.url}/loopguard/admin`);
    assert.equal(other.status, 404);
    assert.equal(await other.text(), 'app 404');
  } finally {
    await server.close();
  }
});

test('authorize decides who sees the page and the JSON; a throwing or rejecting check is a 403, reported once', async () => {
  const errors = [];
  const local = createLoopGuard({ prometheus: false, onError: (e) => errors.push(e) });
  const app = express();
  app.use('/sync', local.dashboardHandler({ authorize: (req) => req.headers['x-ops-token'] === 'let-me-in' }));
  app.use('/async', local.dashboardHandler({ authorize: async (req) => req.headers['x-ops-token'] === 'let-me-in' }));
  app.use('/rejects', local.dashboardHandler({ authorize: () => Promise.reject(new Error('session store down')) }));
  app.use('/throws', local.dashboardHandler({ authorize: () => { throw new Error('bad check'); } }));
  const server = await listen(app);
  try {
    for (const mount of ['sync', 'async']) {
      for (const path of ['', '/snapshot.json']) {
        assert.equal((await fetch(`${server.url}/${mount}${path}`)).status, 403, `${mount}${path} without token`);
        const ok = await fetch(`${server.url}/${mount}${path}`, { headers: { 'x-ops-token': 'let-me-in' } });
        assert.equal(ok.status, 200, `${mount}${path} with token`);
      }
    }
    const rejected = await fetch(`${server.url}/rejects/snapshot.json`);
    assert.equal(rejected.status, 403);
    assert.ok(errors.some((e) => /session store down/.test(e.message)), errors.map((e) => e.message).join('; '));
    const thrown = await fetch(`${server.url}/throws`);
    assert.equal(thrown.status, 403, 'fails closed');
    assert.ok(errors.some((e) => /bad check/.test(e.message)));
  } finally {
    await server.close();
    local.close();
  }
});

test('the JSON carries the load-shedding state when shedding is on, null when it is off', async () => {
  const shedding = createLoopGuard({ prometheus: false, shed: { maxEventLoopDelayMs: 200 } });
  const server = await listen(http.createServer(dashboardHandler(shedding)));
  const plain = await listen(http.createServer(dashboardHandler(guard)));
  try {
    const on = await (await fetch(`${server.url}/snapshot.json`)).json();
    assert.equal(on.shedding.state, 'off');
    assert.equal(on.shedding.shedTotal, 0);
    const off = await (await fetch(`${plain.url}/snapshot.json`)).json();
    assert.equal(off.shedding, null);
  } finally {
    await server.close();
    await plain.close();
    shedding.close();
  }
});

test('bad dashboard options throw at mount time, naming the option', () => {
  assert.throws(() => dashboardHandler(guard, { authorize: 'yes' }), (err) => err instanceof InvalidOptionError && err.option === 'dashboard.authorize');
  assert.throws(() => dashboardHandler(guard, { root: 'relative/dir' }), (err) => err instanceof InvalidOptionError && err.option === 'dashboard.root');
  assert.throws(() => dashboardHandler(guard, { authorise: () => true }), (err) => err instanceof TypeError && /dashboard\.authorise/.test(err.message));
  assert.throws(() => dashboardHandler(guard, null), TypeError);
});

/** A node:http server whose requests look as if they came from `remoteAddress` (the socket's own getter, shadowed). */
function serverSeenFrom(remoteAddress, handler) {
  return listen(
    http.createServer((req, res) => {
      Object.defineProperty(req.socket, 'remoteAddress', { value: remoteAddress, configurable: true });
      handler(req, res);
    }),
  );
}

test('without authorize, only loopback clients see the page and the JSON; with it, the check decides', async () => {
  const open = dashboardHandler(guard);
  const checked = dashboardHandler(guard, { authorize: (req) => req.headers['x-ops'] === 'yes' });
  for (const [address, expected] of [['203.0.113.7', 403], ['::ffff:10.0.0.2', 403], ['2001:db8::1', 403], ['127.0.0.1', 200], ['::ffff:127.0.0.1', 200], ['::1', 200]]) {
    const server = await serverSeenFrom(address, open);
    try {
      for (const path of ['/', '/snapshot.json']) assert.equal((await fetch(server.url + path)).status, expected, `${address} ${path}`);
    } finally {
      await server.close();
    }
  }
  const remote = await serverSeenFrom('203.0.113.7', checked);
  try {
    assert.equal((await fetch(`${remote.url}/snapshot.json`)).status, 403);
    assert.equal((await fetch(`${remote.url}/snapshot.json`, { headers: { 'x-ops': 'yes' } })).status, 200, 'authorize given: it decides, not the address');
  } finally {
    await remote.close();
  }
});

test('the JSON is built at most once a second, however often it is polled', async () => {
  let snapshots = 0;
  const original = guard.snapshot;
  guard.snapshot = function countedSnapshot() {
    snapshots++;
    return original.call(this);
  };
  const dashboard = dashboardHandler(guard);
  const server = await listen(http.createServer((req, res) => dashboard(req, res)));
  try {
    const bodies = [];
    for (let i = 0; i < 10; i++) bodies.push(await (await fetch(`${server.url}/snapshot.json`)).text());
    assert.ok(snapshots <= 2, `${snapshots} snapshots for 10 polls`);
    assert.ok(new Set(bodies).size <= 2);
  } finally {
    delete guard.snapshot;
    assert.equal(guard.snapshot, original);
    await server.close();
  }
});
