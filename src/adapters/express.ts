import { createLoopGuard, isLoopGuard, LoopGuard } from '../create-guard';
import { expressRoute } from '../routes/express';
import { ChannelStarter } from './entry';
import { startForApp } from './http-channels';
import { entryOf, kRecord, resolveGuard, type GuardInput, type TrackedResponse } from './shared';

type Next = (err?: unknown) => void;

export interface LoopGuardMiddleware {
  (req: any, res: any, next: Next): void;
  /** The guard behind this middleware: snapshot(), on('stall'), close(). */
  readonly guard: LoopGuard;
}

/**
 * Express (4 and 5) middleware. Mount it first: `app.use(loopGuard())`.
 * Mounting the same or another loopguard middleware twice on a request counts it once.
 *
 * The middleware opens the app's first request itself and hands the app's
 * next requests to node:http's start channel (./entry.ts, ChannelStarter),
 * which opens them before Express runs; then it takes its own layer out of
 * the way (retireLayer). With load shedding on it stays, to answer shed
 * requests before routing.
 */
export function loopGuard(optionsOrGuard?: GuardInput): LoopGuardMiddleware {
  const { guard } = resolveGuard(optionsOrGuard);
  if (!guard.enabled) return passThrough(guard);
  const entry = entryOf(guard);
  const starter = new ChannelStarter(entry, expressRoute);
  const shedder = guard.shedder;
  const tracker = guard.recordOwner;
  const retired = new WeakSet<object>();
  // The layers this middleware took out of the way: put back when the guard closes.
  const retiredLayers: ExpressLayer[] = [];
  guard.attach(() => ({ close: () => restoreLayers(retiredLayers) }));

  function loopGuardMiddleware(req: any, res: TrackedResponse, next: Next): void {
    // A shed request is answered here, and its record (if the channel opened one) dropped.
    if (shedder?.active === true && entry.shed(res, () => shedder.shed(req, res, req.method, req.originalUrl ?? req.url))) return;
    const tracked = res[kRecord];
    if (tracked !== undefined) {
      // The channel opened this request for us: this app needs its layer no more.
      if (shedder === undefined && tracked.owner === tracker && !retired.has(req.app)) retireLayer(req.app, loopGuardMiddleware, retired, retiredLayers);
      return next();
    }
    // The first request of this app (or one the channel cannot see): open it here.
    startForApp(req.app, starter);
    const record = entry.open(req, res, req.method, expressRoute, req);
    if (record === undefined) return next();
    entry.run(record, next, undefined, undefined, undefined);
  }

  return Object.defineProperty(loopGuardMiddleware, 'guard', { value: guard, enumerable: true }) as LoopGuardMiddleware;
}

/** `enabled: false`: a middleware that only calls next(). */
function passThrough(guard: LoopGuard): LoopGuardMiddleware {
  function loopGuardMiddleware(_req: unknown, _res: unknown, next: Next): void {
    next();
  }
  return Object.defineProperty(loopGuardMiddleware, 'guard', { value: guard, enumerable: true }) as LoopGuardMiddleware;
}

interface ExpressLayer {
  handle?: unknown;
  match?: unknown;
}

/**
 * An Express router layer costs every request that passes it a match, a
 * params object and a closure (≈ 1.2 KB and ~1 µs per request on Express 5,
 * bench/alloc.mjs --where). Once the channel opens this app's requests, the
 * middleware's layer stops matching: it stays in the stack at its index (a
 * request in the middle of its dispatch still finds every later layer where
 * it was), and the router skips it with one call. Apps whose router cannot
 * be read keep the layer (a check and `next()`). With load shedding on, the
 * middleware answers shed requests and stays.
 */
function retireLayer(app: any, middleware: unknown, retired: WeakSet<object>, retiredLayers: ExpressLayer[]): void {
  if (app === null || typeof app !== 'function') return;
  retired.add(app);
  try {
    // Express 4 keeps its router in `_router` (and throws on `app.router`); Express 5 in `router`.
    const stack: unknown = (app._router ?? app.router)?.stack;
    if (!Array.isArray(stack)) return;
    for (const layer of stack as ExpressLayer[]) {
      if (layer !== null && typeof layer === 'object' && layer.handle === middleware && typeof layer.match === 'function') {
        layer.match = neverMatches;
        retiredLayers.push(layer);
      }
    }
  } catch {
    // An unfamiliar router: the layer stays, which is only slower.
  }
}

/** The guard closed: each retired layer matches as its router made it again (the prototype's match). */
function restoreLayers(layers: ExpressLayer[]): void {
  for (const layer of layers.splice(0)) {
    if (layer.match === neverMatches) delete layer.match;
  }
}

function neverMatches(): false {
  return false;
}

export { createLoopGuard, isLoopGuard, LoopGuard };
export type { GuardInput };
