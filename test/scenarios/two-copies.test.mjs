// Two copies of loopguard in one process (two versions in node_modules): a
// guard from one is a guard to the other, and the watchdog probe the first
// copy installed still sees the second copy's requests.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
// This copy loads first, so its probe is the one on globalThis.
import { createLoopGuard, isLoopGuard, LoopGuard, loopGuard } from 'loopguard';
import { withLoopGuard } from 'loopguard/http';
import { forkClient } from '../helpers/client.mjs';
import { listen, waitFor } from '../helpers/server.mjs';
import { burnCpu } from '../fixtures/blocking.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let dir;
let other;

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'loopguard-copy-'));
  const copy = path.join(dir, 'node_modules', 'loopguard');
  cpSync(path.join(ROOT, 'dist'), path.join(copy, 'dist'), { recursive: true });
  cpSync(path.join(ROOT, 'package.json'), path.join(copy, 'package.json'));
  other = createRequire(path.join(dir, 'index.js'))('loopguard');
  assert.notEqual(other.LoopGuard, LoopGuard, 'a second, distinct copy is loaded');
});

after(() => rmSync(dir, { recursive: true, force: true }));

const quiet = { prometheus: false, otel: false, captureStacks: false };

test("two copies: a guard from either is recognised by the other's brand check and adapters", () => {
  const theirs = other.createLoopGuard(quiet);
  const ours = createLoopGuard(quiet);
  try {
    assert.ok(theirs instanceof LoopGuard && isLoopGuard(theirs), 'their guard is a LoopGuard here');
    assert.ok(ours instanceof other.LoopGuard && other.isLoopGuard(ours), 'ours is one there');
    assert.ok(!isLoopGuard({}) && !({} instanceof LoopGuard) && !isLoopGuard(null));
    assert.equal(loopGuard(theirs).guard, theirs, 'passed as the guard itself');
    assert.equal(loopGuard({ guard: theirs }).guard, theirs, 'passed as { guard }');
    assert.equal(withLoopGuard(() => {}, theirs).guard, theirs);
    assert.equal(withLoopGuard(() => {}, { guard: theirs, route: () => '/x' }).guard, theirs);
  } finally {
    theirs.close();
    ours.close();
  }
});

test("two copies: a stall in the second copy's request is blamed on its route", async () => {
  const middleware = other.loopGuard({ thresholdMs: 100, startupGraceMs: 0, prometheus: false, otel: false });
  const guard = middleware.guard;
  const app = express();
  app.use(middleware);
  app.get('/reports/:id', (_req, res) => {
    burnCpu(300);
    res.send('ok');
  });
  const watching = once(guard, 'watchdog:ready');
  const server = await listen(app);
  const client = await forkClient();
  try {
    await watching;
    const stalled = waitFor(guard, 'stall', (r) => r.durationMs >= 100, 10_000);
    assert.equal((await client.request(`${server.url}/reports/7`)).status, 200);
    const report = await stalled;
    assert.deepEqual([report.cause, report.route, report.method], ['request', '/reports/:id', 'GET']);
  } finally {
    await client.close();
    await server.close();
    guard.close();
  }
});
