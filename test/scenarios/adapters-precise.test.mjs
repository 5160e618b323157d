// Precise mode through an adapter: a handler's own synchronous time, measured
// on a real loop (timing: retried once by the suite runner).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { loopGuard as fastifyLoopGuard } from 'loopguard/fastify';
import { guardInternals } from '../../dist/internal.js';
import { burnCpu } from '../fixtures/blocking.mjs';

const routeStats = (guard, route) => [...guardInternals(guard).routes.all()].find((s) => s.route === route);

test('Fastify precise mode: a handler\'s own synchronous time under the threshold is recorded', async () => {
  const app = Fastify();
  app.register(fastifyLoopGuard, { prometheus: false, startupGraceMs: 0, precise: true, thresholdMs: 500 });
  app.get('/light', async () => 'ok');
  app.get('/heavy', (request, reply) => {
    burnCpu(40);
    reply.send('ok');
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${app.server.address().port}`;
  try {
    for (let i = 0; i < 5; i++) {
      await fetch(`${url}/light`).then((r) => r.text());
      await fetch(`${url}/heavy`).then((r) => r.text());
    }
    const heavy = routeStats(app.loopGuard, '/heavy').blocking;
    const light = routeStats(app.loopGuard, '/light').blocking;
    assert.equal(heavy.count, 5);
    assert.ok(heavy.sum / 5 >= 0.035, `heavy mean ${heavy.sum / 5} s`);
    assert.ok(heavy.sum > 10 * light.sum, `heavy ${heavy.sum} vs light ${light.sum}`);
  } finally {
    await app.close();
  }
});
