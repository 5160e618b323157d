/**
 * Prototype of the Express middleware, to measure what its pieces cost — not
 * shipped, not a replacement for src/adapters/express.ts. It drives the real
 * guard (dist/) the same way the adapter does: one record per request behind
 * a symbol, one shared 'close' listener, finish through the tracker.
 *
 *   als: false  — no AsyncLocalStorage: isolates the ALS cost. The watchdog
 *                 cannot name a culprit this way; it is a measurement only.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { createLoopGuard } = require('loopguard');
const { requestStore } = require('../../dist/core/request-context.js');
const { expressRoute } = require('../../dist/adapters/express-route.js');

const kRecord = Symbol.for('loopguard.bench.record');

function finishOnClose() {
  const record = this[kRecord];
  if (record === undefined) return;
  try {
    record.owner.finish(record);
  } catch {
    // As the adapter: never throw into the emitter.
  }
}

export function protoMiddleware({ als = true, options } = {}) {
  const guard = createLoopGuard(options);
  function protoLoopGuard(req, res, next) {
    if (res[kRecord] !== undefined || guard.isClosed) return next();
    const record = guard.beginRequest(req, req.method, expressRoute);
    res[kRecord] = record;
    res.on('close', finishOnClose);
    if (als) return requestStore.run(record, next);
    next();
  }
  protoLoopGuard.guard = guard;
  return protoLoopGuard;
}
