/**
 * Prototypes of the Express middleware, to measure what its pieces cost — not
 * shipped, not a replacement for src/adapters/express.ts. They drive the real
 * guard (dist/) the way the adapter does.
 *
 *   protoMiddleware({ als: false })  the adapter's bookkeeping without
 *       AsyncLocalStorage: isolates the ALS cost. (The watchdog cannot name a
 *       culprit this way; it is a measurement only.)
 *   leanMiddleware({ als })  the same work without touching `res` beyond one
 *       'close' listener: no symbol property read or written on it.
 *
 * Why lean matters: Express 5 (app.handle) and 4 (expressInit) give every
 * req/res a new prototype with Object.setPrototypeOf. V8 does not cache
 * property-add transitions on such an object's map, so each property added
 * to `res` afterwards builds a fresh hidden class (a copy of ServerResponse's
 * ~40-entry descriptor array) and leaves every later access site
 * megamorphic. Measured in the profile: reading an absent symbol on `res`
 * ≈ 0.8 µs, writing one ≈ 2.2 µs per request.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { createLoopGuard } = require('loopguard');
const { requestStore, expressRoute } = require('../../dist/internal.js');

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

/** The adapter's shape (symbol on res, shared listener), with or without ALS. */
export function protoMiddleware({ als = true, options } = {}) {
  const guard = createLoopGuard(options);
  function protoLoopGuard(req, res, next) {
    if (res[kRecord] !== undefined || guard.isClosed) return next();
    const record = guard.beginRequest(req, req.method, expressRoute);
    res[kRecord] = record;
    res.prependListener('close', finishOnClose);
    if (als) return requestStore.run(record, next);
    next();
  }
  protoLoopGuard.guard = guard;
  return protoLoopGuard;
}

/**
 * No property on `res`: the record travels in a per-request closure given to
 * 'close', and "already tracked" (mounted twice) is read from the ALS store
 * that an outer loopguard middleware opened for this same request.
 */
export function leanMiddleware({ als = true, options } = {}) {
  const guard = createLoopGuard(options);
  function leanLoopGuard(req, res, next) {
    const current = requestStore.getStore();
    if ((current !== undefined && current.req === req) || guard.isClosed) return next();
    const record = guard.beginRequest(req, req.method, expressRoute);
    res.prependListener('close', () => {
      try {
        record.owner.finish(record);
      } catch {
        // As the adapter: never throw into the emitter.
      }
    });
    if (als) return requestStore.run(record, next);
    next();
  }
  leanLoopGuard.guard = guard;
  return leanLoopGuard;
}
