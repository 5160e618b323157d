// Hostile traffic: random URLs and parameters must not grow label values or memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import express from 'express';
import { Registry } from 'prom-client';
import { loopGuard } from 'loopguard';
import { listen } from '../helpers/server.mjs';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const MARKER = 'SeCrEt7788';
const MAX_ROUTES = 20;

async function flood(url, count) {
  const child = fork(fileURLToPath(new URL('../helpers/flood-child.mjs', import.meta.url)), [url, String(count), '32', MARKER]);
  const [result] = await once(child, 'message');
  await once(child, 'exit');
  return result;
}

/**
 * The statuses the app must give flood-child.mjs's requests, which cycle
 * through its five paths by count (POST on every seventh): only GET routes
 * answer 200, and /static-*\/:x (all methods); the rest is Express's 404.
 */
function expectedStatuses(from, count) {
  const statuses = {};
  for (let sent = from + 1; sent <= from + count; sent++) {
    const kind = sent % 5;
    const post = sent % 7 === 0;
    const status = kind === 2 || ((kind === 0 || kind === 1) && !post) ? 200 : 404;
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
  return statuses;
}

function heapUsed() {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

test('100 000 hostile requests: route labels stay within maxRoutes + sentinels, memory stays flat, no raw input anywhere', async () => {
  const registry = new Registry();
  const middleware = loopGuard({ maxRoutes: MAX_ROUTES, prometheus: { registry } });
  const app = express();
  app.use(middleware);
  app.use(express.json());
  app.get('/users/:id', (req, res) => res.json({ id: req.params.id }));
  app.get('/teams/:team/members/:member', (req, res) => res.send('m'));
  for (let i = 0; i < 60; i++) app.all(`/static-${i}/:x`, (req, res) => res.send('s'));
  const server = await listen(app);
  try {
    const warm = await flood(server.url, 10_000);
    assert.deepEqual(warm, { done: 10_000, errors: 0, statuses: expectedStatuses(0, 10_000) });
    const before = heapUsed();
    const result = await flood(server.url, 90_000);
    assert.deepEqual(result, { done: 90_000, errors: 0, statuses: expectedStatuses(0, 90_000) }, 'every request answered, each as the app answers it');
    const growthMb = (heapUsed() - before) / 1024 / 1024;

    const text = await registry.metrics();
    const routeLabels = new Set([...text.matchAll(/route="([^"]*)"/g)].map((m) => m[1]));
    const templates = [...routeLabels].filter((r) => r.startsWith('/'));
    assert.ok(templates.length <= MAX_ROUTES, `${templates.length} templates`);
    // Sentinels only besides templates ((background)/(gc) when the loaded machine stalls on its own).
    for (const r of routeLabels) assert.ok(r.startsWith('/') || ['(unmatched)', '(overflow)', '(background)', '(gc)'].includes(r), r);
    assert.ok(routeLabels.has('(overflow)') && routeLabels.has('(unmatched)'));
    for (const r of templates) assert.doesNotMatch(r, /[?]|%|\.\./, r);
    const snapshot = JSON.stringify(middleware.guard.snapshot());
    for (const haystack of [text, snapshot]) assert.ok(!haystack.includes(MARKER), 'raw URL, header or body leaked');
    assert.equal(middleware.guard.snapshot().requestsInFlight, 0);
    assert.ok(growthMb < 8, `heap grew ${growthMb.toFixed(2)} MB over 90 000 requests`);
  } finally {
    await server.close();
    middleware.guard.close();
  }
});
