/**
 * node:http adapter: wraps a plain `(req, res)` request listener.
 *
 *   http.createServer(withLoopGuard(listener, { route: (req) => myRouter.templateOf(req) }))
 *
 * There is no router to ask, so the route comes from the caller's `route(req)`,
 * which must return a template (`/users/:id`), never the raw URL: whatever it
 * returns becomes a metric label and appears in reports. Distinct values past
 * `maxRoutes` are counted as `(overflow)`; `null`/`undefined` means `(unmatched)`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidOptionError } from '../errors';
import { isLoopGuard, LoopGuard } from '../create-guard';
import type { LoopGuardOptions } from '../options';
import { entryOf, resolveGuard, type TrackedResponse } from './shared';

export interface HttpLoopGuardOptions extends LoopGuardOptions {
  /**
   * The route template of a request, called when it finishes (and while the
   * watchdog reads a stall). Return a template, never `req.url`.
   * @default every request is `(unmatched)`
   */
  route?: (req: IncomingMessage) => string | null | undefined;
  /** Use an existing guard instead of creating one; no other guard option may be given then. */
  guard?: LoopGuard;
}

export interface LoopGuardListener<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse> {
  (this: unknown, req: Req, res: Res): void;
  /** The guard behind this listener: snapshot(), on('stall'), close(). */
  readonly guard: LoopGuard;
}

/** Wraps a request listener so each request it serves is tracked by a guard. */
export function withLoopGuard<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse>(
  listener: (this: unknown, req: Req, res: Res) => void,
  options: HttpLoopGuardOptions | LoopGuard = {},
): LoopGuardListener<Req, Res> {
  if (typeof listener !== 'function') throw new InvalidOptionError('listener', 'a (req, res) request listener function', listener);
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
  const route = isLoopGuard(options) ? undefined : options.route;
  if (route !== undefined && typeof route !== 'function') throw new InvalidOptionError('route', 'a function (req) => route template', route);
  const { guard } = resolveGuard(options, ['route']);
  if (!guard.enabled) {
    // `enabled: false`: the listener itself, called as Node calls it.
    const passThrough = function loopGuardListener(this: unknown, req: Req, res: Res): void {
      listener.call(this, req, res);
    };
    return Object.defineProperty(passThrough, 'guard', { value: guard, enumerable: true }) as LoopGuardListener<Req, Res>;
  }
  const entry = entryOf(guard);
  const routeOf = route === undefined ? noRoute : templateFrom(route);
  const handle = listener;
  const shedder = guard.shedder;
  // Keeps the server as `this`, as Node calls request listeners.
  const callListener = (self: unknown, req: Req, res: Res): void => handle.call(self, req, res);

  function loopGuardListener(this: unknown, req: Req, res: Res): void {
    // Under pressure the URL is matched against culprit templates, so shedding
    // by route needs `route(req)` to return path-style templates.
    if (shedder?.active === true && entry.shed(res as TrackedResponse, () => shedder.shed(req, res, req.method ?? '', req.url ?? '/'))) return;
    const record = entry.open(req, res, req.method ?? '', routeOf, req);
    if (record === undefined) return handle.call(this, req, res);
    entry.run(record, callListener, this, req, res);
  }

  return Object.defineProperty(loopGuardListener, 'guard', { value: guard, enumerable: true }) as LoopGuardListener<Req, Res>;
}

function noRoute(): null {
  return null;
}

/** Only non-empty strings are routes; anything else the user function returns is `(unmatched)`. */
function templateFrom(route: (req: IncomingMessage) => unknown): (req: IncomingMessage) => string | null {
  return function userRoute(req) {
    const template = route(req);
    return typeof template === 'string' && template !== '' ? template : null;
  };
}

export { createLoopGuard, isLoopGuard } from '../create-guard';
export { LoopGuard };
