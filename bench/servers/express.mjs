/**
 * Express 5 hello-world, with one middleware variant mounted in front:
 *   node bench/servers/express.mjs <variant>
 * The main variants are what issue 2 compares; the rest isolate one piece of
 * loopguard's per-request cost each (see bench/README.md).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import express from 'express';
import { serve, unavailable } from './harness.mjs';
import { contextWrap, ladderRung } from './ladder.mjs';
import { guardInternals } from '../../dist/internal.js';

const VARIANTS = {
  bare: () => null,
  loopguard: async () => (await import('loopguard')).loopGuard(),
  precise: async () => (await import('loopguard')).loopGuard({ precise: true }),
  nobusy: async () => (await import('loopguard')).loopGuard({ busySampleHz: 0 }),
  /** The default without the thread-pool probe: the difference to `loopguard` is the probe's cost. */
  noprobe: async () => (await import('loopguard')).loopGuard({ threadPoolProbe: false }),
  'prom-bundle': async () => {
    const { default: promBundle } = await import('express-prom-bundle');
    // What a user wanting per-route numbers would write: method and path labels.
    return promBundle({ includeMethod: true, includePath: true });
  },
  // --- the request-path ladder (bench/rate.mjs --ladder, run.mjs --only ...): each rung adds one thing ---
  /** node:http's start and finish channels subscribed, with subscribers that do nothing. */
  'ch-empty': () => ladderRung({}),
  /** + AsyncLocalStorage.enterWith(one constant object) at the start channel. */
  'ch-enter': () => ladderRung({ enterConstant: true }),
  /** + a small record allocated at start, written on res under a symbol, read at finish (no ALS). */
  'ch-record': () => ladderRung({ record: true }),
  /** + that record entered with enterWith: the floor of any per-request context. */
  'ch-record-als': () => ladderRung({ record: true, als: true }),
  /** Alternative context designs (bench/servers/ladder.mjs): the app run in a per-request context, or in a per-connection holder. */
  'wrap-run': () => contextWrap('run'),
  'wrap-socket': () => contextWrap('socket'),
  /** loopguard with every optional part off: no stack capture, no busy sampling, no pool probe, no exporters. */
  'lg-bare': async () => (await import('loopguard')).loopGuard({ captureStacks: false, busySampleHz: 0, threadPoolProbe: false, prometheus: false, otel: false }),
  /** loopguard with one idle worker thread that watches itself (loopguard/worker): against `lg-plainworker`, what watching a worker costs. */
  'lg-worker': async () => {
    // The guard first: a watched worker joins the main thread's watchdog, which the guard starts.
    const made = (await import('loopguard')).loopGuard();
    await idleWorker(true);
    return made;
  },
  /** loopguard with one idle worker thread that loopguard does not watch. */
  'lg-plainworker': async () => {
    await idleWorker(false);
    return (await import('loopguard')).loopGuard();
  },
  // --- diagnostics: one piece of the per-request cost at a time ---
  /** An empty middleware: what Express's router charges for one more layer, whatever it does. */
  noop: () =>
    function noop(req, res, next) {
      next();
    },
  /**
   * loopguard's node:http adapter wrapping the whole Express app: tracks the
   * request before Express's router (no extra layer) and before Express swaps
   * the req/res prototypes.
   */
  'http-wrap': async () => {
    const { withLoopGuard } = await import('loopguard/http');
    const { expressRoute } = await import('../../dist/internal.js');
    return { wrap: (app) => withLoopGuard(app, { route: expressRoute }) };
  },
  /** An AsyncLocalStorage run() per request and nothing else (the spike's "ALS alone"). */
  'als-only': () => {
    const store = new AsyncLocalStorage();
    return function alsOnly(req, res, next) {
      store.run({ req }, next);
    };
  },
  /** A 'close' listener per response and nothing else. */
  'close-only': () => {
    const kSeen = Symbol('seen');
    function onClose() {
      this[kSeen] = 2;
    }
    return function closeOnly(req, res, next) {
      res[kSeen] = 1;
      res.on('close', onClose);
      next();
    };
  },
  /** Reads a registry-symbol property on res (a miss), as the adapter's "already tracked?" check. */
  'sym-read': () => {
    const k = Symbol.for('loopguard.bench.k');
    return function symRead(req, res, next) {
      if (res[k] !== undefined) return next('route');
      next();
    };
  },
  /** Writes a registry-symbol property on res, as the adapter stores its record. */
  'sym-write': () => {
    const k = Symbol.for('loopguard.bench.k');
    return function symWrite(req, res, next) {
      res[k] = req;
      next();
    };
  },
  /** Only a PerformanceObserver for 'gc' entries, as the guard's LoopStats keeps. */
  'gc-observer': async () => {
    const { PerformanceObserver } = await import('node:perf_hooks');
    let n = 0;
    new PerformanceObserver((list) => (n += list.getEntries().length)).observe({ entryTypes: ['gc'] });
    return null;
  },
  /** Only monitorEventLoopDelay at the guard's 20 ms resolution. */
  eld: async () => {
    const { monitorEventLoopDelay } = await import('node:perf_hooks');
    monitorEventLoopDelay({ resolution: 20 }).enable();
    return null;
  },
  /** Only a 20 ms refresh()ed, unref'd timer: the heartbeat's bare cost. */
  'timer-20ms': () => {
    const t = setTimeout(function tick() {
      t.refresh();
    }, 20);
    t.unref();
    return null;
  },
  /** monitorEventLoopDelay sampling once per loop iteration (Node >= 24.19 / 26.5; older lines ignore the option). */
  'eld-spi': async () => {
    const { monitorEventLoopDelay } = await import('node:perf_hooks');
    monitorEventLoopDelay({ samplePerIteration: true }).enable();
    return null;
  },
  /** Only the heartbeat (timer, drift, delay clock, shared-memory writes), with a listener that does nothing. */
  'bg-heartbeat': async () => {
    const { Heartbeat } = await import('../../dist/internal.js');
    const { SharedState } = await import('../../dist/internal.js');
    new Heartbeat(25, new SharedState(), { onBeat() {} }).start();
    return null;
  },
  /** The heartbeat plus an ELU delta read on every beat (the guard reads it once a second: an upper bound). */
  'bg-elu': async () => {
    const { Heartbeat } = await import('../../dist/internal.js');
    const { SharedState } = await import('../../dist/internal.js');
    const { performance } = await import('node:perf_hooks');
    let mark = performance.eventLoopUtilization();
    let u = 0;
    new Heartbeat(25, new SharedState(), {
      onBeat() {
        const next = performance.eventLoopUtilization();
        u = performance.eventLoopUtilization(next, mark).utilization;
        mark = next;
      },
    }).start();
    return null;
  },
  /** The heartbeat plus the watchdog worker (inspector session, Debugger enabled, its polling), nothing else. */
  'bg-watchdog': async () => {
    const { Heartbeat } = await import('../../dist/internal.js');
    const { SharedState } = await import('../../dist/internal.js');
    const { Watchdog } = await import('../../dist/internal.js');
    const shared = new SharedState();
    new Heartbeat(25, shared, { onBeat() {} }).start();
    shared.captureAllowed = true;
    new Watchdog(shared, { captureAfterMs: 50, resampleMs: 50, maxSamplesPerStall: 16, maxStackFrames: 32 }, { onSamples() {}, onError() {} }).start();
    return null;
  },
  /** An inspector session on the main thread with the Debugger domain enabled, nothing else (V8's debug state alone). */
  'bg-debugger': async () => {
    const { Session } = await import('node:inspector');
    const session = new Session();
    session.connect();
    session.post('Debugger.enable', () => {});
    return null;
  },
  /** A guard running (heartbeat, watchdog worker, ELU, GC observer) with no middleware. */
  'guard-only': async () => {
    (await import('loopguard')).createLoopGuard();
    return null;
  },
  /** As guard-only without the watchdog (no inspector session, no Debugger.enable). */
  'guard-nocapture': async () => {
    (await import('loopguard')).createLoopGuard({ captureStacks: false });
    return null;
  },
  /** The full middleware without the watchdog. */
  nocapture: async () => (await import('loopguard')).loopGuard({ captureStacks: false }),
  /** Prototype: the same bookkeeping as the middleware, without AsyncLocalStorage (record on a symbol only). */
  'proto-noals': async () => (await import('../proto/middleware.mjs')).protoMiddleware({ als: false }),
  /** Prototype: the adapter's shape with ALS, built outside src/ (checks the prototype matches the adapter). */
  'proto-als': async () => (await import('../proto/middleware.mjs')).protoMiddleware({ als: true }),
  /** Prototype: nothing written to or read from res but one 'close' listener (see bench/proto/middleware.mjs). */
  'proto-lean': async () => (await import('../proto/middleware.mjs')).leanMiddleware({ als: true }),
  /** Prototype: lean and without ALS: the floor of the bookkeeping. */
  'proto-lean-noals': async () => (await import('../proto/middleware.mjs')).leanMiddleware({ als: false }),
};

