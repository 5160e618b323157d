// The guard's contracts with no stall in them: registration, the route cap, mounting twice, exits.
// (Stall scenarios: core-guard-stalls.test.mjs, retried once by the suite runner.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { createLoopGuard } from 'loopguard';
import { withApp } from '../helpers/guard-app.mjs';

test('a second guard on the same registry is a clear error; after close() the names are free again', () => {
  const registry = new Registry();
  const first = createLoopGuard({ prometheus: { registry } });
  try {
    assert.throws(() => createLoopGuard({ prometheus: { registry } }), (err) => err.code === 'LOOPGUARD_ALREADY_REGISTERED' && /prefix/.test(err.message));
    const other = createLoopGuard({ prometheus: { registry, prefix: 'other_' } });
    other.close();
  } finally {
    first.close();
  }
  createLoopGuard({ prometheus: { registry } }).close();
});

test('routes beyond maxRoutes are counted as (overflow); unmatched requests as (unmatched)', async () => {
  await withApp(
    { maxRoutes: 2 },
    (app) => {
      for (const name of ['a', 'b', 'c', 'd']) app.get(`/${name}/:id`, (req, res) => res.send(name));
    },
    async ({ guard, url }) => {
      for (const path of ['/a/1', '/b/2', '/c/3', '/d/4', '/nope/5', '/a/6']) await fetch(url + path).then((r) => r.text());
      const routes = Object.fromEntries(guard.snapshot().routes.map((r) => [r.route, r.requests]));
      assert.deepEqual(routes, { '/a/:id': 2, '/b/:id': 1, '(overflow)': 2, '(unmatched)': 1 });
    },
  );
});

test('mounting the middleware twice counts each request once', async () => {
  await withApp(
    {},
    (app) => app.get('/x', (req, res) => res.send('x')),
    async ({ guard, url, middleware, app }) => {
      app.router.stack.splice(app.router.stack.length - 1, 0, ...app.router.stack.filter((l) => l.handle === middleware));
      await fetch(`${url}/x`).then((r) => r.text());
      await fetch(`${url}/x`).then((r) => r.text());
      assert.equal(guard.snapshot().routes.find((r) => r.route === '/x').requests, 2);
    },
  );
});

test('process.exit() with the guard still open does not wait for a debugger', async () => {
  const script = fileURLToPath(new URL('../fixtures/exit-without-close.mjs', import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, output);
  assert.match(output, /watching/);
  assert.doesNotMatch(output, /Waiting for the debugger/);
});
