import { createLoopGuard, isLoopGuard, LoopGuard } from '../create-guard';
import { expressRoute } from '../routes/express';
import { resolveGuard, type GuardInput } from './resolve-guard';
import { kRecord, runInRequest, trackResponse, type TrackedResponse } from './shared';

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
export function loopGuard(optionsOrGuard?: GuardInput): LoopGuardMiddleware {
  const { guard } = resolveGuard(optionsOrGuard);
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

export { createLoopGuard, isLoopGuard, LoopGuard };
export type { GuardInput };
