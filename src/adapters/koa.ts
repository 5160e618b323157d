/**
 * Koa (2 and 3) middleware: `app.use(loopGuard({ thresholdMs: 100 }))`, first.
 * Koa middleware is `(ctx, next)`, so the rest of the chain runs inside
 * `AsyncLocalStorage.run()` like Express.
 */
import { LoopGuard } from '../create-guard';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { koaRoute, type KoaContextLike } from '../routes/koa';
import { writeKoa } from '../shed/respond';
import { entryOf, resolveGuard, type GuardInput, type TrackedResponse } from './shared';

/** The parts of a Koa context the middleware reads. */
interface KoaContext extends KoaContextLike {
  method: string;
  req: IncomingMessage;
  res: ServerResponse;
  originalUrl: string;
  status: number;
  body: unknown;
  set(headers: Record<string, string>): void;
}

export interface KoaLoopGuardMiddleware {
  (ctx: any, next: () => Promise<unknown>): Promise<unknown>;
  /** The guard behind this middleware: snapshot(), on('stall'), close(). */
  readonly guard: LoopGuard;
}

/**
 * Koa middleware. Mount it first, before routers.
 * Mounting loopguard twice on a request counts it once.
 */
export function loopGuard(optionsOrGuard?: GuardInput): KoaLoopGuardMiddleware {
  const { guard } = resolveGuard(optionsOrGuard);
  if (!guard.enabled) {
    // `enabled: false`: only next().
    const passThrough = (_ctx: unknown, next: () => Promise<unknown>): Promise<unknown> => next();
    return Object.defineProperty(passThrough, 'guard', { value: guard, enumerable: true }) as KoaLoopGuardMiddleware;
  }
  const entry = entryOf(guard);
  const shedder = guard.shedder;
  const routeOf = koaRoute as (ctx: unknown) => string | null;

  function loopGuardMiddleware(ctx: KoaContext, next: () => Promise<unknown>): Promise<unknown> {
    const res = ctx.res as TrackedResponse;
    // A shed request is answered through ctx (not calling next()).
    if (shedder?.active === true && entry.shed(res, () => shedder.shed(ctx, res, ctx.method, ctx.originalUrl, ctx, writeKoa))) return Promise.resolve();
    const record = entry.open(ctx, res, ctx.method, routeOf, ctx.req);
    if (record === undefined) return next();
    return entry.run(record, next, undefined, undefined, undefined);
  }

  return Object.defineProperty(loopGuardMiddleware, 'guard', { value: guard, enumerable: true }) as KoaLoopGuardMiddleware;
}

export { createLoopGuard, isLoopGuard } from '../create-guard';
export { koaRoute };
export { LoopGuard };
