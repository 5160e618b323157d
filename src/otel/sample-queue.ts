/**
 * Finished-request samples waiting to be recorded into OpenTelemetry
 * histograms. OTel has no observable histogram, so our cumulative
 * histograms cannot be read at collect time; each sample must go through
 * `Histogram.record()`, which costs ≈0.9 µs in the SDK (attribute hashing,
 * clock reads). That is a quarter of the per-request budget, so the request
 * path only writes into these preallocated arrays (no allocation) and the
 * heartbeat drains them in batches, off the request path.
 */
export class SampleQueue<K> {
  private readonly keys: (K | undefined)[];
  private readonly first: Float64Array;
  private readonly second: Float64Array;
  private size = 0;

  constructor(readonly capacity: number) {
    this.keys = new Array<K | undefined>(capacity).fill(undefined);
    this.first = new Float64Array(capacity);
    this.second = new Float64Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  /** Adds a sample; false when full (the caller drains, then pushes again). */
  push(key: K, first: number, second: number): boolean {
    const i = this.size;
    if (i === this.capacity) return false;
    this.keys[i] = key;
    this.first[i] = first;
    this.second[i] = second;
    this.size = i + 1;
    return true;
  }

  /**
   * Hands every queued sample to `fn`, oldest first, and empties the queue
   * even if `fn` throws: one bad sample must not keep the rest stuck.
   * Returns the first error thrown, for the caller to report.
   */
  drain(fn: (key: K, first: number, second: number) => void): unknown {
    const n = this.size;
    this.size = 0;
    let firstError: unknown;
    for (let i = 0; i < n; i++) {
      const key = this.keys[i] as K;
      this.keys[i] = undefined;
      try {
        fn(key, this.first[i]!, this.second[i]!);
      } catch (err) {
        firstError ??= err;
      }
    }
    return firstError;
  }
}
