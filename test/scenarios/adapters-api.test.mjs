// The adapters' contracts beyond attribution: options or an existing guard,
// closing, idempotence, route templates (prefixes, mounts, unmatched),
// precise mode, the request's context across body events, and the exports
// from both import and require.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import Fastify from 'fastify';
import Koa from 'koa';
import Router from '@koa/router';
import { createLoopGuard, InvalidOptionError, LoopGuard } from 'loopguard';
import { loopGuard as fastifyLoopGuard, fastifyRoute } from 'loopguard/fastify';
import { loopGuard as koaLoopGuard, koaRoute } from 'loopguard/koa';
import { withLoopGuard } from 'loopguard/http';
import { guardInternals, requestStore } from '../../dist/internal.js';
import { listen } from '../helpers/server.mjs';

const quiet = { prometheus: false, startupGraceMs: 0 };
const routeStats = (guard, route) => [...guardInternals(guard).routes.all()].find((s) => s.route === route);

test('every subpath export loads from require and import, with its type declarations', async () => {
  const require = createRequire(import.meta.url);
  const pkg = require('loopguard/package.json');
  for (const [subpath, name] of [['./fastify', 'loopGuard'], ['./koa', 'loopGuard'], ['./http', 'withLoopGuard'], ['./register', 'guard']]) {
    const entry = pkg.exports[subpath];
    assert.ok(fs.existsSync(new URL(`../../${entry.types}`, import.meta.url)), `${subpath} types at ${entry.types}`);
    // Loading register here would instrument this test process: its require/import are exercised in child processes.
    if (subpath === './register') continue;
    const specifier = `loopguard/${subpath.slice(2)}`;
    assert.equal(typeof require(specifier)[name], 'function', `require('${specifier}').${name}`);
    assert.equal((await import(specifier))[name], require(specifier)[name], `import('${specifier}').${name}`);
  }
});

test('Fastify: options make a guard closed with the app; a guard passed in stays open; registering twice counts once', async () => {
  const app = Fastify();
  app.register(fastifyLoopGuard, { ...quiet, prefix: '/ignored', thresholdMs: 50 });
  app.register(fastifyLoopGuard, { ...quiet });
  app.get('/a', async () => 'a');
  await app.ready();
  assert.ok(app.loopGuard instanceof LoopGuard);
  assert.equal(app.loopGuard.options.thresholdMs, 50);
  await app.inject('/a');
  assert.equal(routeStats(app.loopGuard, '/a').requests, 1);
  const owned = app.loopGuard;
  await app.close();
  assert.equal(owned.isClosed, true);

  const guard = createLoopGuard(quiet);
  const other = Fastify();
  other.register(fastifyLoopGuard, guard);
  await other.ready();
  assert.equal(other.loopGuard, guard);
  await other.close();
  assert.equal(guard.isClosed, false, 'the creator of a guard closes it');
  guard.close();
});

test('Fastify: a bad option fails app startup with the coded error', async () => {
  const app = Fastify();
  app.register(fastifyLoopGuard, { thresholdMs: -1 });
  await assert.rejects(app.ready(), (err) => err instanceof InvalidOptionError && err.option === 'thresholdMs');
  await app.close().catch(() => undefined);
});

