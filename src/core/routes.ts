import { BLOCKING_BUCKETS_SECONDS, DELAY_BUCKETS_SECONDS, ROUTE_BACKGROUND, ROUTE_GC, ROUTE_HOST, ROUTE_OVERFLOW, ROUTE_UNMATCHED } from '../catalogue';
import { Histogram } from './histogram';

/** Per (route template, method) state, touched once per finished request. */
export class RouteStats {
  readonly route: string;
  readonly method: string;
  /** Loop delay each request waited through (victim side), seconds. */
  readonly delay = new Histogram(DELAY_BUCKETS_SECONDS);
  /** Own synchronous time per request, seconds; only filled in precise mode. */
  blocking: Histogram | undefined;
  requests = 0;

  constructor(route: string, method: string) {
    this.route = route;
    this.method = method;
  }
}

/**
 * The fixed sentinel labels: the only ones exempt from the cap. Exempting
 * anything that merely starts with `(` would let a resolver that returns
 * client text in that shape grow the labels without bound, and never evict.
 */
const SENTINELS: ReadonlySet<string> = new Set([ROUTE_UNMATCHED, ROUTE_OVERFLOW, ROUTE_BACKGROUND, ROUTE_GC, ROUTE_HOST]);

/**
 * Route templates → stats, with a cardinality cap: past `maxRoutes` distinct
 * templates every new one is folded into `(overflow)`. Lookups are two Map
 * gets with no string building, because they run once per request.
 */
export class RouteTable {
  private readonly byRoute = new Map<string, Map<string, RouteStats>>();
  /** Names counted against the cap that are no route (task names). */
  private readonly names = new Set<string>();
  private readonly maxRoutes: number;
  private templates = 0;

  constructor(maxRoutes: number) {
    this.maxRoutes = maxRoutes;
  }

  /** The label value a template is counted under (itself, or the overflow sentinel). */
  labelFor(route: string): string {
    if (this.byRoute.has(route) || this.names.has(route) || this.templates < this.maxRoutes || SENTINELS.has(route)) return route;
    return ROUTE_OVERFLOW;
  }

  /**
   * The label value of a name that is no request's route (a pool task's,
   * `guard.task(name)`): it counts against the same cap as the templates,
   * once, and is never given route stats.
   */
  labelForName(name: string): string {
    if (this.names.has(name) || this.byRoute.has(name) || SENTINELS.has(name)) return name;
    if (this.templates >= this.maxRoutes) return ROUTE_OVERFLOW;
    this.names.add(name);
    this.templates++;
    return name;
  }

  stats(route: string, rawMethod: string): RouteStats {
    const method = normaliseMethod(rawMethod);
    let methods = this.byRoute.get(route);
    if (methods === undefined) {
      const label = this.labelFor(route);
      if (label !== route) return this.stats(label, rawMethod);
      methods = new Map();
      this.byRoute.set(route, methods);
      // Sentinels are few and fixed; only templates count against the cap.
      if (!SENTINELS.has(route) && !this.names.has(route)) this.templates++;
    }
    let stats = methods.get(method);
    if (stats === undefined) {
      stats = new RouteStats(route, method);
      methods.set(method, stats);
    }
    return stats;
  }

  *all(): IterableIterator<RouteStats> {
    for (const methods of this.byRoute.values()) yield* methods.values();
  }

  get size(): number {
    return this.templates;
  }
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);

/** Methods come from the client: anything unusual is one label value, not many. */
export function normaliseMethod(method: string): string {
  return KNOWN_METHODS.has(method) ? method : '_OTHER';
}

export function blockingHistogram(stats: RouteStats): Histogram {
  return (stats.blocking ??= new Histogram(BLOCKING_BUCKETS_SECONDS));
}
