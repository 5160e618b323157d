/**
 * Koa (2 and 3) middleware: `app.use(loopGuard({ thresholdMs: 100 }))`, first.
 * Koa middleware is `(ctx, next)`, so the rest of the chain runs inside
 * `AsyncLocalStorage.run()` like Express.
 */
import { LoopGuard } from '../create-guard';
import type { ServerResponse } from 'node:http';
import { koaRoute, type KoaContextLike } from '../routes/koa';
import { writeKoa } from '../shed/respond';
import { resolveGuard, type GuardInput } from './resolve-guard';
import { kRecord, runInRequest, trackResponse, type TrackedResponse } from './shared';

/** The parts of a Koa context the middleware reads. */
interface KoaContext extends KoaContextLike {
  method: string;
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
  const precise = guard.options.precise;
  const shedder = guard.shedder;

  function loopGuardMiddleware(ctx: KoaContext, next: () => Promise<unknown>): Promise<unknown> {
    // Calm: one boolean. A shed request is answered through ctx (not calling next()), and never tracked.
    if (shedder?.active === true && (ctx.res as TrackedResponse)[kRecord] === undefined && shedder.shed(ctx, ctx.res, ctx.method, ctx.originalUrl, ctx, writeKoa)) {
      return Promise.resolve();
    }
    const record = trackResponse(guard, ctx.res, ctx, ctx.method, koaRoute as (ctx: unknown) => string | null);
    if (record === undefined) return next();
    return runInRequest(record, precise, next, undefined, undefined);
  }

  return Object.defineProperty(loopGuardMiddleware, 'guard', { value: guard, enumerable: true }) as KoaLoopGuardMiddleware;
}

export { createLoopGuard, isLoopGuard } from '../create-guard';
export { koaRoute };
export { LoopGuard };