test('Fastify: prefixed routes, (unmatched) 404s, aborted requests leave nothing in flight', async () => {
  const app = Fastify({ forceCloseConnections: true });
  app.register(fastifyLoopGuard, quiet);
  app.register(async (v2) => {
    v2.get('/items/:id', async () => 'item');
    v2.get('/hang', () => new Promise(() => {})); // never answers
  }, { prefix: '/v2' });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${app.server.address().port}`;
  try {
    assert.equal((await fetch(`${url}/v2/items/9`)).status, 200);
    assert.equal((await fetch(`${url}/nope?q=1`)).status, 404);
    const aborted = new AbortController();
    const arrived = once(app.server, 'request');
    const hanging = fetch(`${url}/v2/hang`, { signal: aborted.signal }).catch(() => 'aborted');
    const [, res] = await arrived;
    assert.equal(app.loopGuard.snapshot().requestsInFlight, 1);
    // loopguard's 'close' listener was added while Fastify handled 'request', before this one.
    const closed = once(res, 'close');
    aborted.abort();
    assert.equal(await hanging, 'aborted');
    await closed;
    assert.equal(app.loopGuard.snapshot().requestsInFlight, 0, 'the aborted request finished');
    assert.deepEqual([...guardInternals(app.loopGuard).routes.all()].map((s) => s.route).sort(), ['(unmatched)', '/v2/hang', '/v2/items/:id']);
  } finally {
    await app.close();
  }
});

test('Koa: router prefixes and nested routers give templates; koa-mount prefixes join; mounting twice counts once', async () => {
  const middleware = koaLoopGuard(quiet);
  const app = new Koa();
  app.use(middleware);
  app.use(koaLoopGuard(middleware.guard));
  const nested = new Router();
  nested.get('/orders/:id', (ctx) => (ctx.body = 'order'));
  const api = new Router({ prefix: '/api' });
  api.use('/v2', nested.routes());
  api.get('/ping', (ctx) => (ctx.body = 'pong'));
  app.use(api.routes());
  const server = await listen(app.callback());
  try {
    for (const path of ['/api/v2/orders/5', '/api/ping', '/missing']) await fetch(server.url + path).then((r) => r.text());
    const routes = Object.fromEntries([...guardInternals(middleware.guard).routes.all()].map((s) => [s.route, s.requests]));
    assert.deepEqual(routes, { '/api/v2/orders/:id': 1, '/api/ping': 1, '(unmatched)': 1 });
  } finally {
    await server.close();
    middleware.guard.close();
  }
  // koa-mount sets ctx.mountPath to its (parameter-free) prefix and routes below it.
  assert.equal(koaRoute({ _matchedRoute: '/users/:id', mountPath: '/admin' }), '/admin/users/:id');
  assert.equal(koaRoute({ _matchedRoute: '/', mountPath: '/admin/' }), '/admin/');
  assert.equal(koaRoute({ _matchedRoute: 'users', mountPath: '/admin/' }), '/admin/users');
  assert.equal(koaRoute({ _matchedRoute: /^\/re$/ }), '/^\\/re$/');
  assert.equal(koaRoute({ mountPath: '/admin' }), null);
  assert.equal(fastifyRoute({ is404: true, routeOptions: { url: '/x' } }), null);
  assert.equal(fastifyRoute({ is404: false, routeOptions: { url: '/x/:id' } }), '/x/:id');
});

test('node:http: options are validated; route() gives templates, anything else is (unmatched); the listener keeps `this`', async () => {
  const listener = (req, res) => res.end('ok');
  assert.throws(() => withLoopGuard('nope'), (err) => err instanceof InvalidOptionError && err.option === 'listener');
  assert.throws(() => withLoopGuard(listener, { route: '/static' }), (err) => err instanceof InvalidOptionError && err.option === 'route');
  assert.throws(() => withLoopGuard(listener, { guard: {} }), (err) => err instanceof InvalidOptionError && err.option === 'guard');
  const shared = createLoopGuard(quiet);
  assert.throws(() => withLoopGuard(listener, { guard: shared, thresholdMs: 5 }), (err) => err instanceof InvalidOptionError && err.option === 'thresholdMs');
  assert.throws(() => withLoopGuard(listener, { thresholdMs: 'soon' }), (err) => err instanceof InvalidOptionError && err.option === 'thresholdMs');

  let self;
  const wrapped = withLoopGuard(
    function handler(req, res) {
      self = this;
      res.end('ok');
    },
    {
      guard: shared,
      route(req) {
        if (req.url.startsWith('/users/')) return '/users/:id';
        if (req.url === '/boom') throw new Error('router bug');
        return req.url === '/number' ? 42 : undefined;
      },
    },
  );
  assert.equal(wrapped.guard, shared);
  const server = await listen(http.createServer(wrapped));
  try {
    for (const path of ['/users/1', '/users/2', '/number', '/boom', '/other']) assert.equal(await fetch(server.url + path).then((r) => r.text()), 'ok');
    assert.equal(self, server.server);
    const routes = Object.fromEntries([...guardInternals(shared).routes.all()].map((s) => [s.route, s.requests]));
    assert.deepEqual(routes, { '/users/:id': 2, '(unmatched)': 3 });
  } finally {
    await server.close();
    shared.close();
  }
});

test('node:http: a body sent in pieces reaches the listener intact, and its events run in the request\'s context', async () => {
  const seen = [];
  let firstChunk;
  const firstChunkArrived = new Promise((resolve) => (firstChunk = resolve));
  const listener = withLoopGuard(
    (req, res) => {
      const chunks = [];
      const own = requestStore.getStore();
      req.on('data', (chunk) => {
        chunks.push(chunk);
        seen.push(own !== undefined && requestStore.getStore() === own);
        firstChunk();
      });
      req.on('end', () => {
        seen.push(own !== undefined && requestStore.getStore() === own);
        seen.push(!Object.keys(req).includes('emit'));
        res.end(Buffer.concat(chunks));
      });
    },
    { ...quiet, route: () => '/echo' },
  );
  const server = await listen(http.createServer(listener));
  try {
    const req = http.request(`${server.url}/echo`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } });
    req.write('first,');
    // The second piece comes in a later socket read, in the socket's async context.
    await firstChunkArrived;
    req.end('second');
    const [res] = await once(req, 'response');
    let body = '';
    for await (const chunk of res) body += chunk;
    assert.equal(body, 'first,second');
    assert.ok(seen.length >= 3, `events seen: ${seen.length}`);
    assert.ok(seen.every(Boolean), `every body event ran in the request's context, and the request's own keys are unchanged: ${seen}`);
  } finally {
    await server.close();
    listener.guard.close();
  }
});
