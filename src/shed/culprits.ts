/**
 * Which routes caused the recent blocked time. The guard's stall counters are
 * cumulative since start; shedding needs *recent* shares, so each stall blamed
 * on a route is also kept here, in a fixed ring, with the time it was delivered.
 */

export interface Blame {
  readonly route: string;
  readonly method: string;
  /** Blocked time in the window, ms. */
  readonly ms: number;
}

interface Entry {
  at: number;
  route: string;
  method: string;
  ms: number;
}

/** Share of recent request-blocked time the chosen culprits must cover together. */
export const CULPRIT_COVERAGE = 0.8;

export class RecentBlame {
  private readonly entries: Entry[] = [];
  private next = 0;
  /** Bumped on every add, so a reader can tell whether anything changed. */
  version = 0;

  constructor(private readonly capacity = 256) {}

  add(at: number, route: string, method: string, ms: number): void {
    const entry = { at, route, method, ms };
    if (this.entries.length < this.capacity) this.entries.push(entry);
    else this.entries[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
    this.version++;
  }

  /** Blocked time per (route, method) delivered in (now − windowMs, now], largest first. */
  totals(now: number, windowMs: number): Blame[] {
    const byKey = new Map<string, { route: string; method: string; ms: number }>();
    for (const e of this.entries) {
      if (now - e.at >= windowMs || e.at > now) continue;
      const key = `${e.method} ${e.route}`;
      const t = byKey.get(key);
      if (t === undefined) byKey.set(key, { route: e.route, method: e.method, ms: e.ms });
      else t.ms += e.ms;
    }
    return [...byKey.values()].sort((a, b) => b.ms - a.ms);
  }

  clear(): void {
    this.entries.length = 0;
    this.next = 0;
    this.version++;
  }
}

/**
 * The fewest routes, largest first and at most `max`, that together caused
 * CULPRIT_COVERAGE of the recent blocked time.
 *
 * A route is chosen only if its requests cost, on average, at least
 * `minCostMs` of blocked time each (blamed time ÷ its recent requests).
 * Shedding a route saves what its requests cost: a busy fast route that a
 * stall was pinned on once (CPU preemption caught it mid-handler) costs a
 * fraction of a millisecond per request, and shedding it would turn away most
 * traffic for nothing. Sentinel labels (`(overflow)`, `(unmatched)`) count
 * toward the total but cannot be shed by path, so they are never chosen.
 */
export function selectCulprits(
  totals: readonly Blame[],
  max: number,
  minCostMs = 0,
  recentRequests: (route: string, method: string) => number = () => 1,
): Blame[] {
  let total = 0;
  for (const t of totals) total += t.ms;
  const chosen: Blame[] = [];
  if (total <= 0) return chosen;
  let covered = 0;
  for (const t of totals) {
    if (chosen.length >= max || covered >= CULPRIT_COVERAGE * total) break;
    if (t.route.charCodeAt(0) === 40 /* ( */) continue;
    if (minCostMs > 0 && t.ms / Math.max(1, recentRequests(t.route, t.method)) < minCostMs) continue;
    chosen.push(t);
    covered += t.ms;
  }
  return chosen;
}
