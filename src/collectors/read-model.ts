/**
 * What a consumer (an exporter, a view, load shedding) gets: a read model of
 * the guard's cumulative state, observers to attach, and a way to report
 * problems and emit events. Consumers read the model on their own schedule
 * (collect time, a page poll); the kernel and the collectors below know
 * nothing of who they are. The composition (src/compose.ts) builds both.
 */
import type { Histogram } from '../core/histogram';
import type { KernelOptions } from '../core/kernel-options';
import type { GuardObserver, RequestObserver } from '../core/observers';
import type { RouteStats } from '../core/routes';
import type { LoopGuardEvents } from '../core/events';
import type { BusyTime } from '../busy/busy-time';
import type { DelayPercentiles } from './loop-stats';
import type { SnapshotSections } from './snapshot';
import type { StallStats } from './stall-stats';
import type { ThreadPoolStats } from './thread-pool';
import type { WorkerPoolFigures } from './worker-pools';
import type { ThreadRow } from './threads';

/** Requests answered 503 by load shedding, for one (route label, reason). */
export interface ShedCounter {
  readonly route: string;
  readonly reason: string;
  count: number;
}

export interface GuardReadModel {
  /** The kernel's options (thresholds, heartbeat period). */
  readonly options: KernelOptions;
  /** Heartbeat delay samples, seconds, since start. */
  readonly delayHistogram: Histogram;
  /** Per (route template, method) request counts and delay histograms; bounded by `maxRoutes`. */
  readonly routes: { all(): IterableIterator<RouteStats>; readonly size: number };
  /** Stall totals by culprit, duration histograms by cause, recent reports. */
  readonly stalls: StallStats;
  readonly loop: { readonly utilization: number; percentiles(): DelayPercentiles };
  /** Written by load shedding (shed/), keyed `route\0reason`; read by the exporters. */
  readonly shedTotals: ReadonlyMap<string, ShedCounter>;
  /** libuv's pool: its size, and the probe's delay histogram (in shared memory, written by the watchdog) when `probing`. */
  readonly threadPool: Pick<ThreadPoolStats, 'size' | 'probing' | 'histogram' | 'delay'>;
  /** Sampled busy time by route (totals for the counters, recent shares); undefined when `busySampleHz` is 0. */
  readonly busy: Pick<BusyTime, 'totals' | 'shares' | 'sampleHz'> | undefined;
  /** The figures of the worker pools watched with `watchPool()`, read from them now. */
  workerPools(): WorkerPoolFigures[];
  /** Watched worker threads by `thread` label (the main thread not included): loop delay, ELU since the last read. */
  threads(): ThreadRow[];
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
