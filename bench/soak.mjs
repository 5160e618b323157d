/**
 * Soak (issue 9): drives >= 1 000 000 requests at an Express app with
 * loopguard — periodic 150 ms stalls, random path parameters, random
 * unmatched URLs, more templates than maxRoutes, /metrics scrapes — and
 * checks that memory does not grow after warm-up.
 *
 *   npm run bench:soak                       # build, then the soak (writes bench/results/soak.md)
 *   node bench/soak.mjs --requests 100000    # a short check of the harness (writes nothing)
 *
 * Load comes from wrk (bench/lua/soak.lua) pinned to one core, the server to
 * the other, in bounded chunks until the server has answered the target
 * count after warm-up (or the time cap hits). Between chunks the server
 * collects garbage twice (--expose-gc) and reports RSS and heap (the floor
 * of three reads). Pass:
 * RSS and heapUsed each grow < 5 MB from the sample after warm-up to the
 * last one, the route cap holds, no request stays in flight, stalls were seen,
 * and wrk saw no socket errors (404s for the unmatched URLs are intended).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer } from './lib/processes.mjs';
import { wrk } from './lib/wrk.mjs';
import { markdownTable, textTable } from './lib/report.mjs';

const { values: opts } = parseArgs({
  options: {
    requests: { type: 'string', default: '1000000' },
    warmup: { type: 'string', default: '100000' },
    'chunk-seconds': { type: 'string', default: '20' },
    'max-minutes': { type: 'string', default: '20' },
    connections: { type: 'string', default: '32' },
    'block-every': { type: 'string', default: '20000' },
    'metrics-every': { type: 'string', default: '5000' },
    precise: { type: 'boolean', default: false },
    'server-core': { type: 'string', default: '0' },
    'load-core': { type: 'string', default: '1' },
    out: { type: 'string' },
  },
});

const target = Number(opts.requests);
const warmup = Number(opts.warmup);
const GROWTH_LIMIT_MB = 5;
const FULL = target >= 1_000_000;
const outFile = opts.out ?? (FULL ? fileURLToPath(new URL(`./results/soak${opts.precise ? '-precise' : ''}.md`, import.meta.url)) : undefined);
const script = fileURLToPath(new URL('./lua/soak.lua', import.meta.url));
const mb = (bytes) => bytes / 2 ** 20;

process.env.SOAK_BLOCK_EVERY = opts['block-every'];
process.env.SOAK_METRICS_EVERY = opts['metrics-every'];

const server = await startServer(fileURLToPath(new URL('./servers/soak-app.mjs', import.meta.url)), opts.precise ? 'precise' : 'default', {
  core: Number(opts['server-core']),
  nodeArgs: ['--expose-gc'],
});
const deadline = performance.now() + Number(opts['max-minutes']) * 60_000;
const samples = [];
let wrkErrors = 0;

async function chunk() {
  const r = await wrk(server.url, { core: Number(opts['load-core']), seconds: Number(opts['chunk-seconds']), connections: Number(opts.connections), script });
  wrkErrors += r.errors;
  return r;
}

/**
 * Memory right after a load chunk still holds pages V8 and the allocator give
 * back within a second (measured: +18 MB in one sample of three, gone 0.7 s
 * later). So each sample is the floor of three, 500 ms apart, each after full GCs.
 */
async function sample(label, rps = NaN) {
  const reads = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await sleep(500);
    reads.push(await server.usage(true));
  }
  const u = reads.at(-1);
  const floor = (key) => Math.min(...reads.map((r) => r.memory[key]));
  const s = { label, served: u.info.served, rss: floor('rss'), heapUsed: floor('heapUsed'), external: floor('external'), rps, ...u.info };
  samples.push(s);
  console.log(
    `  ${label.padEnd(8)} served ${String(s.served).padStart(9)}  ${Number.isFinite(rps) ? `${Math.round(rps)} req/s  ` : ''}rss ${mb(s.rss).toFixed(1)} MB  heap ${mb(s.heapUsed).toFixed(2)} MB  templates ${s.templates}  stalls ${s.stalls}  in flight ${s.inFlight}`,
  );
  return s;
}

