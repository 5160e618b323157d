// Patches loopguard makes to the process (IncomingMessage.prototype.emit,
// the CommonJS loader in the zero-code start, a retired Express layer's
// match) are undone when the last guard closes. No stall here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import express from 'express';
import express4 from 'express4';
import { createLoopGuard, loopGuard } from 'loopguard';
import { listen } from '../helpers/server.mjs';
import { cleanEnv } from '../helpers/register.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const quiet = { prometheus: false, otel: false, startupGraceMs: 0 };

/** An Express app with the middleware and a JSON route; a POST with a body hooks IncomingMessage's emit. */
async function appWith(impl, middleware) {
  const app = impl();
  app.use(middleware);
  app.post('/echo', impl.json(), (req, res) => res.json(req.body));
  app.get('/x', (req, res) => res.send('x'));
  return { app, server: await listen(app) };
}

const post = (url) => fetch(`${url}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' }).then((r) => r.json());

test("IncomingMessage.prototype.emit is hooked while a guard is open, and the last guard's close puts it back", async () => {
  const original = IncomingMessage.prototype.emit;
  const other = createLoopGuard(quiet);
  const middleware = loopGuard(quiet);
  const { server } = await appWith(express, middleware);
  try {
    assert.deepEqual(await post(server.url), { a: 1 });
    assert.notEqual(IncomingMessage.prototype.emit, original, 'hooked by a request with a body');
    middleware.guard.close();
    assert.notEqual(IncomingMessage.prototype.emit, original, 'another guard is still open');
    other.close();
    assert.equal(IncomingMessage.prototype.emit, original, 'the last close undid it');
  } finally {
    await server.close();
    middleware.guard.close();
    other.close();
  }
  // A later guard hooks it again.
  const again = loopGuard(quiet);
  const second = await appWith(express, again);
  try {
    assert.deepEqual(await post(second.server.url), { a: 1 });
    assert.notEqual(IncomingMessage.prototype.emit, original);
  } finally {
    await second.server.close();
    again.guard.close();
  }
  assert.equal(IncomingMessage.prototype.emit, original);
});

for (const [version, impl] of [['Express 5', express], ['Express 4', express4]]) {
  test(`${version}: a retired layer matches again once its guard closes`, async () => {
    const middleware = loopGuard(quiet);
    const { app, server } = await appWith(impl, middleware);
    try {
      // The first request opens in the middleware; the next ones come from the channel and retire its layer.
      for (let i = 0; i < 3; i++) assert.equal(await (await fetch(`${server.url}/x`)).text(), 'x');
      const layer = (app._router ?? app.router).stack.find((l) => l.handle === middleware);
      assert.ok(Object.hasOwn(layer, 'match'), 'retired: its own never-matching match');
      middleware.guard.close();
      assert.ok(!Object.hasOwn(layer, 'match'), "restored: the router's own match");
      assert.equal(await (await fetch(`${server.url}/x`)).text(), 'x', 'the app still answers');
    } finally {
      await server.close();
      middleware.guard.close();
    }
  });
}

test('the zero-code start: the module loader hook is undone when its guard closes', async () => {
  const code = [
    "const Module = require('node:module');",
    "const guard = require('loopguard/register').guard;",
    'const during = Module._load.name;',
    'guard.close();',
    'console.log(JSON.stringify({ during, after: Module._load.name }));',
  ].join('\n');
  const child = spawn(process.execPath, ['--require', 'loopguard/register', '-e', code], { cwd: ROOT, env: cleanEnv({ LOOPGUARD_PROMETHEUS: 'false', LOOPGUARD_OTEL: 'false' }), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const [exitCode] = await once(child, 'exit');
  assert.equal(exitCode, 0, stderr);
  const { during, after } = JSON.parse(stdout);
  assert.equal(during, 'loadAndLinkKoa');
  assert.notEqual(after, 'loadAndLinkKoa');
});