const name = process.argv[2] ?? 'bare';
const make = VARIANTS[name];
if (!make) {
  unavailable(`unknown express variant '${name}' (known: ${Object.keys(VARIANTS).join(', ')})`);
} else {
  // A variant gives a middleware to mount first, null (nothing to mount), or { wrap(app) } returning the listener.
  let made;
  try {
    made = await make();
  } catch (err) {
    unavailable(`${name}: ${err.code ?? ''} ${err.message}`.trim());
  }
  if (made !== undefined) {
    const app = express();
    if (typeof made === 'function') app.use(made);
    app.get('/', (req, res) => {
      res.send('Hello World!');
    });
    const listener = made?.wrap ? made.wrap(app) : app;
    const guard = listener.guard ?? made?.guard;
    // Stalls the guard saw during the bench: on a busy machine, preemption of this process looks like one.
    let stalls = 0;
    guard?.on('stall', () => stalls++);
    // Heartbeats late enough for the watchdog to consider a capture (captureAfterMs, 50 ms by default).
    const lateBeats = () => {
      const h = guard && guardInternals(guard).delayHistogram;
      if (!h) return 0;
      let n = 0;
      h.bounds.forEach((b, i) => (n += b >= 0.05 ? h.counts[i + 1] : 0));
      return n;
    };
    serve(listener, { onStop: () => guard?.close(), info: () => ({ stalls, lateBeats: lateBeats() }) });
  }
}

/** Starts bench/servers/idle-worker.mjs and waits until it is up (and watched, with `watch`); unref'd. */
async function idleWorker(watch) {
  const { Worker } = await import('node:worker_threads');
  const worker = new Worker(new URL('./idle-worker.mjs', import.meta.url), { workerData: { watch } });
  worker.unref();
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}
