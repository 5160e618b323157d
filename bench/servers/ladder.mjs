/**
 * The lower rungs of the request-path ladder, shared by the Express and
 * Fastify bench servers: node:http's start/finish channels with a little
 * more work on each rung, none of it loopguard's code. Subscribing is
 * process-wide, so the variant mounts nothing (returns null).
 */
import dc from 'node:diagnostics_channel';
import { AsyncLocalStorage } from 'node:async_hooks';

const kRecord = Symbol('bench.record');

export function ladderRung({ enterConstant = false, record = false, als = false, timerMs = 0, gcObserver = false }) {
  if (timerMs > 0) {
    const t = setTimeout(function tick() {
      t.refresh();
    }, timerMs);
    t.unref();
  }
  if (gcObserver) new PerformanceObserver(() => {}).observe({ entryTypes: ['gc'] });
  const store = new AsyncLocalStorage();
  const constant = { constant: true };
  let finished = 0;
  let nextId = 1;
  dc.subscribe('http.server.request.start', ({ request, response }) => {
    if (enterConstant) store.enterWith(constant);
    if (!record) return;
    const r = { id: nextId++, method: request.method, startedAt: performance.now() };
    response[kRecord] = r;
    if (als) store.enterWith(r);
  });
  dc.subscribe('http.server.response.finish', ({ response }) => {
    if (record && response[kRecord] !== undefined) finished++;
  });
  return null;
}

/**
 * Alternative context designs, wrapping the app's request listener instead
 * of the start channel (bench/results: the context per request is the floor):
 * - 'run': a record per request, the app run inside `AsyncLocalStorage.run`;
 * - 'socket': one mutable holder per keep-alive connection, entered once
 *   (`AsyncLocalStorage.snapshot()` taken inside `run(holder)`), and per
 *   request only `holder.record = record` before the app runs in that frame:
 *   no context frame allocated per request. Its price is attribution: code a
 *   request leaves behind (a timer, the rest of an async handler) that runs
 *   after the next request on the same connection began reads that next
 *   request from the holder, so its stall would be blamed on an innocent one.
 */
export function contextWrap(mode) {
  const store = new AsyncLocalStorage();
  const kRun = Symbol('bench.socketRun');
  let nextId = 1;
  return {
    wrap(app) {
      return function benchListener(req, res) {
        const record = { id: nextId++, method: req.method, startedAt: performance.now() };
        res[kRecord] = record;
        if (mode === 'run') return store.run(record, app, req, res);
        const socket = req.socket;
        let run = socket[kRun];
        if (run === undefined) {
          const holder = { record: undefined };
          run = store.run(holder, () => AsyncLocalStorage.snapshot());
          run.holder = holder;
          socket[kRun] = run;
        }
        run.holder.record = record;
        return run(app, req, res);
      };
    },
  };
}
