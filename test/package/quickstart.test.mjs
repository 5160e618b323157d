// The README's production quick start, copied verbatim into an empty project
// that installs the packed tarball the way a user does, runs; a real
// Prometheus scrapes its metrics server (loopguard's worker thread) during a
// stall, with the shipped rules loaded, and LoopGuardEventLoopBlocked fires.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { devRange, packLoopguard, ROOT, tempProject } from '../helpers/temp-project.mjs';
import { eventually, startPrometheus } from '../helpers/prometheus.mjs';

/** The first js block under the README's "Production quick start" heading. */
function quickStart() {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Production quick start'));
  const block = /```js\n([\s\S]*?)```/.exec(section);
  assert.ok(block, 'the README has a production quick start');
  return block[1];
}

// Loaded before the app with --import: holds the loop when asked, as a blocking handler would.
const STALL_ON_SIGNAL = `
process.on('SIGUSR2', function nightlyReportSync() {
  const end = performance.now() + Number(process.env.STALL_MS);
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1);
});
`;

const STALL_MS = 8000;
let project;

before(async () => {
  project = await tempProject([]);
  const { tarball } = await packLoopguard(project.dir);
  await project.install([tarball, devRange('express'), devRange('pino'), devRange('prom-client')]);
  project.write('app.mjs', quickStart());
  project.write('stall-on-signal.mjs', STALL_ON_SIGNAL);
});

after(() => project?.close());

test('README production quick start: the metrics server answers during a stall and LoopGuardEventLoopBlocked fires in a real Prometheus', async () => {
  const app = spawn(process.execPath, ['--import', './stall-on-signal.mjs', 'app.mjs'], {
    cwd: project.dir,
    env: { ...process.env, PORT: '0', METRICS_PORT: '0', METRICS_HOST: '127.0.0.1', STALL_MS: String(STALL_MS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const logs = [];
  const lines = readline.createInterface({ input: app.stdout });
  let metricsAddress;
  const listening = new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      const entry = JSON.parse(line);
      logs.push(entry);
      if (entry.metrics) metricsAddress = entry.metrics;
      if (metricsAddress && logs.some((l) => l.port !== undefined)) resolve();
    });
    app.once('exit', (code) => reject(new Error(`app exited (${code}) before listening: ${JSON.stringify(logs)}`)));
  });
  let prometheus;
  try {
    await listening;
    const target = `${metricsAddress.host}:${metricsAddress.port}`;
    const rules = path.join(project.dir, 'node_modules/loopguard/grafana/alerts.yml');
    prometheus = await startPrometheus({ targets: [target], ruleFiles: [rules], scrapeIntervalS: 1, job: 'my-service' });
    // Prometheus has scraped the app at least once before the stall.
    const direct = await fetch(`http://${target}/metrics`).then(async (r) => `${r.status} ${(await r.text()).slice(0, 200)}`, (err) => String(err));
    await eventually(async () => (await prometheus.query('up{job="my-service"} == 1')).length > 0, { timeoutMs: 15_000 }).catch(async (err) => {
      throw new Error(`${err.message}; target ${target}: ${direct}; targets: ${JSON.stringify((await prometheus.get('/api/v1/targets')).data.activeTargets.map((t) => [t.scrapeUrl, t.health, t.lastError]))}`);
    });
    // Past loopguard's startup grace, then the stall.
    app.kill('SIGUSR2');
    // Polling an external system's state (Prometheus's alerts), bounded.
    const firing = await eventually(
      async () => (await prometheus.get('/api/v1/alerts')).data.alerts.find((a) => a.labels.alertname === 'LoopGuardEventLoopBlocked' && a.state === 'firing'),
      { timeoutMs: STALL_MS + 15_000 },
    );
    assert.equal(firing.labels.severity, 'critical');
    assert.equal(firing.labels.job, 'my-service');
    // The scrape that made it fire came from the worker thread, during the stall.
    const blocked = await prometheus.query('max_over_time(loopguard_eventloop_blocked_seconds[1m])');
    assert.ok(Number(blocked[0]?.value?.[1]) > 5, `blocked seconds seen: ${JSON.stringify(blocked)}`);
    // The stall is logged by pino as a structured warn line once it ends.
    const stallLine = await new Promise((resolve) => {
      const found = () => logs.find((l) => l.level === 40 && l.loopguard?.stack?.some((f) => f.functionName === 'nightlyReportSync'));
      if (found()) return resolve(found());
      lines.on('line', () => found() && resolve(found()));
    });
    assert.ok(stallLine.loopguard.durationMs >= STALL_MS * 0.8, `logged ${stallLine.loopguard.durationMs} ms`);
  } finally {
    await prometheus?.stop();
    app.kill('SIGTERM');
    await once(app, 'exit').catch(() => {});
  }
});

test('examples/express.mjs runs from a copy outside the repository, against the packed tarball', { timeout: 120_000 }, async () => {
  project.write('express-example.mjs', fs.readFileSync(path.join(ROOT, 'examples/express.mjs'), 'utf8'));
  const app = spawn(process.execPath, ['express-example.mjs'], { cwd: project.dir, env: { ...process.env, PORT: '0', METRICS_PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  const seen = (pattern) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const m = pattern.exec(output);
        if (m) resolve(m);
        else if (app.exitCode !== null) reject(new Error(`example exited: ${output}`));
      };
      app.stdout.setEncoding('utf8').on('data', (chunk) => {
        output += chunk;
        check();
      });
      app.once('exit', check);
      check();
    });
  try {
    const [, base] = await seen(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const [, metricsUrl] = await seen(/metrics +(http:\/\/127\.0\.0\.1:\d+\/metrics)/);
    // Past the default 1 s startup grace, then the blocking request.
    await eventually(async () => (await (await fetch(`${base}/loopguard/snapshot.json`)).json()).watchdogRunning === true);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const res = await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"password":"hunter2"}' });
    assert.equal(res.status, 200);
    await seen(/"functionName":"hashPassword".*"msg":"event loop stalled \d+ ms in POST \/login(, [^"]+)?"/);
    const metrics = await (await fetch(metricsUrl)).text();
    assert.match(metrics, /loopguard_stalls_total\{route="\/login",method="POST",cause="request",thread="main"\} 1/);
  } finally {
    app.kill('SIGTERM');
    await once(app, 'exit').catch(() => {});
  }
});
