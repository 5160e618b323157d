/**
 * Collectors (exporters, views, shedding) follow the guard through observers;
 * any number may be attached. Two kinds, by how often they are called:
 * - `GuardObserver`: the heartbeat and the stall pipeline, a few dozen times a
 *   second at most, so the list is simply walked.
 * - `RequestObserver`: every request. The tracker reads one field per request;
 *   `RequestObservers.current` is that field: undefined with none attached
 *   (one check per request), the observer itself with one, a fan-out beyond.
 */
import type { CaptureSample } from '../contract/messages';
import type { RequestRecord } from './request-context';
import type { RouteStats } from './routes';
import type { StallReport } from './stall-report';

/** Follows the heartbeat and the stall pipeline. Every method is optional. */
export interface GuardObserver {
  /** Each heartbeat, after the loop stats were updated: how late it ran, ms. */
  beat?(lateMs: number): void;
  /** A report blaming request `requestId`, as soon as it is made (its route may still be unknown). */
  culprit?(requestId: number, report: StallReport): void;
  /** A report delivered (counted, about to be emitted), with the route label the metrics use. */
  stall?(report: StallReport, routeLabel: string): void;
  /** The watchdog's samples of one capture have been used, whether or not they made a stall. */
  samplesUsed?(samples: readonly CaptureSample[]): void;
}

/**
 * Follows requests for a collector that needs more than cumulative state
 * (OpenTelemetry histograms take samples one by one; span events need the
 * request's span). Called on the request path: implementations stay O(1) and never throw.
 */
export interface RequestObserver {
  /**
   * At begin: what to keep on the record as its span (undefined when not
   * tracing, or when the record opens before its span exists: at node:http's
   * start channel, before the tracing instrumentation runs).
   */
  begin(): unknown;
  /**
   * The watchdog caught this request holding the loop; runs while the main
   * thread is paused, in the request's own execution context (its span, if
   * the record has none yet, can be read there).
   */
  captured(record: RequestRecord): void;
  /** At finish: the request's route stats and the loop delay it waited through, ms. */
  finished(record: RequestRecord, stats: RouteStats, waitedMs: number): void;
}

export class GuardObservers {
  private list: readonly GuardObserver[] = [];

  constructor(private readonly reportError: (err: unknown) => void) {}

  /** Attaches an observer; returns its detach function. */
  add(observer: GuardObserver): () => void {
    this.list = [...this.list, observer];
    return () => {
      this.list = this.list.filter((o) => o !== observer);
    };
  }

  beat(lateMs: number): void {
    this.call('beat', lateMs);
  }

  culprit(requestId: number, report: StallReport): void {
    this.call('culprit', requestId, report);
  }

  stall(report: StallReport, routeLabel: string): void {
    this.call('stall', report, routeLabel);
  }

  samplesUsed(samples: readonly CaptureSample[]): void {
    this.call('samplesUsed', samples);
  }

  /**
   * Calls one method of every observer that has it. The array is replaced,
   * never mutated, so an observer detaching during a walk is safe. One that
   * throws is reported and does not stop the others.
   */
  private call<K extends keyof GuardObserver>(method: K, ...args: Parameters<NonNullable<GuardObserver[K]>>): void {
    for (const observer of this.list) {
      const fn = observer[method] as ((...a: typeof args) => void) | undefined;
      if (fn === undefined) continue;
      try {
        fn.apply(observer, args);
      } catch (err) {
        this.reportError(err);
      }
    }
  }
}

export class RequestObservers {
  private list: readonly RequestObserver[] = [];
  /** What the tracker calls per request. */
  current: RequestObserver | undefined = undefined;

  constructor(private readonly changed: (current: RequestObserver | undefined) => void) {}

  add(observer: RequestObserver): () => void {
    this.set([...this.list, observer]);
    return () => this.set(this.list.filter((o) => o !== observer));
  }

  private set(list: readonly RequestObserver[]): void {
    this.list = list;
    this.current = list.length === 0 ? undefined : list.length === 1 ? list[0] : fanOut(list);
    this.changed(this.current);
  }
}

/** Several request observers as one. The first span any of them returns is the record's span. */
function fanOut(list: readonly RequestObserver[]): RequestObserver {
  return {
    begin() {
      let span: unknown;
      for (const o of list) {
        try {
          const s = o.begin();
          if (span === undefined) span = s;
        } catch {
          // Per request: never throw into the app; the observer reports its own problems.
        }
      }
      return span;
    },
    captured(record) {
      for (const o of list) {
        try {
          o.captured(record);
        } catch {
          // Runs while the main thread is paused: nothing may escape.
        }
      }
    },
    finished(record, stats, waitedMs) {
      for (const o of list) {
        try {
          o.finished(record, stats, waitedMs);
        } catch {
          // As above: one failing observer must not cost the others their sample.
        }
      }
    },
  };
}
