/**
 * The zero-code start sees every request as a raw `IncomingMessage` (from
 * the node:http 'http.server.request.start' channel). The route template is
 * resolved lazily, when the request finishes or a stall is read, from
 * whatever framework served it:
 *
 * - Express: the raw request *is* Express's `req` (`req.route`, `req.baseUrl`).
 * - Fastify: its Request wraps the raw one. Fastify publishes every new
 *   instance on the 'fastify.initialization' channel; we add one onRequest
 *   hook that links the raw request to Fastify's (one symbol write).
 * - Koa: its context wraps the raw request and Koa publishes nothing, so
 *   `Application.prototype.createContext` is wrapped, once, when Koa is
 *   loaded, to link the raw request to the context. This is the only module
 *   patch; it applies to `require` and to `import` (Node loads Koa's CJS
 *   implementation through the CommonJS loader in both cases).
 * - Anything else (plain node:http): `(unmatched)`; use loopguard/http with
 *   a `route` function for templates.
 */
import dc from 'node:diagnostics_channel';
import Module from 'node:module';
import { patchProcess } from '../core/process-patches';
import { expressRoute } from './express';
import { fastifyRoute, type FastifyRequestLike } from './fastify';
import { koaRoute, type KoaContextLike } from './koa';
import { kKoaPatched } from '../contract/symbols';
import { FASTIFY_INITIALIZATION } from '../contract/channels';

const kFastifyRequest = Symbol('loopguard.fastifyRequest');
const kKoaContext = Symbol('loopguard.koaContext');
const kPatched = kKoaPatched;

interface LinkedRequest {
  [kFastifyRequest]?: FastifyRequestLike;
  [kKoaContext]?: KoaContextLike;
}

/** The route resolver of zero-code records: whichever framework linked itself to the raw request. */
export function zeroCodeRoute(req: LinkedRequest, settled?: boolean): string | null {
  const fastifyRequest = req[kFastifyRequest];
  if (fastifyRequest !== undefined) return fastifyRoute(fastifyRequest);
  const koaContext = req[kKoaContext];
  if (koaContext !== undefined) return koaRoute(koaContext);
  return expressRoute(req as Parameters<typeof expressRoute>[0], settled);
}

/** Links every Fastify instance created from now on; for the life of the process. */
export function linkFastify(onError: (err: unknown) => void): void {
  dc.subscribe(FASTIFY_INITIALIZATION, (message: unknown) => {
    try {
      (message as { fastify: { addHook(name: string, hook: unknown): void } }).fastify.addHook('onRequest', linkFastifyRequest);
    } catch (err) {
      onError(err);
    }
  });
}

function linkFastifyRequest(request: FastifyRequestLike & { raw: LinkedRequest }, _reply: unknown, done: () => void): void {
  request.raw[kFastifyRequest] = request;
  done();
}

type Load = (...args: unknown[]) => unknown;

/** Wraps Koa's createContext when Koa is loaded from now on; until the last guard closes (core/process-patches.ts). */
export function linkKoa(): void {
  patchProcess('module.Module._load', () => {
    const loader = Module as unknown as { _load: Load };
    const original = loader._load;
    const loadAndLinkKoa = function loadAndLinkKoa(this: unknown): unknown {
      // Every argument passed through as is: the loader's signature is internal and has grown before.
      // eslint-disable-next-line prefer-rest-params
      const exported: unknown = Reflect.apply(original, this, arguments);
      // A typeof check per module load; the shape test runs only on functions.
      if (typeof exported === 'function') linkKoaApplication(exported as KoaApplicationClass);
      return exported;
    };
    loader._load = loadAndLinkKoa;
    return () => {
      // Wrapped again after us (another loader hook): leave the chain as it is.
      if (loader._load === loadAndLinkKoa) loader._load = original;
    };
  });
}

interface KoaApplicationClass {
  prototype?: {
    createContext?: (req: unknown, res: unknown) => KoaContextLike;
    handleRequest?: unknown;
    callback?: unknown;
    use?: unknown;
    [kPatched]?: true;
  };
}

/** Koa's Application, recognised by shape (it is the module's export, whatever path loaded it). */
function linkKoaApplication(candidate: KoaApplicationClass): void {
  const proto = candidate.prototype;
  if (
    proto === undefined ||
    proto === null ||
    typeof proto.createContext !== 'function' ||
    typeof proto.handleRequest !== 'function' ||
    typeof proto.callback !== 'function' ||
    typeof proto.use !== 'function' ||
    Object.prototype.hasOwnProperty.call(proto, kPatched)
  ) {
    return;
  }
  const createContext = proto.createContext;
  proto.createContext = function createContextLinked(this: unknown, req: unknown, res: unknown): KoaContextLike {
    const ctx = createContext.call(this, req, res);
    if (req !== null && typeof req === 'object') (req as LinkedRequest)[kKoaContext] = ctx;
    return ctx;
  };
  Object.defineProperty(proto, kPatched, { value: true });
}
