import { createLoopGuard, LoopGuard } from '../create-guard';
import type { LoopGuardOptions } from '../options';
import { expressRoute } from './express-route';
import { guardFrom, kRecord, runInRequest, trackResponse, type TrackedResponse } from './shared';

type Next = (err?: unknown) => void;

export interface LoopGuardMiddleware {
  (req: any, res: any, next: Next): void;
  /** The guard behind this middleware: snapshot(), on('stall'), close(). */
  readonly guard: LoopGuard;
}

/**
 * Express (4 and 5) middleware. Mount it first: `app.use(loopGuard())`.
 * Mounting the same or another loopguard middleware twice on a request counts it once.
 */
export function loopGuard(optionsOrGuard?: LoopGuardOptions | LoopGuard): LoopGuardMiddleware {
  const guard = guardFrom(optionsOrGuard);
  const precise = guard.options.precise;
  const shedder = guard.shedder;

  function loopGuardMiddleware(req: any, res: TrackedResponse, next: Next): void {
    // Calm: one boolean. Under pressure the URL is matched before routing (the
    // route is not known yet); a shed request is answered here, never tracked.
    if (shedder?.active === true && res[kRecord] === undefined && shedder.shed(req, res, req.method, req.originalUrl ?? req.url)) return;
    const record = trackResponse(guard, res, req, req.method, expressRoute);
    if (record === undefined) return next();
    runInRequest(record, precise, next, undefined, undefined);
  }

  return Object.defineProperty(loopGuardMiddleware, 'guard', { value: guard, enumerable: true }) as LoopGuardMiddleware;
}

export { createLoopGuard, guardFrom, LoopGuard };
