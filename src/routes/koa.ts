/**
 * Route templates for Koa, read from what @koa/router and koa-mount leave on
 * the context. Kept apart from the adapter so the zero-code start can resolve
 * routes without loading it. Runs when a request finishes, or while the
 * watchdog reads a stall.
 */
import { joinPaths } from './join';

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
  return joinPaths(mount, route);
}
