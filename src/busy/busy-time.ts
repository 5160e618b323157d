import { performance } from 'node:perf_hooks';
import { ROUTE_BACKGROUND, ROUTE_GC } from '../catalogue';
import { BUSY_SHARED_BYTES, busySharedViews } from '../contract/probe';
import { inExpectedCode } from '../core/expected';
import { requestStore } from '../core/request-context';
import type { RouteStats, RouteTable } from '../core/routes';
import type { GcPause } from '../core/gc-pauses';
import { BusyEstimator, type BusyShare, type BusyTotal } from './estimator';
import { addBusySink, removeBusySink } from './probe';

/** The labels busy time is counted under: the same as `stall_seconds_total`'s. */
export interface BusyKey {
  readonly route: string;
  readonly method: string;
  readonly cause: 'request' | 'background' | 'expected' | 'gc';
}

/** A GC pause on the main thread, epoch ms. */
/** Fold at most this often, so that most intervals hold samples of their own. */
const MIN_FOLD_MS = 1000;
/**
 * Samples wait for the GC check at most this many at a time: GC entries
 * reach the observer after the pause, and only the most recent pauses are
 * kept (64), so samples are checked in small batches, not only when read.
 */
const MAX_PENDING = 16;

/**
 * One guard's busy time: receives the probe's samples on the main thread
 * (inside the interrupt: small work, never throws), resolves them to route
 * labels, and folds them with ELU deltas into the estimator when read.
 * Owns no timer: exporters, the snapshot and shedding read it.
 */
export class BusyTime {
  /** The id the watchdog passes to the busy probe. */
  readonly sinkId: number;
  /** Shared with the worker's sampler: the samples it found idle without asking, the pending sample's ask time. */
  readonly shared = new SharedArrayBuffer(BUSY_SHARED_BYTES);
  private readonly views = busySharedViews(this.shared);
  /** Samples that landed, with when they were asked for, until checked against GC pauses. */
  private readonly pendingKeys: BusyKey[] = [];
  private readonly pendingAskedAt: number[] = [];
  private readonly estimator = new BusyEstimator<BusyKey>();
  private readonly keys = new Map<RouteStats, BusyKey>();
  private readonly expectedKeys = new Map<RouteStats, BusyKey>();
  private readonly background: BusyKey = { route: ROUTE_BACKGROUND, method: '', cause: 'background' };
  private readonly expectedBackground: BusyKey = { route: ROUTE_BACKGROUND, method: '', cause: 'expected' };
  private readonly gc: BusyKey = { route: ROUTE_GC, method: '', cause: 'gc' };
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
    /** Recent GC pauses on this thread (the guard's observer); none: no GC check. */
    private readonly gcPauses: () => readonly GcPause[] = () => [],
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
    return { ...this.estimator.shares(), idleSamples: this.estimator.idleSamples + Atomics.load(this.views.idleCount, 0) };
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
      this.landed(expected ? this.expectedBackground : this.background);
      return;
    }
    if (record.finished) {
      // Work a request left behind is its route's for a bounded time, as for stalls (blameAfterResponseMs).
      const blamed = record.finalRoute !== null && performance.now() - record.finishedAt <= record.owner.blameAfterResponseMs;
      if (!blamed) this.landed(expected ? this.expectedBackground : this.background);
      else this.landed(this.keyFor(this.routes.stats(record.finalRoute!, record.method), expected));
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
    else this.landed(this.keyFor(this.routes.stats(route, record.method), expected));
  }

  /**
   * A sample asked for during a GC pause lands after it, in whatever code
   * runs next: it is GC's. GC entries reach the observer only after the
   * pause, so samples wait for the check in a small batch.
   */
  private landed(key: BusyKey): void {
    this.pendingKeys.push(key);
    this.pendingAskedAt.push(this.views.askedAt[0]!);
    if (this.pendingKeys.length >= MAX_PENDING) this.checkGc();
  }

  private checkGc(): void {
    if (this.pendingKeys.length === 0) return;
    const pauses = this.gcPauses();
    for (let i = 0; i < this.pendingKeys.length; i++) {
      const at = this.pendingAskedAt[i]!;
      let inGc = false;
      for (const p of pauses) {
        if (p.start <= at && at <= p.end) {
          inGc = true;
          break;
        }
      }
      this.estimator.record(inGc ? this.gc : this.pendingKeys[i]!);
    }
    this.pendingKeys.length = 0;
    this.pendingAskedAt.length = 0;
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
    this.checkGc();
    const now = performance.now();
    if (now - this.foldedAt < MIN_FOLD_MS) return;
    const mark = performance.eventLoopUtilization();
    const activeMs = mark.active - this.mark.active;
    this.mark = mark;
    this.foldedAt = now;
    this.estimator.fold(activeMs / 1000, now);
  }
}
