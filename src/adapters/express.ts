import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createLoopGuard, LoopGuard } from '../core/guard';
import { requestStore, type RequestRecord } from '../core/request-context';
import type { LoopGuardOptions } from '../options';
import { expressRoute } from './express-route';

/** Per-request state lives behind a symbol on the response, never a string property. */
const kRecord = Symbol('loopguard.record');

type Next = (err?: unknown) => void;

export interface LoopGuardMiddleware {
  (req: any, res: any, next: Next): void;
  /** The guard behind this middleware: snapshot(), on('stall'), close(). */
  readonly guard: LoopGuard;
}

/** Resolves an options object or an existing guard to a guard. */
export function guardFrom(optionsOrGuard?: LoopGuardOptions | LoopGuard): LoopGuard {
  return optionsOrGuard instanceof LoopGuard ? optionsOrGuard : createLoopGuard(optionsOrGuard);
}

/**
 * Express (4 and 5) middleware. Mount it first: `app.use(loopGuard())`.
 * Mounting the same or another loopguard middleware twice on a request counts it once.
 */
export function loopGuard(optionsOrGuard?: LoopGuardOptions | LoopGuard): LoopGuardMiddleware {
  const guard = guardFrom(optionsOrGuard);
  const precise = guard.options.precise;

  function loopGuardMiddleware(req: any, res: ServerResponse & { [kRecord]?: RequestRecord }, next: Next): void {
    if (res[kRecord] !== undefined || guard.isClosed) return next();
    let record: RequestRecord;
    try {
      record = guard.beginRequest(req, req.method, expressRoute);
      res[kRecord] = record;
      res.on('close', finishOnClose);
    } catch (err) {
      guard.reportError(err);
      return next();
    }
    if (!precise) return requestStore.run(record, next);
    // Precise mode: the synchronous part of the middleware chain runs inside run().
    const startedAt = performance.now();
    try {
      requestStore.run(record, next);
    } finally {
      record.blockingMs += performance.now() - startedAt;
    }
  }

  return Object.defineProperty(loopGuardMiddleware, 'guard', { value: guard, enumerable: true }) as LoopGuardMiddleware;
}

/** 'close' fires once per response, after it finished or when the client went away. */
function finishOnClose(this: ServerResponse & { [kRecord]?: RequestRecord }): void {
  const record = this[kRecord];
  if (record === undefined) return;
  try {
    record.owner.finish(record);
  } catch {
    // Never throw into the response's event emitter.
  }
}

export { createLoopGuard, LoopGuard };
