/**
 * Per-piece cost of loopguard's request path, in ns per operation, to tell
 * what costs what inside the ≈ 4 µs/request Express budget:
 *
 *   node bench/micro.mjs            (after npm run build)
 *
 * Synchronous pieces are timed in this process on the real compiled modules
 * (dist/). Process-wide costs (AsyncLocalStorage's propagation hook, precise
 * mode's before/after hooks) tax every async resource the app creates, not
 * just our code, so they are timed in fresh child processes: the same
 * nextTick / promise / setImmediate workload with the hook off and on.
 */
import { AsyncLocalStorage, createHook } from 'node:async_hooks';
import { fork } from 'node:child_process';
import { once, EventEmitter } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { textTable } from './lib/report.mjs';

const require = createRequire(import.meta.url);
let sink = 0;

/** ns per call of fn, median of `reps` timed batches after one warm-up batch. */
function time(fn, iterations = 200_000, reps = 7) {
  for (let i = 0; i < iterations; i++) fn(i);
  const samples = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) fn(i);
    samples.push(((performance.now() - t0) * 1e6) / iterations);
  }
  samples.sort((a, b) => a - b);
  return samples[reps >> 1];
}

async function timeAsync(fn, iterations, reps = 5) {
  await fn(iterations);
  const samples = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await fn(iterations);
    samples.push(((performance.now() - t0) * 1e6) / iterations);
  }
  samples.sort((a, b) => a - b);
  return samples[reps >> 1];
}

// ---- async workloads, run in a child with one process-wide hook setting ----

const WORKLOADS = {
  /** One process.nextTick callback (Node uses these all over http and streams). */
  nextTick: (n) =>
    new Promise((resolve) => {
      let left = n;
      const step = () => (--left === 0 ? resolve() : process.nextTick(step));
      process.nextTick(step);
    }),
  /** One awaited promise (Express 5's router awaits/inspects handler results). */
  promise: async (n) => {
    for (let i = 0; i < n; i++) await Promise.resolve(i);
  },
  /** One setImmediate callback. */
  setImmediate: (n) =>
    new Promise((resolve) => {
      let left = n;
      const step = () => (--left === 0 ? resolve() : setImmediate(step));
      setImmediate(step);
    }),
};

async function child(mode) {
  if (mode === 'als' || mode === 'als+precise') {
    // The propagation hook is enabled by the first run(); the workload then runs inside a store, as a request would.
    const store = new AsyncLocalStorage();
    await new Promise((resolve) => store.run({ id: 1 }, () => resolve()));
    await store.run({ id: 1 }, () => measure(mode));
  } else if (mode === 'precise') {
    await measure(mode);
  } else {
    await measure(mode);
  }
}

async function measure(mode) {
  if (mode.includes('precise')) {
    // The same shape as src/core/precise.ts: outermost before/after, performance.now() each.
    let depth = 0;
    let started = 0;
    let total = 0;
    createHook({
      before() {
        if (depth++ === 0) started = performance.now();
      },
      after() {
        if (--depth === 0) total += performance.now() - started;
      },
    }).enable();
  }
  const out = {};
  for (const [name, fn] of Object.entries(WORKLOADS)) out[name] = await timeAsync(fn, 200_000);
  process.send(out);
}

