// The zero-code start: unmodified apps run as child processes with
// `node --import loopguard/register` (or --require), configured only by
// environment variables. Stall reports are read from the JSON lines that
// LOOPGUARD_ON_STALL=log writes to stderr; traffic comes from a forked client.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { forkClient } from '../helpers/client.mjs';
import { waitFor } from '../helpers/server.mjs';
import { freePort } from '../helpers/prometheus.mjs';
import { BIG_JSON_BYTES } from '../helpers/json-body.mjs';
import { cleanEnv } from '../helpers/register.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const fixture = (name) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const STALL_MSG = 'loopguard: event loop stalled';
const WATCHING_MSG = 'loopguard: watching';

/**
 * Starts `node <flag> loopguard/register <fixture>` from the package root (so
 * `loopguard` resolves to this package) and waits for the {"port":N} line.
 */
async function startApp(name, flag, env = {}) {
  const child = spawn(process.execPath, [flag, 'loopguard/register', fixture(name)], {
    cwd: ROOT,
    env: cleanEnv({ LOOPGUARD_ON_STALL: 'log', LOOPGUARD_STARTUP_GRACE_MS: '0', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const reports = [];
  const events = new EventEmitter();
  let otherStderr = '';
  readline.createInterface({ input: child.stderr }).on('line', (line) => {
    let parsed;
    try {
      parsed = JSON.parse(line);
    } catch {
      // not one of ours
    }
    if (parsed?.msg === STALL_MSG) {
      reports.push(parsed);
      events.emit('stall', parsed);
    } else if (parsed?.msg === WATCHING_MSG) {
      events.emit('watching', parsed);
    } else {
      otherStderr += `${line}\n`;
    }
  });
  const stdout = readline.createInterface({ input: child.stdout });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`${name} exited (${code}) before listening: ${otherStderr}`);
  });
  // Listening, and the watchdog ready: a culprit sent earlier could be measured without its stack.
  const [[line], [watching]] = await Promise.race([Promise.all([once(stdout, 'line'), once(events, 'watching')]), exited]);
  assert.equal(watching.pid, child.pid);
  exited.catch(() => undefined);
  const { port } = JSON.parse(line);
  return {
    url: `http://127.0.0.1:${port}`,
    reports,
    events,
    stderr: () => otherStderr,
    /** SIGTERM; the app closes its server and must then end by itself. Resolves with the exit code, or the signal that ended it. */
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exit = once(child, 'exit');
      child.kill('SIGTERM');
      // A failure guard, not a wait: a process still alive by then is kept alive by something.
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const [code, signal] = await exit;
      clearTimeout(killer);
      return code ?? signal;
    },
  };
}

/** The report naming `route` since index `seen`, whether it came before or after this call. */
function reportFor(app, seen, route) {
  const already = app.reports.slice(seen).find((r) => r.route === route);
  if (already) return Promise.resolve(already);
  return waitFor(app.events, 'stall', (r) => r.route === route, 10_000).catch(() => undefined);
}

const cpu = { name: 'CPU loop in a parameterised route', path: '/users/42', route: '/users/:id', fn: 'burnCpu' };
const CASES = [
  {
    name: 'Express, ESM app, --import',
    fixture: 'register-express-app.mjs',
    flag: '--import',
    metrics: true,
    scenarios: [
      cpu,
      { name: 'crypto.pbkdf2Sync in a POST', path: '/login', method: 'POST', route: '/login', fn: 'hashPasswordSync', advice: 'crypto.pbkdf2Sync' },
      {
        name: 'JSON body parsing in a mounted router', path: '/api/v1/ingest/acme', method: 'POST', jsonBytes: BIG_JSON_BYTES,
        route: '/api/v1/ingest/:tenant', frame: (f) => f.url.includes('/body-parser/'), advice: 'JSON.parse',
      },
    ],
  },
  { name: 'Express, CommonJS app, --require', fixture: 'register-express-app.cjs', flag: '--require', scenarios: [cpu] },
  {
    name: 'Fastify, ESM app, --import',
    fixture: 'register-fastify-app.mjs',
    flag: '--import',
    scenarios: [
      cpu,
      { name: 'CPU loop after an await', path: '/report', route: '/report', fn: 'burnCpu' },
      { name: 'catastrophic regex behind a prefix', path: '/api/v1/search/aaa', route: '/api/v1/search/:term', fn: 'backtrackingRegex', advice: 'RegExp.prototype.test' },
      {
        name: 'JSON body parsing before the handler', path: '/api/v1/ingest/acme', method: 'POST', jsonBytes: BIG_JSON_BYTES,
        route: '/api/v1/ingest/:tenant', frame: (f) => /\/(fastify|secure-json-parse)\//.test(f.url), advice: 'JSON.parse',
      },
    ],
  },
  {
    name: 'Koa, ESM app, --import',
    fixture: 'register-koa-app.mjs',
    flag: '--import',
    scenarios: [cpu, { name: 'catastrophic regex behind a router prefix', path: '/api/v1/search/aaa', route: '/api/v1/search/:term', fn: 'backtrackingRegex' }],
  },
  {
    name: 'plain node:http, --require',
    fixture: 'register-http-app.mjs',
    flag: '--require',
    // No router to ask: the culprit is still the request, named (unmatched), never a victim.
    scenarios: [{ ...cpu, route: '(unmatched)' }],
  },
];

