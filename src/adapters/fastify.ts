/**
 * Fastify plugin: `app.register(loopGuard, { thresholdMs: 100 })`.
 *
 * Wrapped with fastify-plugin so its hooks apply to the whole app, not only
 * to an encapsulated child context. Fastify hooks receive no `next` that
 * could run inside `AsyncLocalStorage.run()`, so the request's record
 * becomes the current store with `enterWith` in `onRequest`: Fastify runs
 * the rest of the request (hooks, body parsing, handler) from there, so
 * everything it schedules inherits the record. Nothing is written on
 * Fastify's request or reply. The record finishes like every node:http one
 * (./entry.ts): the finish channel, or the socket's 'close' when the client
 * went away. Not Fastify's `onResponse` / `onRequestAbort` hooks: with them
 * Fastify 5.12 allocates ≈ 0.8 KB more per request (its hook runners and an
 * abort listener per request; bench/alloc.mjs --where). Budget ≈ 1 µs.
 */
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
// A dependency of loopguard, not a peer: Fastify's convention is that a plugin brings its own.
import fastifyPlugin from 'fastify-plugin';
import { LoopGuard } from '../create-guard';
import { fastifyRoute } from '../routes/fastify';
import { writeFastify } from '../shed/respond';
import { entryOf, resolveGuard, type GuardInput, type TrackedResponse } from './shared';

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
  const entry = entryOf(guard);
  const shedder = guard.shedder;
  const routeOf = fastifyRoute as (req: unknown) => string | null;

  function loopGuardOnRequest(request: FastifyRequest, reply: FastifyReply, next: () => void): void {
    const res = reply.raw as TrackedResponse;
    // A shed request is answered through `reply` (Fastify's way to answer from a hook: send, and no next()).
    if (shedder?.active === true && entry.shed(res, () => shedder.shed(request, reply, request.method, request.url, reply, writeFastify))) return;
    const record = entry.open(request, res, request.method, routeOf, request.raw);
    if (record !== undefined) entry.enter(record);
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
