/**
 * Bytes allocated per request on the main thread's heap, per variant, under
 * the same wrk load as run.mjs: the heap's growth plus what every GC freed
 * (v8.GCProfiler), over a measured window after a warm-up that starts and
 * ends with a full collection (--expose-gc). loopguard's own
 * allocation is the difference to the bare server of the same framework.
 *
 *   node bench/alloc.mjs                          # express bare, loopguard, precise; fastify bare, loopguard
 *   node bench/alloc.mjs --seconds 60 --server express loopguard bare
 *   npx -y -p node@24 node bench/alloc.mjs
 */
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startServer } from './lib/processes.mjs';
import { textTable } from './lib/report.mjs';
import { SERVERS } from './lib/variants.mjs';
import { wrk } from './lib/wrk.mjs';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    server: { type: 'string' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    /** Also sample where the allocations come from: top functions by bytes per request. */
    where: { type: 'boolean', default: false },
  },
});

const plan = opts.server
  ? positionals.map((arg) => [opts.server, arg])
  : [['express', 'bare'], ['express', 'loopguard'], ['express', 'precise'], ['fastify', 'bare'], ['fastify', 'loopguard']];

const rows = [];
const bareBytes = {};
const bareWhere = {};
console.log(`bench/alloc — Node ${process.version}, ${opts.seconds} s measured per variant after ${opts.warmup} s warm-up, load average ${os.loadavg()[0].toFixed(2)}`);
for (const [server, arg] of plan) {
  const s = await startServer(SERVERS[server].file, arg, { core: 0, nodeArgs: ['--expose-gc'] });
  if (s.unavailable) {
    console.log(`skip ${server} ${arg}: ${s.unavailable}`);
    continue;
  }
  try {
    await wrk(s.url, { core: 1, seconds: Number(opts.warmup), connections: Number(opts.connections) });
    await s.alloc('start');
    const heapFile = join(os.tmpdir(), `loopguard-alloc-${process.pid}.heapprofile`);
    if (opts.where) await s.heap('start', heapFile);
    const r = await wrk(s.url, { core: 1, seconds: Number(opts.seconds), connections: Number(opts.connections) });
    if (opts.where) await s.heap('stop', heapFile);
    const { bytes, gcs } = await s.alloc('stop');
    if (opts.where) printWhere(heapFile, r.requests, server, arg);
    const perRequest = bytes / r.requests;
    if (arg === 'bare') bareBytes[server] = perRequest;
    const base = bareBytes[server];
    rows.push([`${server} ${arg}`, r.requests.toLocaleString('en-US'), gcs, perRequest.toFixed(0), base === undefined || arg === 'bare' ? '' : `${perRequest - base >= 0 ? '+' : ''}${(perRequest - base).toFixed(0)}`]);
    console.log(`  ${server} ${arg}: ${r.requests} requests, ${gcs} GCs, ${perRequest.toFixed(0)} B/req`);
  } finally {
    await s.stop();
  }
}
console.log(textTable(['variant', 'requests', 'GCs', 'bytes/req', 'Δ vs bare'], rows));

/** Self bytes by function (url:line), per request, from a sampling heap profile; beside bare: the differences. */
function printWhere(file, requests, server, arg) {
  const label = `${server} ${arg}`;
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  rmSync(file, { force: true });
  const bytesById = new Map();
  for (const sample of profile.samples) bytesById.set(sample.nodeId, (bytesById.get(sample.nodeId) ?? 0) + sample.size);
  const byFrame = new Map();
  const walk = (node) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*\/(dist|bench)\//, '$1/')}:${lineNumber + 1}`;
    const own = bytesById.get(node.id) ?? 0;
    if (own) byFrame.set(key, (byFrame.get(key) ?? 0) + own);
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  const perRequest = new Map([...byFrame].map(([k, v]) => [k, v / requests]));
  if (arg === 'bare') {
    bareWhere[server] = perRequest;
    return;
  }
  const bare = bareWhere[server] ?? new Map();
  const keys = new Set([...perRequest.keys(), ...bare.keys()]);
  const diff = [...keys].map((k) => [k, (perRequest.get(k) ?? 0) - (bare.get(k) ?? 0)]).filter(([, d]) => Math.abs(d) >= 15);
  diff.sort((a, b) => b[1] - a[1]);
  console.log(`\n${label}: where it allocates more than bare (sampled every 1 KB, self, B/req; sampling noise ≈ ±20 B)`);
  console.log(textTable(['function', 'Δ B/req'], diff.slice(0, 30).map(([k, v]) => [k.slice(0, 100), (v >= 0 ? '+' : '') + v.toFixed(0)])));
}
