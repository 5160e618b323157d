// expressRoute on real Express 4 and 5 router trees, with the request fields
// Express sets (route, baseUrl, app) written by hand: no server. The route
// label is a template, never the client's text, and the router is walked
// only when the request is settled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import express4 from 'express4';
import { expressRoute } from '../../dist/internal.js';

const EXPRESSES = [
  ['Express 5', express],
  ['Express 4', express4],
];

/** The Route object a router made for `path`. */
const routeOf = (router, path) => router.stack.find((l) => l.route?.path === path).route;
const stackOf = (app) => app._router?.stack ?? app.router.stack;

for (const [name, e] of EXPRESSES) {
  test(`${name}: no matched route is null; a route with no mount prefix is its own path`, () => {
    const app = e();
    app.get('/health', () => {});
    app.get(['/a', '/b'], () => {});
    assert.equal(expressRoute({ app }), null);
    assert.equal(expressRoute({ route: routeOf(app._router ?? app.router, '/health'), baseUrl: '', app }), '/health');
    const multi = stackOf(app).find((l) => Array.isArray(l.route?.path)).route;
    assert.equal(expressRoute({ route: multi, baseUrl: '', app }), '/a|/b');
  });

  test(`${name}: a router mounted under parameters gives the prefix template, walked only once the request is settled`, () => {
    const app = e();
    const router = e.Router();
    router.get('/users/:id', () => {});
    app.use('/tenants/:tenant', router);
    const route = routeOf(router, '/users/:id');
    // Count the router's own match() calls: framework code must not run from an interrupt.
    let matches = 0;
    for (const layer of stackOf(app)) {
      const match = layer.match;
      layer.match = function (...args) {
        matches++;
        return match.apply(this, args);
      };
    }
    const req = { route, baseUrl: '/tenants/acme', app };
    assert.equal(expressRoute(req), null, 'unsettled and not cached: null, no walk');
    assert.equal(matches, 0);
    assert.equal(expressRoute(req, true), '/tenants/:tenant/users/:id');
    assert.ok(matches > 0);
    const walked = matches;
    assert.equal(expressRoute(req), '/tenants/:tenant/users/:id', 'cached per raw prefix');
    assert.equal(expressRoute({ route, baseUrl: '/tenants/acme', app }, true), '/tenants/:tenant/users/:id');
    assert.equal(matches, walked, 'a cached prefix is not walked again');
    assert.equal(expressRoute({ route, baseUrl: '/tenants/globex', app }), null, 'another tenant is another raw prefix');
    assert.doesNotMatch(expressRoute({ route, baseUrl: '/tenants/globex', app }, true), /globex/);
  });

  test(`${name}: a mounted sub-app's mount path, a nested router, and a tree that cannot be found`, () => {
    const app = e();
    const sub = e();
    const inner = e.Router();
    inner.get('/orders/:order', () => {});
    const outer = e.Router();
    outer.use('/shops/:shop', inner);
    sub.use(outer);
    app.use('/v1', sub);
    const route = routeOf(inner, '/orders/:order');
    assert.equal(expressRoute({ route, baseUrl: '/v1/shops/s-42', app: sub }, true), '/v1/shops/:shop/orders/:order');
    // No router tree to walk (an unusual setup): a fixed prefix, never the raw one.
    assert.equal(expressRoute({ route, baseUrl: '/shops/s-42', app: undefined }, true), '/(mounted)/orders/:order');
  });

  test(`${name}: past 64 raw prefixes of one route nothing more is cached, so the labels stay right and memory flat`, () => {
    const app = e();
    const router = e.Router();
    router.get('/x', () => {});
    app.use('/t/:tenant', router);
    const route = routeOf(router, '/x');
    for (let i = 0; i < 64; i++) assert.equal(expressRoute({ route, baseUrl: `/t/n${i}`, app }, true), '/t/:tenant/x');
    assert.equal(expressRoute({ route, baseUrl: '/t/n65', app }, true), '/t/:tenant/x', 'still computed');
    assert.equal(expressRoute({ route, baseUrl: '/t/n65', app }), null, 'but not cached');
    assert.equal(expressRoute({ route, baseUrl: '/t/n3', app }), '/t/:tenant/x', 'the first ones stay cached');
  });
}

test('Express 4 keeps no template: parameter names are put back into the matched text, spanning segments and encoded', () => {
  const app = express4();
  const files = express4.Router();
  files.get('/meta', () => {});
  app.use('/files/:path(*)', files);
  const route = routeOf(files, '/meta');
  assert.equal(expressRoute({ route, baseUrl: '/files/a/b c', app }, true), '/files/:path/meta');
  const enc = express4.Router();
  enc.get('/x', () => {});
  app.use('/u/:name', enc);
  assert.equal(expressRoute({ route: routeOf(enc, '/x'), baseUrl: '/u/J%C3%B6rg', app }, true), '/u/:name/x');
});

test('a parameter value that cannot be found in the matched text gives a fixed prefix, never the client\'s text', () => {
  const route = { path: '/x' };
  const layer = {
    keys: [{ name: 'tenant' }],
    handle: { stack: [{ route }] },
    // As Express 4 does: a boolean, with path and params left on the layer.
    match(path) {
      this.path = '/t/acme';
      this.params = { tenant: 'somebody-else' };
      return path.startsWith('/t/acme');
    },
  };
  const app = { _router: { stack: [layer] } };
  const label = expressRoute({ route, baseUrl: '/t/acme', app }, true);
  assert.equal(label, '/(mounted)/x');
});
