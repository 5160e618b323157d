import type { Blame } from './culprits';

/** A culprit's recent share of the loop's busy time, as the busy-time estimate gives it. */
export interface BusyShareLike {
  readonly key: { readonly route: string; readonly method: string; readonly cause: string };
  readonly share: number;
}

/**
 * Culprit blame from sampled busy time, for a loop saturated by many short
 * callbacks with no stall to blame: each route's share of the busy time over
 * the window, as milliseconds of it. Only request code can be shed: the
 * loop's own work and expected blocking are left out, as they are for stalls.
 */
export function busyBlame(shares: readonly BusyShareLike[], busyMs: number): Blame[] {
  const out: Blame[] = [];
  for (const s of shares) {
    if (s.key.cause !== 'request' || !(s.share > 0)) continue;
    out.push({ route: s.key.route, method: s.key.method, ms: s.share * busyMs });
  }
  return out.sort((a, b) => b.ms - a.ms);
}
