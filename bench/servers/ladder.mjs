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
