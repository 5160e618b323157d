// Route labels that hostile input and rare interleavings cannot bend: no
// framework code inside the stall probe's interrupt, no raw URL text from
// Express 4 mount parameters, a route cap only sentinels are exempt from, and
// the stall counters' method normalised. No stall here: the probe is called
// directly, as the watchdog's interrupt would call it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import express4 from 'express4';
import { loopGuard } from 'loopguard';
import { expressRoute, kProbe, RouteTable, StallStats } from '../../dist/internal.js';
import { listen } from '../helpers/server.mjs';

const probe = globalThis[kProbe];

/** Counts every call of `match` on the layers of an app's router tree, from now on. */
function countMatches(app) {
  const counter = { calls: 0 };
  const wrap = (stack) => {
    for (const layer of stack) {
      const match = layer.match;
      if (typeof match === 'function') {
        layer.match = function countedMatch(...args) {
          counter.calls++;
          return match.apply(this, args);
        };
      }
      if (Array.isArray(layer.handle?.stack)) wrap(layer.handle.stack);
    }
  };
  wrap((app._router ?? app.router).stack);
  return counter;
}

for (const [version, impl] of [['Express 5', express], ['Express 4', express4]]) {
  test(`${version}: the stall probe reads only cached templates; a miss is resolved when the request finishes`, async () => {
    assert.equal(typeof probe, 'function', 'loopguard installed its probe');
    const middleware = loopGuard({ prometheus: false, startupGraceMs: 0 });
    const app = impl();
    app.use(middleware);
    const tenants = impl.Router({ mergeParams: true });
    const seen = [];
    let counter;
    tenants.get('/items/:id', (req, res) => {
      // What the watchdog's interrupt would see, here, between the router's match and the response.
      const before = counter.calls;
      const result = probe(8, 0);
      seen.push({ request: result?.requestId > 0, route: result?.route, matches: counter.calls - before });
      res.send('ok');
    });
    app.use('/tenants/:tenant', tenants);
    counter = countMatches(app);
    const server = await listen(app);
    try {
      for (const path of ['/tenants/acme/items/1', '/tenants/acme/items/2']) assert.equal(await (await fetch(server.url + path)).text(), 'ok');
      // The first request of this prefix: nothing cached, so no walk of the router inside the probe.
      assert.deepEqual(seen[0], { request: true, route: null, matches: 0 });
      // Resolved when it finished, and cached: the next probe reads it.
      assert.deepEqual(seen[1], { request: true, route: '/tenants/:tenant/items/:id', matches: 0 });
      const routes = middleware.guard.snapshot().routes.map((r) => r.route);
      assert.deepEqual(routes, ['/tenants/:tenant/items/:id']);
    } finally {
      await server.close();
      middleware.guard.close();
    }
  });
}

test('expressRoute: without `settled` a prefix cache miss is null and runs no layer match', () => {
  const app = express4();
  const router = express4.Router();
  router.get('/x', () => {});
  app.use('/t/:tenant', router);
  const counter = countMatches(app);
  const route = router.stack[0].route;
  const req = { route, baseUrl: '/t/acme', app };
  assert.equal(expressRoute(req), null);
  assert.equal(counter.calls, 0);
  assert.equal(expressRoute(req, true), '/t/:tenant/x');
  assert.ok(counter.calls > 0);
  assert.equal(expressRoute(req), '/t/:tenant/x', 'cached once settled');
});

test('Express 4: a mount parameter spanning segments is put back as its name, never the raw text', async () => {
  const middleware = loopGuard({ prometheus: false, startupGraceMs: 0 });
  const app = express4();
  app.use(middleware);
  const files = express4.Router();
  files.get('/meta', (req, res) => res.send('ok'));
  app.use('/files/:path(*)/x', files);
  const server = await listen(app);
  try {
    for (const path of ['/files/a/b/x/meta', '/files/SeCrEt1/x/meta', '/files/q/SeCrEt2/r/x/meta']) assert.equal((await fetch(server.url + path)).status, 200);
    const routes = middleware.guard.snapshot().routes.map((r) => r.route);
    assert.deepEqual(routes, ['/files/:path/x/meta']);
  } finally {
    await server.close();
    middleware.guard.close();
  }
});

test('the route cap exempts only the fixed sentinels: labels that merely look like one count against it', () => {
  const table = new RouteTable(2);
  for (let i = 0; i < 300; i++) table.stats(`(${i})`, 'GET');
  assert.equal(table.stats('/real', 'GET').route, '(overflow)', 'lookalikes filled the cap');
  assert.equal(table.size, 2);
  for (const sentinel of ['(unmatched)', '(overflow)', '(background)', '(gc)']) assert.equal(table.stats(sentinel, 'GET').route, sentinel);
  const labels = new Set([...table.all()].map((s) => s.route));
  assert.ok(labels.size <= 2 + 4, [...labels].join(', '));
});

test('the stall counters normalise the method as the request stats do', () => {
  const stats = new StallStats(0);
  const report = (method) => ({ id: 1, startedAt: 0, durationMs: 200, route: '/a', method, cause: 'request', stack: [], victims: 0, advice: null });
  for (const method of ['GET', 'BREW', 'X'.repeat(200), null]) stats.record(report(method), '/a');
  assert.deepEqual([...stats.all()].map((c) => c.method).sort(), ['', 'GET', '_OTHER']);
});
