import { performance } from 'node:perf_hooks';
import { ROUTE_BACKGROUND } from '../catalogue';
import { inExpectedCode } from '../core/expected';
import { requestStore } from '../core/request-context';
import type { RouteStats, RouteTable } from '../core/routes';
import { BusyEstimator, type BusyShare, type BusyTotal } from './estimator';
import { addBusySink, removeBusySink } from './probe';

/** The labels busy time is counted under: the same as `stall_seconds_total`'s. */
export interface BusyKey {
  readonly route: string;
  readonly method: string;
  readonly cause: 'request' | 'background' | 'expected';
}

/** Fold at most this often, so that most intervals hold samples of their own. */
const MIN_FOLD_MS = 1000;

/**
 * One guard's busy time: receives the probe's samples on the main thread
 * (inside the interrupt: small work, never throws), resolves them to route
 * labels, and folds them with ELU deltas into the estimator when read.
 * Owns no timer: exporters, the snapshot and shedding read it.
 */
export class BusyTime {
  /** The id the watchdog passes to the busy probe. */
  readonly sinkId: number;
  /** Shared with the worker's sampler: the samples it found idle without asking this thread. */
  readonly idleCount = new SharedArrayBuffer(4);
  private readonly idleAtAsk = new Int32Array(this.idleCount);
  private readonly estimator = new BusyEstimator<BusyKey>();
  private readonly keys = new Map<RouteStats, BusyKey>();
  private readonly expectedKeys = new Map<RouteStats, BusyKey>();
  private readonly background: BusyKey = { route: ROUTE_BACKGROUND, method: '', cause: 'background' };
  private readonly expectedBackground: BusyKey = { route: ROUTE_BACKGROUND, method: '', cause: 'expected' };
  private mark = performance.eventLoopUtilization();
  private foldedAt = performance.now();
  private closed = false;

  constructor(
    private readonly routes: RouteTable,
    /** The request tracker whose records count here (another guard's do not). */
    private readonly owner: unknown,
    /** Mean samples a second while the loop is busy. */
    readonly sampleHz: number,
    /** `expectedBlockingRoutes` as a test: their time is counted with cause `expected`, as their stalls are. */
    private readonly expectedRoute: ((route: string) => boolean) | undefined,
  ) {
    // The loop's own work exists from the start: its series does too.
    this.estimator.declare(this.background);
    this.sinkId = addBusySink({ busy: () => this.sampleBusy(), idle: () => this.estimator.recordIdle() });
  }

  /** A request sampled before its route was known finished with route stats `stats`. */
  resolved(stats: RouteStats, samples: number): void {
    this.estimator.record(this.keyFor(stats), samples);
  }

  /** Cumulative busy seconds by label; folds the interval since the last read first. */
  totals(): BusyTotal<BusyKey>[] {
    this.refresh();
    return [...this.estimator.totals()];
  }

  /** Each label's share of busy time over the last one to two minutes, with 95 % intervals. */
  shares(): { busySamples: number; idleSamples: number; shares: BusyShare<BusyKey>[] } {
    this.refresh();
    return { ...this.estimator.shares(), idleSamples: this.estimator.idleSamples + Atomics.load(this.idleAtAsk, 0) };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    removeBusySink(this.sinkId);
  }

  private sampleBusy(): void {
    const record = requestStore.getStore();
    const expected = inExpectedCode();
    // No request context, or another guard's: the loop's own work (timers, startup, GC triggered there).
    if (record === undefined || record.owner !== this.owner) {
      this.estimator.record(expected ? this.expectedBackground : this.background);
      return;
    }
    if (record.finished) {
      // Work a request left behind is its route's for a bounded time, as for stalls (blameAfterResponseMs).
      const blamed = record.finalRoute !== null && performance.now() - record.finishedAt <= record.owner.blameAfterResponseMs;
      if (!blamed) this.estimator.record(expected ? this.expectedBackground : this.background);
      else this.estimator.record(this.keyFor(this.routes.stats(record.finalRoute!, record.method), expected));
      return;
    }
    let route: string | null = null;
    try {
      route = record.routeOf(record.req);
    } catch {
      // Not readable yet: resolved when the request finishes.
    }
    // Before routing (body parsing, middleware): counted under the final route at finish.
    if (route === null) record.busySamples++;
    else this.estimator.record(this.keyFor(this.routes.stats(route, record.method), expected));
  }

  private keyFor(stats: RouteStats, insideExpectBlocking = false): BusyKey {
    const keys = insideExpectBlocking ? this.expectedKeys : this.keys;
    let key = keys.get(stats);
    if (key === undefined) {
      const expected = insideExpectBlocking || this.expectedRoute?.(stats.route) === true;
      key = { route: stats.route, method: stats.method, cause: expected ? 'expected' : 'request' };
      keys.set(stats, key);
    }
    return key;
  }

  private refresh(): void {
    const now = performance.now();
    if (now - this.foldedAt < MIN_FOLD_MS) return;
    const mark = performance.eventLoopUtilization();
    const activeMs = mark.active - this.mark.active;
    this.mark = mark;
    this.foldedAt = now;
    this.estimator.fold(activeMs / 1000, now);
  }
}
