/**
 * Fastify plugin: `app.register(loopGuard, { thresholdMs: 100 })`.
 *
 * Wrapped with fastify-plugin so it applies to the whole app, not only to an
 * encapsulated child context. Requests to the app's node:http(s) server are
 * opened at the start channel (./entry.ts, ChannelStarter) before Fastify
 * runs, and entered with `enterWith`: everything Fastify schedules for the
 * request inherits the record. The `onRequest` hook then only links the
 * record to Fastify's request, whose route context names the template (one
 * field write), and answers shed requests. Requests no node:http server
 * made (`inject()`, http2) are opened in the hook itself, as before. Records
 * finish like every node:http one: the finish channel, or the socket's
 * 'close' when the client went away; not Fastify's `onResponse` /
 * `onRequestAbort` hooks, with which Fastify 5.12 allocates ≈ 0.8 KB more per
 * request (bench/alloc.mjs --where).
 */
import { Server as HttpServer } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
// A dependency of loopguard, not a peer: Fastify's convention is that a plugin brings its own.
import fastifyPlugin from 'fastify-plugin';
import { isLoopGuard, LoopGuard } from '../create-guard';
import { fastifyRoute } from '../routes/fastify';
import { writeFastify } from '../shed/respond';
import { ChannelStarter } from './entry';
import { startForServer } from './http-channels';
import { entryOf, kRecord, resolveGuard, type GuardInput, type TrackedResponse } from './shared';

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

/** A record opened at the channel holds the raw request until the hook links Fastify's; the raw one names no route. */
const routeOf = fastifyRoute as (req: unknown) => string | null;

function loopGuardPlugin(fastify: FastifyInstance, opts: FastifyLoopGuardOptions, done: (err?: Error) => void): void {
  // Registered twice (here or in a parent context): the first one counts every request already.
  if (fastify.hasDecorator('loopGuard')) return done();
  let guard: LoopGuard;
  let owned: boolean;
  try {
    // Reports and problems go to Fastify's own logger unless the options name another. Not to
    // the no-op one Fastify has with `logger: false` (it has no level): problems would vanish.
    const own = typeof (fastify.log as { level?: unknown } | undefined)?.level === 'string';
    const input = !own || isLoopGuard(opts) || opts?.guard !== undefined || opts?.logger !== undefined ? opts : { ...opts, logger: fastify.log };
    ({ guard, owned } = resolveGuard(input, REGISTER_KEYS));
  } catch (err) {
    return done(err as Error);
  }
  if (!guard.enabled) {
    // `enabled: false`: no hook, no channel; the decorator still answers `app.loopGuard`.
    fastify.decorate('loopGuard', guard);
    if (owned) fastify.addHook('onClose', (_instance: FastifyInstance, onClosed: () => void) => (guard.close(), onClosed()));
    return done();
  }
  const entry = entryOf(guard);
  const shedder = guard.shedder;
  const owner = guard.recordOwner;
  const server: unknown = fastify.server;
  if (server instanceof HttpServer || server instanceof HttpsServer) startForServer(server, new ChannelStarter(entry, routeOf));

  function loopGuardOnRequest(request: FastifyRequest, reply: FastifyReply, next: () => void): void {
    const res = reply.raw as TrackedResponse;
    // A shed request is answered through `reply` (Fastify's way to answer from a hook: send, and no next()).
    if (shedder?.active === true && entry.shed(res, () => shedder.shed(request, reply, request.method, request.url, reply, writeFastify))) return;
    const record = res[kRecord];
    if (record !== undefined) {
      // Opened at the channel: from now on its route is read from Fastify's request.
      if (record.owner === owner) record.req = request;
    } else {
      const opened = entry.open(request, res, request.method, routeOf, request.raw);
      if (opened !== undefined) entry.enter(opened);
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
