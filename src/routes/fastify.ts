/**
 * Route templates for Fastify, read from what its router leaves on the
 * request. Kept apart from the adapter so the zero-code start can resolve
 * routes without loading it (or fastify-plugin). Runs when a request
 * finishes, or while the watchdog reads a stall.
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
