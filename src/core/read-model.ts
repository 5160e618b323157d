/**
 * What a collector (an exporter, a view, load shedding) gets from the guard:
 * a read model of its cumulative state, observers to attach, and a way to
 * report problems and emit events. Collectors read the model on their own
 * schedule (collect time, a page poll); nothing in core knows who they are.
 */
import type { ResolvedOptions } from '../options';
import type { DelayPercentiles } from '../collectors/loop-stats';
import type { ThreadPoolStats } from '../collectors/thread-pool';
import type { BusyTime } from '../busy/busy-time';
import type { WorkerPoolFigures } from '../collectors/worker-pools';
import type { LoopGuardEvents } from './events';
import type { Histogram } from './histogram';
import type { GuardObserver, RequestObserver } from './observers';
import type { RouteStats } from './routes';
import type { SnapshotSections } from '../collectors/snapshot';
import type { StallStats } from '../collectors/stall-stats';

/** Requests answered 503 by load shedding, for one (route label, reason). */
export interface ShedCounter {
  readonly route: string;
  readonly reason: string;
  count: number;
}

export interface GuardReadModel {
  readonly options: ResolvedOptions;
  /** Heartbeat delay samples, seconds, since start. */
  readonly delayHistogram: Histogram;
  /** Per (route template, method) request counts and delay histograms; bounded by `maxRoutes`. */
  readonly routes: { all(): IterableIterator<RouteStats>; readonly size: number };
  /** Stall totals by culprit, duration histograms by cause, recent reports. */
  readonly stalls: StallStats;
  readonly loop: { readonly utilization: number; percentiles(): DelayPercentiles };
  /** Written by load shedding, keyed `route\0reason`; read by the exporters. */
  readonly shedTotals: Map<string, ShedCounter>;
  /** libuv's pool: its size, and the probe's delay histogram (in shared memory, written by the watchdog) when `probing`. */
  readonly threadPool: Pick<ThreadPoolStats, 'size' | 'probing' | 'histogram' | 'delay'>;
  /** Sampled busy time by route (totals for the counters, recent shares); undefined when `busySampleHz` is 0. */
  readonly busy: Pick<BusyTime, 'totals' | 'shares' | 'sampleHz'> | undefined;
  /** The figures of the worker pools watched with `watchPool()`, read from them now. */
  workerPools(): WorkerPoolFigures[];
  readonly requestsInFlight: number;
  readonly watchdogRunning: boolean;
  readonly isClosed: boolean;
  /** How long the loop has been blocked right now, ms. */
  blockedForMs(): number;
  /** Inside `startupGraceMs`: stalls are not reported, nothing is shed. */
  inStartupGrace(): boolean;
}

export interface GuardContext {
  readonly model: GuardReadModel;
  /** Follow the heartbeat and the stall pipeline; returns the detach function. */
  observe(observer: GuardObserver): () => void;
  /** Follow every request (the hot path: keep it O(1)); returns the detach function. */
  observeRequests(observer: RequestObserver): () => void;
  /** Adds a field to `snapshot()` (declare it in `SnapshotSections`). */
  snapshotSection<K extends keyof SnapshotSections>(key: K, read: () => SnapshotSections[K]): void;
  /** Emits a guard event; a listener that throws is reported, never thrown back. */
  emit<K extends keyof LoopGuardEvents>(event: K, ...args: LoopGuardEvents[K]): void;
  /** Reports a runtime problem once per distinct message; never throws. */
  reportError(err: unknown): void;
}

/** A plugged-in part: closed with the guard. */
export interface Collector {
  close(): void;
}
