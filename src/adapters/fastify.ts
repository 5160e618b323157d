/**
 * Fastify plugin: `app.register(loopGuard, { thresholdMs: 100 })`.
 *
 * Wrapped with fastify-plugin so its hooks apply to the whole app, not only
 * to an encapsulated child context. Fastify hooks receive no `next` that
 * could run inside `AsyncLocalStorage.run()`, so the request's record
 * becomes the current store with `enterWith` in `onRequest`: Fastify runs
 * the rest of the request (hooks, body parsing, handler) from there, so
 * everything it schedules inherits the record. The budget is ≈ 1 µs per
 * request: one record, one symbol write, one shared 'close' listener.
 */
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
// A dependency of loopguard, not a peer: Fastify's convention is that a plugin brings its own.
import fastifyPlugin from 'fastify-plugin';
import { LoopGuard } from '../create-guard';
import { preciseEnter } from '../core/precise';
import { requestStore } from '../core/request-context';
import { fastifyRoute } from '../routes/fastify';
import { writeFastify } from '../shed/respond';
import { resolveGuard, type GuardInput } from './resolve-guard';
import { kRecord, trackResponse, type TrackedResponse } from './shared';

declare module 'fastify' {
  interface FastifyInstance {
    /** The guard behind the loopguard plugin: snapshot(), on('stall'), close(). */
    loopGuard: LoopGuard;
  }
}

/** Options for a guard the plugin creates, `{ guard }`, or an existing guard. */
export type FastifyLoopGuardOptions = GuardInput;

/** Keys Fastify's `register()` itself reads; they are not loopguard options. */
const REGISTER_KEYS = ['prefix', 'logLevel', 'logSerializers'];

function loopGuardPlugin(fastify: FastifyInstance, opts: FastifyLoopGuardOptions, done: (err?: Error) => void): void {
  // Registered twice (here or in a parent context): the first one counts every request already.
  if (fastify.hasDecorator('loopGuard')) return done();
  let guard: LoopGuard;
  let owned: boolean;
  try {
    ({ guard, owned } = resolveGuard(opts, REGISTER_KEYS));
  } catch (err) {
    return done(err as Error);
  }
  const precise = guard.options.precise;
  const shedder = guard.shedder;

  function loopGuardOnRequest(request: FastifyRequest, reply: FastifyReply, next: () => void): void {
    // Calm: one boolean. A shed request is answered through `reply` (Fastify's
    // way to answer from a hook: send, and no next()), and never tracked.
    if (shedder?.active === true && (reply.raw as TrackedResponse)[kRecord] === undefined && shedder.shed(request, reply, request.method, request.url, reply, writeFastify)) return;
    const record = trackResponse(guard, reply.raw, request, request.method, fastifyRoute as (req: unknown) => string | null);
    if (record !== undefined) {
      requestStore.enterWith(record);
      if (precise) preciseEnter(record);
    }
    next();
  }

  fastify.decorate('loopGuard', guard);
  fastify.addHook('onRequest', loopGuardOnRequest);
  // A guard passed in belongs to its creator, who closes it; one made here closes with the app.
  if (owned) {
    fastify.addHook('onClose', (_instance: FastifyInstance, onClosed: () => void) => {
      guard.close();
      onClosed();
    });
  }
  done();
}

/** The Fastify plugin. Register it before your routes: `app.register(loopGuard, options | guard)`. */
export const loopGuard: FastifyPluginCallback<FastifyLoopGuardOptions> = fastifyPlugin(loopGuardPlugin as never, {
  name: 'loopguard',
  fastify: '4.x || 5.x',
}) as unknown as FastifyPluginCallback<FastifyLoopGuardOptions>;

export { createLoopGuard, isLoopGuard } from '../create-guard';
export { fastifyRoute };
export { LoopGuard };
