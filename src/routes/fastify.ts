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
  const url = request.routeOptions?.url;
  return typeof url === 'string' ? url : null;
}
