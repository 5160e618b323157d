import type { Advice } from '../contract/advice';
import { DELAY_BUCKETS_SECONDS } from '../catalogue';
import type { DelayPercentiles } from './loop-stats';
import type { ThreadPoolDelay } from './thread-pool';
import type { WorkerPoolFigures } from './worker-pools';
import { busySummary, type BusySummary } from '../busy/summary';
import type { BusyTime } from '../busy/busy-time';
import { quantileFromBuckets } from '../core/quantile';
import type { RouteTable } from '../core/routes';
import type { StallCause, StallReport } from '../core/stall-report';
import type { StackFrame } from '../contract/frames';
import type { StallStats } from './stall-stats';
import type { ThreadSecondsState } from '../core/stall-state';

export interface CulpritSummary {
  /** The loop it held: `main`, or a worker thread's label. */
  thread: string;
  /** A route template, a sentinel such as `(background)`, or a pool task's name (`cause: 'task'`). */
  route: string;
  method: string;
  cause: StallCause;
  stalls: number;
  /** Of `stalls`, those in work the route left behind after answering (`afterResponse` reports). */
  afterResponseStalls: number;
  blockedSeconds: number;
  topFrame: StackFrame | null;
  /** The latest advice for this culprit's stalls, or null. */
  advice: Advice | null;
  lastStallAt: number;
}

export interface RouteSummary {
  route: string;
  method: string;
  requests: number;
  /** Loop delay the route's requests waited through (victim side). */
  delayP99Ms: number;
  delayMeanMs: number;
}

/**
 * What `snapshot()` adds beside the core fields: collectors declare theirs by
 * declaration merging and register a reader (`GuardContext.snapshotSection`):
 *
 *   declare module '../collectors/snapshot' {
 *     interface SnapshotSections { shedding: ShedStatus | null }
 *   }
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface SnapshotSections {}

export interface LoopGuardSnapshot extends CoreSnapshot, SnapshotSections {}

export interface CoreSnapshot {
  at: number;
  thresholdMs: number;
  eventLoop: { delay: DelayPercentiles; utilization: number; blockedMs: number };
  requestsInFlight: number;
  stallsTotal: number;
  /**
   * Stalled seconds by what the loop's thread was doing (docs/stall-state.md):
   * `cpu`, `parked`, `gc`, `host` (waiting for a CPU another task held),
   * `throttled` (the CPU quota ran out), `unknown` (not measured).
   */
  stallThreadSeconds: Record<ThreadSecondsState, number>;
  /** Culprits by blocked time, largest first. */
  culprits: CulpritSummary[];
  /** Per route victim-side delay, worst p99 first. */
  routes: RouteSummary[];
  recentStalls: StallReport[];
  watchdogRunning: boolean;
  /** Where work moved off the loop waits: libuv's pool (delay null when the probe is off) and the watched worker pools. */
  threadPool: { size: number; delay: ThreadPoolDelay | null; workerPools: WorkerPoolFigures[] };
  /** Each culprit's share of the loop's busy time (sampled), with 95 % intervals; null when `busySampleHz` is 0. */
  busy: BusySummary | null;
}

export interface SnapshotSource {
  readonly options: { thresholdMs: number };
  readonly routes: Pick<RouteTable, 'all'>;
  readonly stalls: StallStats;
  readonly requestsInFlight: number;
  readonly loop: { utilization: number; percentiles(): DelayPercentiles };
  readonly watchdogRunning: boolean;
  readonly threadPool: { readonly size: number; readonly probing: boolean; delay(): ThreadPoolDelay };
  readonly busy: Pick<BusyTime, 'totals' | 'shares' | 'sampleHz'> | undefined;
  workerPools(): WorkerPoolFigures[];
  blockedForMs(): number;
}

export function buildSnapshot(source: SnapshotSource): CoreSnapshot {
  const culprits: CulpritSummary[] = [];
  for (const c of source.stalls.all()) {
    culprits.push({
      thread: c.thread,
      route: c.route,
      method: c.method,
      cause: c.cause,
      stalls: c.count,
      afterResponseStalls: c.afterResponse,
      blockedSeconds: round(c.seconds, 3),
      topFrame: c.topFrame ?? null,
      advice: c.advice,
      lastStallAt: c.lastAt,
    });
  }
  culprits.sort((a, b) => b.blockedSeconds - a.blockedSeconds);
  const routes: RouteSummary[] = [];
  for (const r of source.routes.all()) {
    const h = r.delay;
    routes.push({
      route: r.route,
      method: r.method,
      requests: r.requests,
      delayP99Ms: round(quantileFromBuckets(0.99, DELAY_BUCKETS_SECONDS, h.counts) * 1000, 2),
      delayMeanMs: h.count === 0 ? 0 : round((h.sum / h.count) * 1000, 2),
    });
  }
  routes.sort((a, b) => b.delayP99Ms - a.delayP99Ms);
  return {
    at: Date.now(),
    thresholdMs: source.options.thresholdMs,
    eventLoop: {
      delay: source.loop.percentiles(),
      utilization: round(source.loop.utilization, 4),
      blockedMs: round(source.blockedForMs(), 1),
    },
    requestsInFlight: source.requestsInFlight,
    stallsTotal: source.stalls.total,
    stallThreadSeconds: Object.fromEntries(Object.entries(source.stalls.threadSeconds).map(([state, seconds]) => [state, round(seconds, 3)])) as Record<
      ThreadSecondsState,
      number
    >,
    culprits,
    routes,
    recentStalls: [...source.stalls.recent()],
    watchdogRunning: source.watchdogRunning,
    busy: source.busy ? busySummary(source.busy) : null,
    threadPool: {
      size: source.threadPool.size,
      delay: source.threadPool.probing ? source.threadPool.delay() : null,
      workerPools: source.workerPools(),
    },
  };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
