// `npm install loopguard fastify` is all a Fastify user types: an empty
// project installs the packed tarball and fastify only (fastify-plugin
// comes with loopguard), registers loopguard/fastify, and the stall of a
// blocking route is blamed on its template and function. CJS too.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import readline from 'node:readline';
import { devRange, packLoopguard, tempProject } from '../helpers/temp-project.mjs';

const APP = `
import Fastify from 'fastify';
import { loopGuard } from 'loopguard/fastify';

function renderInvoiceSync(ms) {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1);
  return x;
}

const app = Fastify();
await app.register(loopGuard, {
  thresholdMs: 100,
  startupGraceMs: 0,
  onStall: (report) => console.log(JSON.stringify({ stall: report })),
});
app.get('/invoices/:id', async (request) => ({ id: request.params.id, total: renderInvoiceSync(300) }));
await app.listen({ port: 0, host: '127.0.0.1' });
const ready = () => console.log(JSON.stringify({ port: app.server.address().port }));
if (app.loopGuard.watchdogReady) ready();
else app.loopGuard.on('watchdog:ready', ready);
process.on('message', async () => {
  await app.close();
  process.disconnect();
});
`;

const CJS_CHECK = `
const { loopGuard, createLoopGuard } = require('loopguard/fastify');
const guard = createLoopGuard({ prometheus: false, otel: false });
console.log(JSON.stringify({ plugin: typeof loopGuard, meta: loopGuard[Symbol.for('plugin-meta')]?.name, snapshot: typeof guard.snapshot }));
guard.close();
`;

let project;

before(async () => {
  project = await tempProject([]);
  const { tarball } = await packLoopguard(project.dir);
  await project.install([tarball, devRange('fastify')]);
});

after(() => project?.close());

test('the tarball and fastify are all it takes: fastify-plugin comes with loopguard, no other peer is installed', () => {
  assert.ok(project.installed('loopguard'), 'loopguard installed');
  assert.ok(project.installed('fastify-plugin'), 'fastify-plugin installed as a dependency of loopguard');
  for (const peer of ['prom-client', '@prometheus-io/client', '@opentelemetry/sdk-node']) {
    assert.equal(project.installed(peer), undefined, `${peer} is an optional peer, not installed`);
  }
});

test('loopguard/fastify registers in a user project and names the blocking route and function', { timeout: 120_000 }, async () => {
  const file = project.write('app.mjs', APP);
  const child = spawn(process.execPath, [file], { cwd: project.dir, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const lines = readline.createInterface({ input: child.stdout });
  const messages = [];
  const next = (predicate, timeoutMs = 30_000) =>
    new Promise((resolve, reject) => {
      const found = messages.find(predicate);
      if (found) return resolve(found);
      const timer = setTimeout(() => {
        lines.off('line', onLine);
        resolve(undefined);
      }, timeoutMs);
      const onLine = (line) => {
        let message;
        try {
          message = JSON.parse(line);
        } catch {
          return;
        }
        messages.push(message);
        if (predicate(message)) {
          clearTimeout(timer);
          lines.off('line', onLine);
          resolve(message);
        }
      };
      lines.on('line', onLine);
      child.once('exit', (code) => reject(new Error(`app exited (${code}) before the expected line: ${stderr}`)));
    });
  try {
    const ready = await next((m) => m.port !== undefined);
    assert.ok(ready, `the app started: ${stderr}`);
    // A busy machine can make a stall mostly GC (then it is not the route's): ask again, bounded.
    let found;
    for (let i = 0; i < 3 && !found; i++) {
      const res = await fetch(`http://127.0.0.1:${ready.port}/invoices/${7 + i}`);
      assert.equal(res.status, 200);
      assert.equal((await res.json()).id, String(7 + i));
      found = await next((m) => m.stall?.route === '/invoices/:id', 10_000);
    }
    if (found && messages.filter((m) => m.stall).length > 1) console.log(`FLAKY: loopguard/fastify from the tarball: the route's stall needed another request (saw ${JSON.stringify(messages.map((m) => m.stall && [m.stall.route, m.stall.cause]).filter(Boolean))})`);
    assert.ok(found, `a stall blamed on /invoices/:id; saw ${JSON.stringify(messages.map((m) => m.stall && [m.stall.route, m.stall.cause]))}`);
    const { stall } = found;
    assert.equal(stall.method, 'GET');
    assert.equal(stall.cause, 'request');
    assert.ok(stall.durationMs >= 100, `${stall.durationMs} ms`);
    assert.ok(
      stall.stack.some((f) => f.functionName === 'renderInvoiceSync' && f.url.endsWith('/app.mjs')),
      `renderInvoiceSync in the stack: ${JSON.stringify(stall.stack.slice(0, 4))}`,
    );
    child.send('close');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0, stderr);
  } finally {
    child.kill();
  }
});

test('require("loopguard/fastify") from CommonJS in the same project gives the same plugin', async () => {
  const file = project.write('check.cjs', CJS_CHECK);
  const child = spawn(process.execPath, [file], { cwd: project.dir, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
  assert.deepEqual(JSON.parse(out), { plugin: 'function', meta: 'loopguard', snapshot: 'function' });
});
