import { normaliseMethod } from '../core/routes';

/** The guard's per-route counters, as far as this module reads them. */
export interface ServedSource {
  all(): Iterable<{ readonly route: string; readonly method: string; readonly requests: number }>;
}

/**
 * How many requests each route served recently, from the guard's cumulative
 * per-route counters: a snapshot every `periodMs`, and the difference between
 * the live counters and the snapshot before the latest (one to two periods
 * old). Costs one pass over the route table per period; nothing per request.
 */
export class ServedHistory {
  private latest = new Map<string, number>();
  private latestAt = -Infinity;
  private older = new Map<string, number>();

  constructor(
    private readonly source: ServedSource,
    private readonly periodMs: number,
  ) {}

  /** Called from the evaluation tick. */
  tick(now: number): void {
    if (now - this.latestAt < this.periodMs) return;
    this.older = this.latest;
    this.latest = this.read();
    this.latestAt = now;
  }

  /** A reader of recent requests per (route, method), against the live counters at this moment. */
  reader(): (route: string, method: string) => number {
    const live = this.read();
    return (route, method) => {
      const key = keyOf(route, normaliseMethod(method));
      return (live.get(key) ?? 0) - (this.older.get(key) ?? 0);
    };
  }

  private read(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const r of this.source.all()) counts.set(keyOf(r.route, r.method), r.requests);
    return counts;
  }
}

function keyOf(route: string, method: string): string {
  return `${method} ${route}`;
}
