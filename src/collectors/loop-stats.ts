import {
  createHistogram,
  performance,
  type EventLoopUtilization,
  type RecordableHistogram,
} from 'node:perf_hooks';

export interface DelayPercentiles {
  minMs: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

const ELU_INTERVAL_MS = 1000;
const PERCENTILE_WINDOW_MS = 10_000;

/**
 * The loop's vital signs, fed by the heartbeat's beats: interval ELU
 * (deltas, never cumulative) and loop-delay percentiles over a rolling window.
 */
export class LoopStats {
  /** ELU over the last completed interval (0..1). */
  utilization = 0;
  private eluMark: EventLoopUtilization = performance.eventLoopUtilization();
  private eluAt = performance.now();
  /**
   * The heartbeat's own lateness samples: a monitorEventLoopDelay timer
   * would add ~20 wake-ups a second. Not `samplePerIteration` (Node >= 24.19 /
   * 26.5) either: it times the loop outside its poll phase, and the poll
   * phase is where request handlers run (bench/diag/per-iteration-delay.mjs:
   * a 60 ms block in an I/O callback reads as ~1 ms on 24.21 and 26.10).
   */
  private readonly delay: RecordableHistogram = createHistogram();
  private previous: DelayPercentiles | undefined;
  private windowStartedAt = performance.now();

  /** Called from the heartbeat with its lateness; does real work about once a second. */
  update(lateMs: number, now = performance.now()): void {
    this.delay.record(Math.max(1, Math.round(lateMs * 1e6)));
    if (now - this.eluAt >= ELU_INTERVAL_MS) {
      const mark = performance.eventLoopUtilization();
      const delta = performance.eventLoopUtilization(mark, this.eluMark);
      this.utilization = Number.isFinite(delta.utilization) ? delta.utilization : 0;
      this.eluMark = mark;
      this.eluAt = now;
    }
    if (now - this.windowStartedAt >= PERCENTILE_WINDOW_MS) {
      this.previous = this.readDelay();
      this.delay.reset();
      this.windowStartedAt = now;
    }
  }

  /** Percentiles over the current window, or the last full one when the current one is nearly empty. */
  percentiles(): DelayPercentiles {
    const current = this.readDelay();
    return this.delay.count < 10 && this.previous ? this.previous : current;
  }

  private readDelay(): DelayPercentiles {
    const h = this.delay;
    if (h.count === 0) return { minMs: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0 };
    // Lateness is delay already: nothing to subtract (a timer-based monitor would need its resolution taken off).
    const ms = (ns: number): number => (Number.isFinite(ns) ? Math.max(0, ns / 1e6) : 0);
    return {
      minMs: ms(h.min),
      meanMs: ms(h.mean),
      p50Ms: ms(h.percentile(50)),
      p90Ms: ms(h.percentile(90)),
      p99Ms: ms(h.percentile(99)),
      maxMs: ms(h.max),
    };
  }
}