let failed = false;
try {
  console.log(`loopguard soak — Node ${process.version}, ${target.toLocaleString('en-US')} requests after ${warmup.toLocaleString('en-US')} of warm-up, ${opts.connections} connections, a 150 ms block every ${opts['block-every']} requests${opts.precise ? ', precise mode' : ''}`);
  let served = 0;
  while (served < warmup && performance.now() < deadline) {
    await chunk();
    served = (await server.usage()).info.served;
  }
  const start = await sample('start');
  let last = start;
  while (last.served - start.served < target && performance.now() < deadline) {
    const r = await chunk();
    last = await sample(`+${Math.round((last.served - start.served + r.requests) / 1000)}k`, r.rps);
  }
  const end = last;
  const done = end.served - start.served;
  const checks = [
    [`requests after warm-up ≥ ${target.toLocaleString('en-US')}`, done >= target, done.toLocaleString('en-US')],
    [`RSS growth < ${GROWTH_LIMIT_MB} MB`, mb(end.rss - start.rss) < GROWTH_LIMIT_MB, `${mb(end.rss - start.rss).toFixed(2)} MB (${mb(start.rss).toFixed(1)} → ${mb(end.rss).toFixed(1)})`],
    [`heapUsed growth < ${GROWTH_LIMIT_MB} MB`, mb(end.heapUsed - start.heapUsed) < GROWTH_LIMIT_MB, `${mb(end.heapUsed - start.heapUsed).toFixed(2)} MB (${mb(start.heapUsed).toFixed(2)} → ${mb(end.heapUsed).toFixed(2)})`],
    [`route templates ≤ maxRoutes (${end.maxRoutes})`, end.templates <= end.maxRoutes, `${end.templates} templates, ${end.routeLabels} label values`],
    ['no request left in flight', end.inFlight === 0, String(end.inFlight)],
    ['stalls reported', end.stalls > 0, `${end.stalls} (${(end.stalls - start.stalls)} after warm-up)`],
    // A request that failed at the socket was not served: memory that stays flat because requests died proves nothing.
    ['no wrk socket errors', wrkErrors === 0, String(wrkErrors)],
  ];
  failed = checks.some(([, ok]) => ok === false);
  // Not a criterion: the trend once any settling is surely over, to tell a slow creep from warm-up.
  const mid = samples.slice(1).find((x) => x.served - start.served >= done / 2) ?? end;
  checks.push([
    'RSS growth over the second half (info)',
    null,
    `${mb(end.rss - mid.rss).toFixed(2)} MB over ${((end.served - mid.served) / 1000).toFixed(0)}k requests, ${end.stalls - mid.stalls} stalls`,
  ]);
  const header = ['sample', 'served', 'req/s', 'RSS MB', 'heapUsed MB', 'external MB', 'templates', 'stalls', 'in flight'];
  const rows = samples.map((s) => [s.label, s.served.toLocaleString('en-US'), Number.isFinite(s.rps) ? Math.round(s.rps).toLocaleString('en-US') : '', mb(s.rss).toFixed(1), mb(s.heapUsed).toFixed(2), mb(s.external).toFixed(2), s.templates, s.stalls, s.inFlight]);
  const checkRows = checks.map(([what, ok, value]) => [what, ok === null ? '' : ok ? 'PASS' : 'FAIL', value]);
  console.log('');
  console.log(textTable(header, rows));
  console.log('');
  console.log(textTable(['check', 'result', 'value'], checkRows));
  if (outFile) {
    mkdirSync(dirname(outFile), { recursive: true });
    writeFileSync(
      outFile,
      [
        '# loopguard soak — last run',
        '',
        `Run ${new Date().toISOString()} with \`${['node bench/soak.mjs', ...process.argv.slice(2)].join(' ')}\`.`,
        '',
        `Node ${process.version}; server (Express 5 + loopguard${opts.precise ? ' precise' : ''}, maxRoutes ${end.maxRoutes}, 300 templates) pinned to cpu${opts['server-core']}, wrk (bench/lua/soak.lua, ${opts.connections} connections) on cpu${opts['load-core']}; a 150 ms block every ${opts['block-every']} requests, /metrics every ${opts['metrics-every']}, random path parameters and unmatched URLs. Samples after two full GCs (--expose-gc), taken between load chunks.`,
        '',
        markdownTable(['check', 'result', 'value'], checkRows),
        '',
        markdownTable(header, rows),
        '',
      ].join('\n'),
    );
    console.log(`\nwrote ${outFile}`);
  }
} finally {
  await server.stop();
}
process.exitCode = failed ? 1 : 0;
