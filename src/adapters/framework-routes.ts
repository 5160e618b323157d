/**
 * Route templates for Fastify and Koa, read from what each framework's router
 * leaves on its request object. Kept apart from the adapters so the zero-code
 * start can resolve routes without loading either adapter (or fastify-plugin).
 * Both run when a request finishes, or while the watchdog reads a stall.
 */

/** The parts of a Fastify request we read. */
export interface FastifyRequestLike {
  readonly is404?: boolean;
  readonly routeOptions?: { readonly url?: unknown };
}

/**
 * A Fastify request's route template: `request.routeOptions.url`, which holds
 * the registration prefix already (`/api/users/:id`); null for the not-found handler.
 */
export function fastifyRoute(request: FastifyRequestLike): string | null {
  if (request.is404 === true) return null;
  const context = routeContextOf(request);
  const url = context !== undefined ? context.config?.url : request.routeOptions?.url;
  return typeof url === 'string' ? url : null;
}

interface FastifyRouteContext {
  readonly config?: { readonly url?: unknown };
}

/** Fastify's own key of a request's route context, found once by its description. */
let kRouteContext: symbol | undefined;

/**
 * `request.routeOptions` builds a new options object on every read (Fastify
 * 5.12: ≈ 120 B per request, bench/alloc.mjs --where); the route context it
 * reads `url` from is on the request under Fastify's 'fastify.context'
 * symbol. Where that symbol is not found, routeOptions it is.
 */
function routeContextOf(request: FastifyRequestLike): FastifyRouteContext | undefined {
  kRouteContext ??= Object.getOwnPropertySymbols(request).find((s) => s.description === 'fastify.context');
  if (kRouteContext === undefined) return undefined;
  const context = (request as Record<symbol, unknown>)[kRouteContext];
  return context !== null && typeof context === 'object' ? (context as FastifyRouteContext) : undefined;
}

/** The parts of a Koa context we read. */
export interface KoaContextLike {
  /** Set by @koa/router: the matched route's path template, router prefixes included. */
  _matchedRoute?: unknown;
  /** Set by koa-mount: the innermost mount's prefix, a plain path without parameters. */
  mountPath?: unknown;
}

/**
 * A Koa request's route template: the @koa/router route that matched, behind
 * the koa-mount prefix if any; null when no route matched. With nested
 * koa-mounts only the innermost prefix is known (koa-mount overwrites it).
 */
export function koaRoute(ctx: KoaContextLike): string | null {
  const matched = ctx._matchedRoute;
  if (matched === undefined || matched === null) return null;
  const route = typeof matched === 'string' ? matched : String(matched);
  const mount = ctx.mountPath;
  if (typeof mount !== 'string' || mount === '' || mount === '/') return route;
  if (route === '' || route === '/') return mount;
  return mount.endsWith('/') ? mount + route.replace(/^\//, '') : mount + (route.startsWith('/') ? route : `/${route}`);
}
