import { DELAY_BUCKETS_SECONDS } from '../catalogue';
import { quantileFromBuckets } from '../core/quantile';

/** One second of the loop's life, as the live page charts it. */
export interface HistoryPoint {
  /** Epoch ms at the end of the interval. */
  t: number;
  /** Loop delay p99 over the interval (bucket estimate capped at the samples' sum), ms. */
  p99Ms: number;
  meanMs: number;
  /** Event-loop utilization over the last interval (0..1). */
  elu: number;
  /** Stalls reported during the interval. */
  stalls: number;
}

/** The cumulative guard state a history point is the difference of. */
export interface HistorySource {
  readonly delayHistogram: { readonly counts: ArrayLike<number>; readonly sum: number; readonly count: number };
  readonly loop: { readonly utilization: number };
  readonly stalls: { readonly total: number };
  readonly isClosed: boolean;
}

const INTERVAL_MS = 1000;
/** Intervals kept bucket by bucket for the rolling-window figures. */
const WINDOW_INTERVALS = 10;

/** Loop delay over the last few seconds, from the same heartbeat histogram Prometheus exports. */
export interface WindowDelay {
  seconds: number;
  p99Ms: number;
  meanMs: number;
}

/**
 * A ring of per-second points built from deltas of the guard's cumulative
 * histograms, so the chart shows what happened in each second rather than
 * a rolling window that smears a stall over the next ten.
 */
export class LoopHistory {
  private readonly points: HistoryPoint[] = [];
  /** Per-interval bucket deltas, sum and count of the last WINDOW_INTERVALS intervals. */
  private readonly recentDeltas: { counts: Float64Array; sum: number; count: number }[] = [];
  private lastCounts: Float64Array;
  private lastSum: number;
  private lastCount: number;
  private lastStalls: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: HistorySource,
    private readonly capacity: number,
  ) {
    this.lastCounts = Float64Array.from(source.delayHistogram.counts);
    this.lastSum = source.delayHistogram.sum;
    this.lastCount = source.delayHistogram.count;
    this.lastStalls = source.stalls.total;
  }

  /** Samples once a second until the guard closes; unref'd, so it never keeps the process alive. */
  start(): this {
    if (this.timer) return this;
    this.timer = setTimeout(() => {
      if (this.source.isClosed) {
        this.timer = undefined;
        return;
      }
      this.sample(Date.now());
      this.timer?.refresh();
    }, INTERVAL_MS);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** As a collector: the guard closing stops the sampling. */
  close(): void {
    this.stop();
  }

  /** Closes the interval that ends at `now` (epoch ms) and appends its point. */
  sample(now: number): HistoryPoint {
    const h = this.source.delayHistogram;
    const delta = new Float64Array(h.counts.length);
    for (let i = 0; i < delta.length; i++) delta[i] = h.counts[i]! - (this.lastCounts[i] ?? 0);
    const count = h.count - this.lastCount;
    const point: HistoryPoint = {
      t: now,
      p99Ms: round(p99Seconds(delta, h.sum - this.lastSum) * 1000),
      meanMs: count > 0 ? round(((h.sum - this.lastSum) / count) * 1000) : 0,
      elu: Math.round(this.source.loop.utilization * 1000) / 1000,
      stalls: this.source.stalls.total - this.lastStalls,
    };
    if (this.recentDeltas.length >= WINDOW_INTERVALS) this.recentDeltas.shift();
    this.recentDeltas.push({ counts: delta, sum: h.sum - this.lastSum, count });
    this.lastCounts = Float64Array.from(h.counts);
    this.lastSum = h.sum;
    this.lastCount = h.count;
    this.lastStalls = this.source.stalls.total;
    if (this.points.length >= this.capacity) this.points.shift();
    this.points.push(point);
    return point;
  }

  all(): readonly HistoryPoint[] {
    return this.points;
  }

  /** p99 and mean loop delay over the last (up to) ten intervals. */
  window(): WindowDelay {
    const counts = new Float64Array(this.lastCounts.length);
    let sum = 0;
    let count = 0;
    for (const d of this.recentDeltas) {
      for (let i = 0; i < counts.length; i++) counts[i] = counts[i]! + (d.counts[i] ?? 0);
      sum += d.sum;
      count += d.count;
    }
    return {
      seconds: this.recentDeltas.length * (INTERVAL_MS / 1000),
      p99Ms: round(p99Seconds(counts, sum) * 1000),
      meanMs: count > 0 ? round((sum / count) * 1000) : 0,
    };
  }
}

/**
 * The bucket estimate (what Grafana's histogram_quantile computes), capped at
 * the samples' sum: no sample exceeds the sum of all, and without the cap one
 * 1.2 s stall in the (1 s, 2.5 s] bucket would be drawn as a 2.4 s spike.
 */
function p99Seconds(counts: ArrayLike<number>, sum: number): number {
  return Math.min(quantileFromBuckets(0.99, DELAY_BUCKETS_SECONDS, counts), Math.max(0, sum));
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