async function runChild(mode) {
  const c = fork(new URL(import.meta.url), ['--child', mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [result] = await once(c, 'message');
  await once(c, 'exit');
  return result;
}

// ---- synchronous pieces of the request path, on the compiled modules ----

function syncPieces() {
  const { createLoopGuard } = require('loopguard');
  const { expressRoute } = require('../dist/internal.js');
  const { RouteTable } = require('../dist/internal.js');
  const { Histogram } = require('../dist/internal.js');
  const { DELAY_BUCKETS_SECONDS } = require('../dist/catalogue.js');
  const guard = createLoopGuard({ prometheus: false, otel: false, captureStacks: false });
  const route = { path: '/users/:id' };
  const plainReq = { method: 'GET', route, baseUrl: '' };
  const rows = [];
  const add = (what, ns, note = '') => rows.push([what, ns.toFixed(0), note]);

  add('performance.now()', time(() => (sink += performance.now())), 'twice per request (begin, finish: delay clock)');
  add('Date.now()', time(() => (sink += Date.now())), 'for comparison');
  add('guard.beginRequest + record.owner.finish', time(() => {
    const r = guard.beginRequest(plainReq, 'GET', expressRoute);
    r.owner.finish(r);
  }), 'record, 2× delay clock, route, stats lookup, histogram');
  add('expressRoute(req), route without prefix', time(() => (sink += expressRoute(plainReq).length)));
  const mounted = { route: { path: '/:id' }, baseUrl: '/users', app: undefined };
  expressRoute(mounted);
  add('expressRoute(req), mounted (cached prefix)', time(() => (sink += expressRoute(mounted).length)));
  const table = new RouteTable(200);
  add('RouteTable.stats(template, method)', time(() => (sink += table.stats('/users/:id', 'GET').requests)), 'Set.has + 2 Map.get');
  const h = new Histogram(DELAY_BUCKETS_SECONDS);
  add('Histogram.record(0)', time(() => h.record(0)));
  add(`Histogram.record(1 s) (${DELAY_BUCKETS_SECONDS.length} buckets scanned)`, time(() => h.record(1)));
  add('object literal of a RequestRecord\'s shape', time((i) => {
    const o = { id: i, method: 'GET', req: plainReq, routeOf: expressRoute, startDelayMs: 0, capturedWindow: 0, blockingMs: 0, finished: false, owner: guard };
    sink += o.id;
  }));
  const kRec = Symbol('rec');
  function onClose() {
    sink += this[kRec] === undefined ? 0 : 1;
  }
  const baseEE = time(() => {
    const e = new EventEmitter();
    e.on('finish', onClose); // Node's http server puts a 'finish' listener on every response
    e.emit('close');
  });
  const withClose = time(() => {
    const e = new EventEmitter();
    e.on('finish', onClose);
    e[kRec] = 1;
    e.on('close', onClose);
    e.emit('close');
  });
  add("symbol write + res.on('close') + its emit", withClose - baseEE, 'difference over an emitter with no close listener');
  // Express gives every req/res a new prototype (Object.setPrototypeOf); V8 then
  // caches no transitions for properties added to that object afterwards.
  const appResponse = Object.create(http.ServerResponse.prototype);
  const incoming = new http.IncomingMessage(new net.Socket());
  const fresh = (swap) => {
    const r = new http.ServerResponse(incoming);
    if (swap) Object.setPrototypeOf(r, appResponse);
    return r;
  };
  const kOnRes = Symbol.for('loopguard.bench.k');
  const plain = time(() => (sink += fresh(false).statusCode), 50_000);
  const swapped = time(() => (sink += fresh(true).statusCode), 50_000);
  add('symbol write on a fresh ServerResponse', time(() => (fresh(false)[kOnRes] = 1), 50_000) - plain, 'cached transition');
  add('… after setPrototypeOf (as Express does)', time(() => (fresh(true)[kOnRes] = 1), 50_000) - swapped, 'a new hidden class per object (in a real server ≈ 2 µs: bench/profile.mjs sym-write)');
  const store = new AsyncLocalStorage();
  const noop = () => {};
  add('AsyncLocalStorage.run(store, fn) (the call itself)', time(() => store.run(plainReq, noop)), 'plus the process-wide hook cost below');
  guard.close();
  return rows;
}

if (process.argv[2] === '--child') {
  await child(process.argv[3]);
} else {
  console.log(`loopguard micro-bench — Node ${process.version}\n`);
  console.log('Synchronous request-path pieces (ns per call, median of 7 batches):');
  console.log(textTable(['piece', 'ns', 'note'], syncPieces()));
  const modes = ['none', 'als', 'precise', 'als+precise'];
  const results = {};
  for (const mode of modes) results[mode] = await runChild(mode);
  console.log('\nProcess-wide hook cost: ns per async operation with each setting (fresh process each):');
  console.log(
    textTable(
      ['operation', ...modes, 'ALS adds', 'precise adds (on ALS)'],
      Object.keys(WORKLOADS).map((w) => [w, ...modes.map((m) => results[m][w].toFixed(0)), `+${(results.als[w] - results.none[w]).toFixed(0)}`, `+${(results['als+precise'][w] - results.als[w]).toFixed(0)}`]),
    ),
  );
  if (sink === 42) console.log('');
}
