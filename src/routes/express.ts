/**
 * Route templates for Express 4 and 5: mount prefix + route path
 * (`/api/v1/ingest/:tenant`), never the raw URL.
 *
 * `req.route.path` is a template, but `req.baseUrl` is the raw matched
 * prefix (`/tenants/acme`). The prefix template is recovered once per
 * (route, raw prefix) by walking the app's router tree along the raw prefix,
 * then cached on the route object, so a finished request costs one Map get.
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

/** The template of a request's matched route, or null when no route has matched (yet). */
export function expressRoute(req: { route?: ExpressRoute; baseUrl?: string; app?: ExpressApp }): string | null {
  const route = req.route;
  if (route == null) return null;
  const path = pathString(route.path);
  const base = req.baseUrl;
  if (!base) return path;
  let cache = route[kTemplates];
  const hit = cache?.get(base);
  if (hit !== undefined) return hit;
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

function layerTemplate(layer: ExpressLayer, match: LayerMatch): string {
  if (typeof match.pattern === 'string') return match.pattern;
  // Express 4 keeps no template: put the parameter names back into the matched text.
  const keys = layer.keys ?? [];
  if (keys.length === 0) return match.path;
  const segments = match.path.split('/');
  for (const key of keys) {
    const value = match.params[String(key.name)];
    if (value === undefined) continue;
    const i = segments.findIndex((s) => s === value || safeDecode(s) === value);
    if (i >= 0) segments[i] = `:${key.name}`;
  }
  return segments.join('/');
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
