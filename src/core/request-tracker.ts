import { ROUTE_UNMATCHED } from '../catalogue';
import type { RequestRecord, RouteResolver } from './request-context';
import type { RequestObserver } from './observers';
import { blockingHistogram, type RouteStats, type RouteTable } from './routes';

/** The parts of the guard a tracker needs; kept narrow so the tracker stays testable. */
export interface TrackerClock {
  /** Cumulative loop delay in ms, including the lateness building up right now. */
  delayClockMs(): number;
  /** The same at `now` (performance.now()), for a caller that needs the time too: one clock read. */
  delayClockAt(now: number): number;
  /** Cumulative loop delay in ms, without the lateness of the window in progress. */
  settledDelayMs(): number;
  /** The heartbeat window in progress. */
  readonly window: number;
  /** True while the heartbeat runs at its idle pace; `wake()` brings the busy pace back. */
  readonly idle: boolean;
  wake(): void;
}

export interface FinishedRequest {
  readonly record: RequestRecord;
  readonly route: string;
}

/**
 * Begins and finishes requests: the in-flight count, each request's victim
 * delay (difference of the delay clock, O(1)) and, in precise mode, its own
 * synchronous time. Everything here runs per request: no allocation beyond
 * the record itself.
 */
export class RequestTracker {
  inFlight = 0;
  /** A request that waited at least this long (ms) was a victim of a stall. */
  victimThresholdMs = Infinity;
  /** Work left behind in a finished request's context is blamed on its route this long after the response (ms). */
  blameAfterResponseMs = 0;
  /** Victims that finished since the last heartbeat: they no longer count as in flight when the stall is measured. */
  finishedVictims = 0;
  /** Every attached request observer as one (see observers.ts); undefined costs one check per request. */
  observer: RequestObserver | undefined = undefined;
  /** Busy-time samples taken before routing, handed over under the final route (off the hot path: rare). */
  busyResolved: ((stats: RouteStats, samples: number) => void) | undefined = undefined;
  private nextId = 1;
  /** Stall time (ms) already attributed to a request still in flight, by request id. */
  private readonly ownStallMs = new Map<number, number>();

  constructor(
    private readonly routes: RouteTable,
    private readonly clock: TrackerClock,
    private readonly precise: boolean,
    private readonly onCulpritFinished: (finished: FinishedRequest) => void,
  ) {}

  begin(req: unknown, method: string, routeOf: RouteResolver): RequestRecord {
    const clock = this.clock;
    // The first request after a quiet spell: the heartbeat and the watchdog back to the busy pace.
    if (clock.idle) clock.wake();
    this.inFlight++;
    const id = this.nextId++;
    if (this.nextId > 0x7fffffff) this.nextId = 1;
    return {
      id,
      method,
      req,
      routeOf,
      startDelayMs: clock.delayClockMs(),
      capturedWindow: 0,
      blockingMs: 0,
      busySamples: 0,
      finished: false,
      finishedAt: 0,
      finalRoute: null,
      span: this.observer === undefined ? undefined : this.observer.begin(),
      owner: this,
    };
  }

  finish(record: RequestRecord): void {
    if (record.finished) return;
    record.finished = true;
    this.inFlight--;
    let route: string | null = null;
    try {
      // Outside any interrupt: the resolver may walk the framework's router and cache what it finds.
      route = record.routeOf(record.req, true);
    } catch {
      // A broken route resolver must not lose the request's numbers.
    }
    const template = route ?? ROUTE_UNMATCHED;
    const stats = this.routes.stats(template, record.method);
    stats.requests++;
    const now = performance.now();
    let endDelayMs = this.clock.delayClockAt(now);
    if (record.capturedWindow !== 0) {
      // This request was the culprit of a stall: the time it held the loop is
      // its own doing, not delay it waited through.
      if (record.capturedWindow === this.clock.window) endDelayMs = this.clock.settledDelayMs();
      const own = this.ownStallMs.get(record.id);
      if (own !== undefined) {
        endDelayMs -= own;
        this.ownStallMs.delete(record.id);
      }
    }
    const waitedMs = Math.max(0, endDelayMs - record.startDelayMs);
    if (waitedMs >= this.victimThresholdMs && record.capturedWindow === 0) this.finishedVictims++;
    stats.delay.record(waitedMs / 1000);
    if (this.precise) blockingHistogram(stats).record(record.blockingMs / 1000);
    if (record.busySamples !== 0) this.busyResolved?.(stats, record.busySamples);
    if (this.observer !== undefined) this.observer.finished(record, stats, waitedMs);
    record.span = undefined;
    record.req = null;
    record.finishedAt = now;
    record.finalRoute = template;
    if (record.capturedWindow !== 0) this.onCulpritFinished({ record, route: template });
  }

  /** A request answered by load shedding before its framework saw it: gone, never counted. */
  discard(record: RequestRecord): void {
    if (record.finished) return;
    record.finished = true;
    this.inFlight--;
    record.span = undefined;
    record.req = null;
  }

  /** Called by the probe while the main thread is paused: never throw back into it. */
  captured(record: RequestRecord): void {
    try {
      this.observer?.captured(record);
    } catch {
      // A failing observer must not cost the capture its request.
    }
  }

  /**
   * Whether the request was accepted when the loop was already late by at
   * least half the threshold: then it came in after the stall began (it waited
   * in the backlog or in the same poll batch) and is a victim, not the culprit.
   * A request accepted in an earlier window began before <= 0.
   */
  arrivedDuringStall(record: RequestRecord): boolean {
    return record.startDelayMs - this.clock.settledDelayMs() >= this.victimThresholdMs / 2;
  }

  /** The heartbeat window in progress (the probe marks culprits with it). */
  get window(): number {
    return this.clock.window;
  }

  /** A finalised stall blamed a request that is still in flight. */
  chargeStall(requestId: number, durationMs: number): void {
    this.ownStallMs.set(requestId, (this.ownStallMs.get(requestId) ?? 0) + durationMs);
  }
}
