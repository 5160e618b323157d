/**
 * Where a variant's per-request CPU time goes: a CPU profile of the server's
 * main thread under the same wrk load as run.mjs, self time grouped by
 * origin (loopguard's dist/, Node's async_hooks/ALS internals, Express and
 * other node_modules, Node core, GC), in µs per request.
 *
 *   node bench/profile.mjs loopguard precise bare
 *
 * Shares come from the profile's busy samples, scaled by the main thread's
 * exact run time per request (schedstat), so the µs stay meaningful on a
 * machine whose core is shared; the ranking is what to act on.
 */
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startServer } from './lib/processes.mjs';
import { textTable } from './lib/report.mjs';
import { SERVERS } from './lib/variants.mjs';
import { wrk } from './lib/wrk.mjs';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    server: { type: 'string', default: 'express' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '50' },
    top: { type: 'string', default: '15' },
    /** Also print the callees (total time) under every frame of this function name. */
    tree: { type: 'string' },
    /** List top functions of every origin, not only loopguard's and async_hooks'. */
    all: { type: 'boolean', default: false },
  },
});
const variants = positionals.length ? positionals : ['loopguard'];
const repo = fileURLToPath(new URL('..', import.meta.url));

function origin(url, fn) {
  if (url.startsWith(`file://${repo}dist/`) || url.startsWith(`${repo}dist/`) || url.includes('/bench/proto/')) return 'loopguard (dist/)';
  if (url.includes('/bench/servers/')) return 'bench variant middleware';
  if (/^node:(internal\/)?async_(hooks|local_storage)/.test(url) || url.startsWith('node:internal/async_local_storage')) return 'async_hooks / ALS (node)';
  if (url.includes('/node_modules/')) return 'express & deps (node_modules)';
  if (url.startsWith('node:')) return 'node core JS';
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return 'native (program)';
  if (fn === '(idle)') return 'idle';
  return 'builtins & C++ bindings';
}

function analyse(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const groups = new Map();
  const fns = new Map();
  let busy = 0;
  for (const [id, t] of self) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const group = origin(url, functionName);
    if (group === 'idle') continue;
    busy += t;
    groups.set(group, (groups.get(group) ?? 0) + t);
    if (opts.all || group.startsWith('loopguard') || group.startsWith('async_hooks') || group.startsWith('bench')) {
      const key = `${functionName || '(anonymous)'} ${url.replace(`file://${repo}`, '').replace(repo, '')}:${lineNumber + 1}`;
      fns.set(key, (fns.get(key) ?? 0) + t);
    }
  }
  return { busy, groups, fns, byId, self };
}

/** Total time under each direct callee of every frame named `name`, merged by callee. */
function callees(byId, self, name) {
  const total = new Map();
  const totalOf = (node) => {
    if (total.has(node.id)) return total.get(node.id);
    let t = self.get(node.id) ?? 0;
    for (const c of node.children ?? []) t += totalOf(byId.get(c));
    total.set(node.id, t);
    return t;
  };
  const merged = new Map();
  let all = 0;
  for (const node of byId.values()) {
    if (node.callFrame.functionName !== name) continue;
    all += totalOf(node);
    merged.set('(self)', (merged.get('(self)') ?? 0) + (self.get(node.id) ?? 0));
    for (const c of node.children ?? []) {
      const child = byId.get(c);
      const key = `${child.callFrame.functionName || '(anonymous)'} ${child.callFrame.url.replace(/^.*\/node_modules\//, '').replace(/^file:.*\/dist\//, 'dist/')}`;
      merged.set(key, (merged.get(key) ?? 0) + totalOf(child));
    }
  }
  return { all, merged };
}

for (const variant of variants) {
  const server = await startServer(SERVERS[opts.server].file, variant, { core: 0 });
  if (server.unavailable) {
    console.log(`${variant}: unavailable (${server.unavailable})`);
    continue;
  }
  const file = join(os.tmpdir(), `loopguard-bench-${process.pid}-${variant}.cpuprofile`);
  let result;
  let mainSeconds;
  try {
    await wrk(server.url, { core: 1, seconds: Number(opts.warmup), connections: Number(opts.connections) });
    await server.profile('start');
    const before = server.sched();
    result = await wrk(server.url, { core: 1, seconds: Number(opts.seconds), connections: Number(opts.connections) });
    mainSeconds = server.sched().mainRunSeconds - before.mainRunSeconds;
    await server.profile('stop', file);
  } finally {
    await server.stop();
  }
  const { busy, groups, fns, byId, self } = analyse(JSON.parse(readFileSync(file, 'utf8')));
  rmSync(file, { force: true });
  const mainUs = (mainSeconds * 1e6) / result.requests;
  const us = (t) => ((t / busy) * mainUs).toFixed(2);
  const pct = (t) => ((100 * t) / busy).toFixed(1);
  console.log(`\n${opts.server} ${variant}: ${Math.round(result.rps)} req/s, main thread ${mainUs.toFixed(1)} µs CPU per request`);
  console.log(textTable(['origin', 'µs/req', '% of main thread'], [...groups].sort((a, b) => b[1] - a[1]).map(([g, t]) => [g, us(t), pct(t)])));
  const top = [...fns].sort((a, b) => b[1] - a[1]).slice(0, Number(opts.top));
  if (top.length) {
    console.log(`top loopguard and async_hooks functions (self time; inlined callees count in their caller):`);
    console.log(textTable(['function', 'µs/req', '%'], top.map(([k, t]) => [k, us(t), pct(t)])));
  }
  if (opts.tree) {
    const { all, merged } = callees(byId, self, opts.tree);
    console.log(`under ${opts.tree} (total ${us(all)} µs/req):`);
    console.log(textTable(['callee', 'µs/req'], [...merged].sort((a, b) => b[1] - a[1]).map(([k, t]) => [k, us(t)])));
  }
}
