/**
 * The main thread's side of the thread-pool probe: it owns the shared
 * histogram the watchdog worker writes, knows the pool's size, and turns the
 * counts into recent percentiles when someone asks. It has no timer: the
 * window moves when it is read.
 */
import { quantileFromBuckets } from '../core/quantile';
import { SharedHistogram } from '../contract/pool-histogram';
import type { PoolProbeConfig } from '../contract/messages';
import { epochNow } from '../contract/shared-state';

/** libuv's default when UV_THREADPOOL_SIZE is unset. */
export const DEFAULT_THREADPOOL_SIZE = 4;
/** libuv's ceiling (since 1.30). */
const MAX_THREADPOOL_SIZE = 1024;
/** Percentiles cover at least this long (and at most twice it) when read often. */
const WINDOW_MS = 10_000;

/**
 * The size libuv gives its pool for this environment: UV_THREADPOOL_SIZE
 * read as C's atoi, 0 taken as 1, capped at 1024; 4 when unset. libuv reads
 * it once, at the pool's first use, so a change made later has no effect.
 */
export function threadPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.UV_THREADPOOL_SIZE;
  if (raw === undefined) return DEFAULT_THREADPOOL_SIZE;
  const parsed = /^\s*[+-]?\d+/.exec(raw);
  const n = parsed ? Number.parseInt(parsed[0], 10) : 0;
  return Math.min(MAX_THREADPOOL_SIZE, Math.max(1, n));
}

export interface ThreadPoolDelay {
  /** Probes recorded over the window. */
  samples: number;
  p50Ms: number;
  p99Ms: number;
  /** The latest probe's wait. */
  lastMs: number;
  /** How long the probe in the pool right now has waited (0 when none is queued). */
  queuedForMs: number;
}

interface Mark {
  at: number;
  counts: number[];
}

export class ThreadPoolStats {
  readonly size: number;
  readonly histogram: SharedHistogram;
  private older: Mark;
  private newer: Mark | undefined;

  /** False when the probe is off: only the size is known. */
  readonly probing: boolean;

  constructor(
    bounds: readonly number[],
    private readonly intervalMs: number | false,
    env: NodeJS.ProcessEnv = process.env,
    now = performance.now(),
  ) {
    this.probing = intervalMs !== false;
    this.size = threadPoolSize(env);
    this.histogram = new SharedHistogram(bounds);
    this.older = { at: now, counts: new Array<number>(bounds.length + 1).fill(0) };
  }

  /** What the watchdog worker needs to run the probe; undefined when it is off. */
  probeConfig(): PoolProbeConfig | undefined {
    if (this.intervalMs === false) return undefined;
    return { buffer: this.histogram.buffer, bounds: this.histogram.bounds, intervalMs: this.intervalMs };
  }

  /** Percentiles over the last 10–20 s (since the previous read at least 10 s old, when reads are rarer). */
  delay(now = performance.now()): ThreadPoolDelay {
    const h = this.histogram;
    const counts = Array.from(h.counts);
    if (this.newer === undefined || now - this.newer.at >= WINDOW_MS) {
      if (this.newer !== undefined) this.older = this.newer;
      this.newer = { at: now, counts };
    }
    const base = this.older.counts;
    const windowCounts = counts.map((c, i) => c - base[i]!);
    const samples = windowCounts.reduce((a, b) => a + b, 0);
    const queuedSince = h.queuedSince;
    return {
      samples,
      p50Ms: round(quantileFromBuckets(0.5, h.bounds, windowCounts) * 1000),
      p99Ms: round(quantileFromBuckets(0.99, h.bounds, windowCounts) * 1000),
      lastMs: round(h.last * 1000),
      queuedForMs: queuedSince === 0 ? 0 : round(Math.max(0, epochNow() - queuedSince)),
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
