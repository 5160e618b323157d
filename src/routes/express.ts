/**
 * Route templates for Express 4 and 5: mount prefix + route path
 * (`/api/v1/ingest/:tenant`), never the raw URL.
 *
 * `req.route.path` is a template, but `req.baseUrl` is the raw matched
 * prefix (`/tenants/acme`). The prefix template is recovered once per
 * (route, raw prefix) by walking the app's router tree along the raw prefix,
 * then cached on the route object, so a finished request costs one Map get.
 *
 * The walk calls the router's own `layer.match()`, which on Express 4 (and
 * router < 2.3) writes `layer.path` and `layer.params`, which the router's
 * `next()` reads after its own match. So it runs only when the request
 * finishes (`settled`), never from the stall probe or the busy sampler, which
 * run inside a V8 interrupt that can land between the router's match and its
 * read: there a cache miss answers null and the route is filled in at finish.
 */
import { joinPaths } from './join';

const kTemplates = Symbol('loopguard.templates');
/** Raw prefixes cached per route; past this, prefixes carry parameters and are recomputed. */
const MAX_CACHED_PREFIXES = 64;

interface ExpressLayer {
  route?: unknown;
  handle?: { stack?: ExpressLayer[] } & Record<string, unknown>;
  /** router 2.x (Express 5): the path the layer was created with. */
  rawPath?: unknown;
  keys?: { name: string | number }[];
  path?: string;
  params?: Record<string, string>;
  /** Express 4 and router < 2.3: boolean, stores path/params on the layer; router 2.3+: the match itself. */
  match?(path: string): boolean | LayerMatch;
}

interface LayerMatch {
  path: string;
  params: Record<string, string>;
  pattern?: unknown;
}

interface ExpressRoute {
  path: unknown;
  [kTemplates]?: Map<string, string>;
}

interface ExpressApp {
  mountpath?: unknown;
  parent?: ExpressApp;
  router?: { stack?: ExpressLayer[] };
  _router?: { stack?: ExpressLayer[] };
}

/**
 * The template of a request's matched route, or null when no route has matched
 * (yet), or when the prefix's template is not cached and `settled` is not set
 * (see the header: the walk runs framework code).
 */
export function expressRoute(req: { route?: ExpressRoute; baseUrl?: string; app?: ExpressApp }, settled?: boolean): string | null {
  const route = req.route;
  if (route == null) return null;
  const path = pathString(route.path);
  const base = req.baseUrl;
  if (!base) return path;
  let cache = route[kTemplates];
  const hit = cache?.get(base);
  if (hit !== undefined) return hit;
  if (settled !== true) return null;
  const template = joinPaths(prefixTemplate(req.app, route, base), path);
  if (cache === undefined) {
    cache = new Map();
    Object.defineProperty(route, kTemplates, { value: cache, enumerable: false });
  }
  if (cache.size < MAX_CACHED_PREFIXES) cache.set(base, template);
  return template;
}

function prefixTemplate(app: ExpressApp | undefined, route: ExpressRoute, base: string): string {
  // A mounted sub-app: its mount paths are templates already.
  let appPrefix = '';
  for (let a = app; a?.parent; a = a.parent) appPrefix = joinPaths(pathString(a.mountpath), appPrefix);
  const rest = appPrefix && base.toLowerCase().startsWith(appPrefix.toLowerCase()) ? base.slice(appPrefix.length) : base;
  // Express 4 has `_router` (its `router` getter throws); Express 5 has `router`.
  const stack = app?._router?.stack ?? app?.router?.stack;
  const found = stack ? walk(stack, route, rest, 0) : null;
  // Without the tree (an unusual setup), fall back to a prefix that holds no parameter values.
  return joinPaths(appPrefix, found ?? (app?.parent ? '' : '/(mounted)'));
}

/** Depth-first along the raw prefix; returns the prefix template leading to `route`, or null. */
function walk(stack: ExpressLayer[], route: ExpressRoute, rest: string, depth: number): string | null {
  if (depth > 16) return null;
  for (const layer of stack) {
    if (layer.route !== undefined) {
      if (layer.route === route && (rest === '' || rest === '/')) return '';
      continue;
    }
    const child = layer.handle?.stack;
    if (!Array.isArray(child) || typeof layer.match !== 'function') continue;
    // match() is what Express itself runs per request; older versions store path/params on the layer.
    const m = layer.match(rest === '' ? '/' : rest);
    if (!m) continue;
    const found: LayerMatch = typeof m === 'object' ? m : { path: layer.path ?? '', params: layer.params ?? {}, pattern: layer.rawPath };
    const inner = walk(child, route, rest.slice(found.path.length), depth + 1);
    if (inner !== null) return joinPaths(layerTemplate(layer, found), inner);
  }
  return null;
}

/** What a mount prefix becomes when its parameters cannot be put back: fixed text, never the client's. */
const UNRESTORED_PREFIX = '/(mounted)';

function layerTemplate(layer: ExpressLayer, match: LayerMatch): string {
  if (typeof match.pattern === 'string') return match.pattern;
  // Express 4 keeps no template: put the parameter names back into the matched text.
  const keys = layer.keys ?? [];
  if (keys.length === 0) return match.path;
  let segments = match.path.split('/');
  const restored = new Set<string>();
  for (const key of keys) {
    const value = match.params[String(key.name)];
    // A group inside a parameter (`:path(*)`) is a second, unnamed key with the same value.
    if (value === undefined || (typeof key.name === 'number' && restored.has(value))) continue;
    restored.add(value);
    // A value may span segments (`/files/:path(*)`): the run of segments it was matched from.
    const run = segmentRun(segments, value);
    // Left as matched, it would be the client's text in a label: a fixed placeholder instead.
    if (run === null) return UNRESTORED_PREFIX;
    segments = [...segments.slice(0, run[0]), `:${key.name}`, ...segments.slice(run[1])];
  }
  return segments.join('/');
}

/** [start, end) of the segments whose text (raw or decoded) is `value`, or null. */
function segmentRun(segments: string[], value: string): [number, number] | null {
  const parts = value.split('/').length;
  for (let i = 1; i + parts <= segments.length; i++) {
    const text = segments.slice(i, i + parts).join('/');
    if (text === value || safeDecode(text) === value) return [i, i + parts];
  }
  return null;
}

function pathString(path: unknown): string {
  if (typeof path === 'string') return path;
  if (Array.isArray(path)) return path.map(pathString).join('|');
  return String(path);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