for (const c of CASES) {
  describe(`zero-code start: ${c.name}`, () => {
    let app, client, metricsPort;

    before(async () => {
      const env = {};
      if (c.metrics) {
        metricsPort = await freePort();
        env.LOOPGUARD_METRICS_PORT = String(metricsPort);
      }
      app = await startApp(c.fixture, c.flag, env);
      client = await forkClient();
    });

    after(async () => {
      await client.close();
      const exit = await app.stop();
      // Not 'SIGTERM': the fixture handles it by closing its server, so only a clean exit of its own counts.
      assert.equal(exit, 0, `the app ended by itself after closing its server on SIGTERM: ${exit}; stderr: ${app.stderr()}`);
      assert.doesNotMatch(app.stderr(), /Waiting for the debugger/);
    });

    for (const scenario of c.scenarios) {
      test(scenario.name, async () => {
        const seen = app.reports.length;
        await client.startVictims(`${app.url}/io`, 4);
        const { method = 'GET', jsonBytes } = scenario;
        const res = await client.request(app.url + scenario.path, { method, jsonBytes });
        assert.equal(res.status, 200, `the blocking route answered normally (${res.text})`);
        const report = await reportFor(app, seen, scenario.route);
        const victims = await client.stopVictims();
        assert.ok(report, `a stall was attributed to ${scenario.route}; got ${JSON.stringify(app.reports.slice(seen).map((r) => [r.route, r.cause]))}; stderr: ${app.stderr()}`);
        assert.equal(report.cause, 'request');
        assert.equal(report.method, method);
        assert.ok(report.durationMs >= 100, `stall of ${report.durationMs} ms`);
        const frame = report.stack.find(scenario.frame ?? ((f) => f.functionName === scenario.fn));
        assert.ok(frame, `stack names ${scenario.fn ?? 'the blocking code'}: ${report.stack.map((f) => `${f.functionName}@${f.url}`).join(' < ')}`);
        // The log line says what to do: the advice travels in it (null only when unsure).
        assert.ok('advice' in report, 'the log line carries advice');
        if (scenario.advice) assert.equal(report.advice?.call, scenario.advice, JSON.stringify(report.advice));
        assert.ok(victims.sent > 0 && victims.statuses[200] === victims.sent, `victims flowed and were answered: ${JSON.stringify(victims.statuses)}`);
        // Every request stall of this scenario is the culprit's: its stack holds the blocking code. This
        // also covers node:http, where the victims' route is (unmatched) like the culprit's.
        const isCulprit = scenario.frame ?? ((f) => f.functionName === scenario.fn);
        for (const r of app.reports.slice(seen).filter((r) => r.cause === 'request')) {
          assert.ok(r.stack.some(isCulprit), `a victim was blamed: ${r.method} ${r.route} in ${r.stack.map((f) => f.functionName).join(' < ')}`);
        }
        if (scenario.route !== '(unmatched)') {
          for (const r of app.reports.slice(seen)) assert.ok(r.route !== '/fast' && r.route !== '/io' && r.route !== '(unmatched)', `a victim was blamed: ${r.route}`);
        }
      });
    }

    if (c.metrics) {
      test('LOOPGUARD_METRICS_PORT serves the per-route stall series', async () => {
        const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
        assert.equal(res.status, 200);
        const text = await res.text();
        const line = text.split('\n').find((l) => l.startsWith('loopguard_stalls_total{') && l.includes('route="/users/:id"') && l.includes('cause="request"'));
        assert.ok(line, `a stalls_total series for /users/:id: ${text.split('\n').filter((l) => l.startsWith('loopguard_stalls_total')).join('\n')}`);
        assert.ok(Number(line.split(' ').pop()) >= 1, line);
      });
    }
  });
}
