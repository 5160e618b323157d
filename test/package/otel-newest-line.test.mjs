// loopguard/otel against the newest OpenTelemetry JS line (sdk-node 0.30x,
// sdk-metrics 3.x, Node >= 22.15), installed with the packed tarball into an
// empty project. The repo's own dev dependencies are the 0.2xx/2.x line,
// which every other OTel test runs on, Node 20 included. On a Node older than
// the newest line supports, the app runs on Node 24 from the registry (the
// way CI gets its other lines), so this test never skips.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { packLoopguard, tempProject } from '../helpers/temp-project.mjs';

const run = promisify(execFile);
const NEWEST = {
  '@opentelemetry/api': '^1.9.0',
  '@opentelemetry/sdk-node': '^0.301.0',
  '@opentelemetry/sdk-metrics': '^3.1.0',
  '@opentelemetry/exporter-prometheus': '^0.301.0',
  '@opentelemetry/exporter-metrics-otlp-http': '^0.301.0',
  '@opentelemetry/exporter-trace-otlp-http': '^0.301.0',
};
const [major, minor] = process.versions.node.split('.').map(Number);
const supported = major > 22 || (major === 22 && minor >= 15);

// One exporter per run: startOtel is once per process.
const APP = `
import fs from 'node:fs';
import { createLoopGuard } from 'loopguard';
import { startOtel } from 'loopguard/otel';
// From the file: the newest packages do not export ./package.json.
const version = (name) => JSON.parse(fs.readFileSync(new URL('./node_modules/' + name + '/package.json', import.meta.url))).version;
const exporter = process.argv[2];
const otel = startOtel({ exporter, serviceName: 'newest-line', exportIntervalMs: 200, ...(exporter === 'prometheus' && { prometheus: { port: 0 } }) });
const { metricsUrl } = await otel.ready;
const guard = createLoopGuard({ thresholdMs: 100, startupGraceMs: 0, prometheus: false });
// The first stall after starting may be the SDK's own loading, or mostly GC
// on a busy machine: block again (bounded) until one is a background stall.
let report;
for (let i = 0; i < 5 && report === undefined; i++) {
  // Bounded, and ref'd: loopguard's own timers are unref'd, so without it the
  // process could exit while the stall's report is still on its way.
  const stalled = new Promise((resolve) => {
    const bound = setTimeout(() => resolve(undefined), 10_000);
    guard.once('stall', (r) => {
      clearTimeout(bound);
      resolve(r);
    });
  });
  setTimeout(function nightlyJob() {
    const end = performance.now() + 200;
    while (performance.now() < end);
  }, 20);
  const r = await stalled;
  if (r?.cause === 'background') report = r;
  else console.error('FLAKY: newest OTel line: ' + (r ? 'a ' + r.cause + ' stall' : 'no stall report') + ' first, blocking again');
}
const text = metricsUrl ? await (await fetch(metricsUrl)).text() : undefined;
guard.close();
await otel.shutdown();
console.log(JSON.stringify({
  node: process.version,
  sdkNode: version('@opentelemetry/sdk-node'),
  sdkMetrics: version('@opentelemetry/sdk-metrics'),
  cause: report?.cause,
  text,
}));
`;

let project;
let appFile;

async function runApp(exporter, env = {}) {
  const [command, args] = supported ? [process.execPath, [appFile, exporter]] : ['npx', ['-y', '-p', 'node@24', 'node', appFile, exporter]];
  const { stdout, stderr } = await run(command, args, { cwd: project.dir, env: { ...process.env, ...env }, timeout: 120_000 });
  for (const line of stderr.split('\n')) if (line.startsWith('FLAKY:')) console.log(line);
  return JSON.parse(stdout.trim().split('\n').at(-1));
}

before(async () => {
  project = await tempProject([]);
  const { tarball } = await packLoopguard(project.dir);
  await project.install([tarball, ...Object.entries(NEWEST).map(([name, range]) => `${name}@${range}`)]);
  appFile = project.write('app.mjs', APP);
});

after(() => project?.close());

test('startOtel({ exporter: "prometheus" }) on the newest SDK line serves loopguard series with the catalogue names', async () => {
  const result = await runApp('prometheus');
  assert.match(result.sdkNode, /^0\.30\d\./);
  assert.match(result.sdkMetrics, /^3\./);
  assert.ok(Number(result.node.slice(1).split('.')[0]) >= 22, `ran on ${result.node}`);
  assert.equal(result.cause, 'background');
  assert.match(result.text, /^# TYPE loopguard_stalls_total counter$/m);
  assert.match(result.text, /^loopguard_stalls_total\{.*http_route="\(background\)".*\} [1-9]\d*$/m);
  assert.match(result.text, /^# TYPE loopguard_eventloop_delay_seconds histogram$/m);
  assert.match(result.text, /^loopguard_stall_seconds_total\{/m);
});

test('startOtel() over OTLP/HTTP on the newest SDK line pushes loopguard metrics to the endpoint', async () => {
  const received = [];
  const collector = http.createServer((req, res) => {
    let size = 0;
    req.on('data', (chunk) => (size += chunk.length));
    req.on('end', () => {
      received.push({ path: req.url, size });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  collector.listen(0, '127.0.0.1');
  await once(collector, 'listening');
  try {
    const result = await runApp('otlp', { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.address().port}` });
    assert.match(result.sdkNode, /^0\.30\d\./);
    const metrics = received.filter((r) => r.path === '/v1/metrics' && r.size > 0);
    assert.ok(metrics.length >= 1, `metric exports received: ${JSON.stringify(received)}`);
  } finally {
    collector.close();
  }
});
