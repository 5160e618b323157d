// Culprit shedding through the Fastify, Koa and node:http adapters: the route
// that blocked is answered 503 + Retry-After by each framework's own response
// API, other routes and the exempt health route are served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import Fastify from 'fastify';
import Koa from 'koa';
import Router from '@koa/router';
import { Registry } from 'prom-client';
import { loopGuard as fastifyLoopGuard } from 'loopguard/fastify';
import { loopGuard as koaLoopGuard } from 'loopguard/koa';
import { withLoopGuard } from 'loopguard/http';
import { createLoopGuard } from 'loopguard';
import { forkClient } from '../helpers/client.mjs';
import { listen, waitFor } from '../helpers/server.mjs';
import { burnCpu } from '../fixtures/blocking.mjs';
import { guardInternals } from '../../dist/internal.js';

const CULPRIT = '/api/v1/reports/:id';
// A long cooldown: shedding stays on for the whole test, which closes the guard.
const options = () => ({
  thresholdMs: 100,
  startupGraceMs: 0,
  prometheus: { registry: new Registry() },
  shed: { maxEventLoopDelayMs: 100, cooldownMs: 120_000, escalateAfterMs: 600_000 },
});

const ADAPTERS = {
  async fastify() {
    const guard = createLoopGuard(options());
    const app = Fastify();
    app.register(fastifyLoopGuard, guard);
    const health = guard.healthHandler();
    app.get('/health', (request, reply) => {
      reply.hijack();
      health(request.raw, reply.raw);
    });
    app.get('/items/:id', async (request) => ({ id: request.params.id }));
    app.register(async (api) => api.get('/reports/:id', async (request) => (burnCpu(200), { id: request.params.id })), { prefix: '/api/v1' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: `http://127.0.0.1:${app.server.address().port}`, guard, close: async () => (await app.close(), guard.close()) };
  },
  async koa() {
    const middleware = koaLoopGuard(options());
    const health = middleware.guard.healthHandler();
    const app = new Koa();
    app.use(middleware);
    const router = new Router();
    router.get('/health', (ctx) => {
      ctx.respond = false;
      health(ctx.req, ctx.res);
    });
    router.get('/items/:id', (ctx) => {
      ctx.body = { id: ctx.params.id };
    });
    const api = new Router({ prefix: '/api/v1' });
    api.get('/reports/:id', (ctx) => {
      burnCpu(200);
      ctx.body = { id: ctx.params.id };
    });
    app.use(router.routes()).use(api.routes());
    const server = await listen(app.callback());
    return { url: server.url, guard: middleware.guard, close: async () => (await server.close(), middleware.guard.close()) };
  },
  async http() {
    let health;
    const route = (req) => (req.url.startsWith('/api/v1/reports/') ? CULPRIT : req.url.startsWith('/items/') ? '/items/:id' : null);
    const listener = withLoopGuard(
      (req, res) => {
        if (req.url === '/health') return health(req, res);
        if (route(req) === CULPRIT) burnCpu(200);
        res.setHeader('content-type', 'application/json');
        res.end('{"ok":true}');
      },
      { route, ...options() },
    );
    health = listener.guard.healthHandler();
    const server = await listen(http.createServer(listener));
    return { url: server.url, guard: listener.guard, close: async () => (await server.close(), listener.guard.close()) };
  },
};

for (const [name, start] of Object.entries(ADAPTERS)) {
  test(`${name}: the culprit route is shed with 503 + Retry-After; other and exempt routes are served`, async (t) => {
    const client = await forkClient();
    const svc = await start();
    t.after(async () => {
      await client.close();
      await svc.close();
    });
    const culprits = waitFor(svc.guard, 'shed', (c) => c.state === 'culprits' && c.culprits.some((r) => r.route === CULPRIT));
    // Two blocking calls: a stall seen while starting up may have made the first one look like background.
    await client.startLoad([{ name: 'reports', url: `${svc.url}/api/v1/reports/1`, concurrency: 1 }]);
    await culprits;
    await client.stopLoad();

    const shed = await client.request(`${svc.url}/api/v1/reports/9?x=1`);
    assert.equal(shed.status, 503, shed.text);
    assert.equal(shed.headers['retry-after'], '5');
    assert.match(shed.headers['content-type'], /^application\/json/);
    assert.equal(JSON.parse(shed.text).reason, 'culprit');
    const fast = await client.request(`${svc.url}/items/3`);
    assert.equal(fast.status, 200, fast.text);
    const health = await client.request(`${svc.url}/health`);
    assert.equal(health.status, 200);
    assert.equal(JSON.parse(health.text).shedding, 'culprits');

    const shedCount = [...guardInternals(svc.guard).shedTotals.values()].find((s) => s.route === CULPRIT && s.reason === 'culprit')?.count;
    assert.ok(shedCount >= 1, `counted under the template: ${JSON.stringify([...guardInternals(svc.guard).shedTotals.values()])}`);
    assert.equal(svc.guard.snapshot().shedding.state, 'culprits');
  });
}
