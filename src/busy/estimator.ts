import { wilsonInterval } from './confidence';

/** Cumulative estimate for one culprit key. */
export interface BusyTotal<K> {
  readonly key: K;
  /** Samples that landed in this key's code, all time. */
  samples: number;
  /** Estimated loop time in this key's code, all time, seconds. */
  seconds: number;
}

/** One key's share of the loop's busy time over the recent window. */
export interface BusyShare<K> {
  readonly key: K;
  share: number;
  /** 95 % confidence interval of the share, from the sample counts. */
  low: number;
  high: number;
  samples: number;
}

/**
 * Turns samples of "whose code is running" into busy seconds. Pure: no
 * timers, no clocks of its own; the caller folds intervals in.
 *
 * Over each folded interval, key k gets
 *   busy seconds (from ELU) × (k's samples / samples that landed in busy code),
 * so the keys add up to the loop's busy time by construction, and only the
 * shares are estimated. Idle samples (the loop was waiting for I/O) count
 * for nothing but the sample total. An interval with no busy sample (the
 * sampler backs off while the loop idles) is shared by the all-time sample
 * counts; before any sample at all it is carried to the first interval
 * that has one.
 */
export class BusyEstimator<K> {
  private readonly totalsByKey = new Map<K, BusyTotal<K>>();
  private pending = new Map<K, number>();
  private pendingBusy = 0;
  private allBusySamples = 0;
  private carrySeconds = 0;
  /** Recent window for shares: the samples of the current and the previous period. */
  private current = new Map<K, number>();
  private previous = new Map<K, number>();
  private currentBusy = 0;
  private previousBusy = 0;
  private periodStartedAt: number | undefined;
  idleSamples = 0;

  constructor(private readonly windowMs = 60_000) {}

  /** A sample landed in `key`'s code (`count` samples at once, e.g. resolved when a request finished). */
  record(key: K, count = 1): void {
    this.pending.set(key, (this.pending.get(key) ?? 0) + count);
    this.pendingBusy += count;
    this.current.set(key, (this.current.get(key) ?? 0) + count);
    this.currentBusy += count;
  }

  /** Makes `key` exported from the start, at 0 (a series that exists before its first sample). */
  declare(key: K): void {
    this.totalFor(key);
  }

  /** A sample found the loop idle. */
  recordIdle(): void {
    this.idleSamples++;
  }

  get pendingSamples(): number {
    return this.pendingBusy;
  }

  get busySamples(): number {
    return this.allBusySamples + this.pendingBusy;
  }

  /** Closes an interval in which the loop was busy for `busySeconds` (ELU active time). */
  fold(busySeconds: number, nowMs: number): void {
    const busy = Number.isFinite(busySeconds) && busySeconds > 0 ? busySeconds : 0;
    this.rotate(nowMs);
    if (this.pendingBusy > 0) {
      const seconds = busy + this.carrySeconds;
      this.carrySeconds = 0;
      for (const [key, n] of this.pending) {
        const total = this.totalFor(key);
        total.samples += n;
        total.seconds += (seconds * n) / this.pendingBusy;
      }
      this.allBusySamples += this.pendingBusy;
      this.pending = new Map();
      this.pendingBusy = 0;
    } else if (this.allBusySamples > 0) {
      for (const total of this.totalsByKey.values()) total.seconds += (busy * total.samples) / this.allBusySamples;
    } else {
      this.carrySeconds += busy;
    }
  }

  totals(): IterableIterator<BusyTotal<K>> {
    return this.totalsByKey.values();
  }

  /** Shares over the last one to two windows, largest first, with 95 % intervals. */
  shares(): { busySamples: number; shares: BusyShare<K>[] } {
    const n = this.currentBusy + this.previousBusy;
    const counts = new Map(this.previous);
    for (const [key, c] of this.current) counts.set(key, (counts.get(key) ?? 0) + c);
    const shares: BusyShare<K>[] = [];
    for (const [key, k] of counts) {
      const [low, high] = wilsonInterval(k, n);
      shares.push({ key, share: n === 0 ? 0 : k / n, low, high, samples: k });
    }
    shares.sort((a, b) => b.share - a.share);
    return { busySamples: n, shares };
  }

  private totalFor(key: K): BusyTotal<K> {
    let total = this.totalsByKey.get(key);
    if (total === undefined) {
      total = { key, samples: 0, seconds: 0 };
      this.totalsByKey.set(key, total);
    }
    return total;
  }

  private rotate(nowMs: number): void {
    if (this.periodStartedAt === undefined) this.periodStartedAt = nowMs;
    if (nowMs - this.periodStartedAt < this.windowMs) return;
    // A gap of more than two periods leaves nothing recent.
    const stale = nowMs - this.periodStartedAt >= 2 * this.windowMs;
    this.previous = stale ? new Map() : this.current;
    this.previousBusy = stale ? 0 : this.currentBusy;
    this.current = new Map();
    this.currentBusy = 0;
    this.periodStartedAt = nowMs;
  }
}
