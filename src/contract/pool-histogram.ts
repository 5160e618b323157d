/**
 * The thread-pool delay histogram, in shared memory. The watchdog worker
 * writes it as its probes complete; the main thread reads it only when an
 * exporter collects or a snapshot is taken, so a probe never wakes the main
 * thread. One writer: counts are Atomics so a reader never sees a lost
 * increment; the float slots are plain (a torn read would shift one figure
 * by one sample).
 *
 * Beside the cumulative bucket counts it keeps the last samples in a ring,
 * for readers that take values one by one (OpenTelemetry histograms). At the
 * highest probe rate (10 a second) the ring holds 100 s, more than the
 * default OTel export interval of 60 s.
 */
const I32_HEADER = 1; // [0] samples recorded so far (the ring's write sequence)
const F64_SLOTS = 3;
const SUM = 0; // seconds
const LAST = 1; // seconds, the latest sample
const QUEUED_SINCE = 2; // epoch ms at which the outstanding probe was submitted, 0 when none
export const RING_SIZE = 1024;

/** Index of the bucket `value` falls in (upper bounds inclusive, Prometheus `le`); `bounds.length` is +Inf. */
export function bucketIndex(bounds: readonly number[], value: number): number {
  let i = 0;
  while (i < bounds.length && value > bounds[i]!) i++;
  return i;
}

export class SharedHistogram {
  readonly buffer: SharedArrayBuffer;
  readonly bounds: readonly number[];
  /** Non-cumulative counts per bucket, +Inf last (a view on the shared memory). */
  readonly counts: Int32Array;
  private readonly header: Int32Array;
  private readonly f64: Float64Array;
  private readonly ring: Float64Array;

  constructor(bounds: readonly number[], buffer?: SharedArrayBuffer) {
    this.bounds = bounds;
    const countsBytes = (I32_HEADER + bounds.length + 1) * 4;
    const f64Offset = Math.ceil(countsBytes / 8) * 8;
    const bytes = f64Offset + (F64_SLOTS + RING_SIZE) * 8;
    if (buffer !== undefined && buffer.byteLength !== bytes) throw new RangeError(`pool histogram buffer of ${buffer.byteLength} bytes, expected ${bytes}`);
    this.buffer = buffer ?? new SharedArrayBuffer(bytes);
    this.header = new Int32Array(this.buffer, 0, I32_HEADER);
    this.counts = new Int32Array(this.buffer, I32_HEADER * 4, bounds.length + 1);
    this.f64 = new Float64Array(this.buffer, f64Offset, F64_SLOTS);
    this.ring = new Float64Array(this.buffer, f64Offset + F64_SLOTS * 8, RING_SIZE);
  }

  /** Writer side (the worker): one sample, in seconds. */
  record(seconds: number): void {
    Atomics.add(this.counts, bucketIndex(this.bounds, seconds), 1);
    this.f64[SUM] = this.f64[SUM]! + seconds;
    this.f64[LAST] = seconds;
    const seq = Atomics.load(this.header, 0);
    this.ring[seq % RING_SIZE] = seconds;
    // Published after the ring slot is written, so a reader that sees the new sequence sees the value.
    Atomics.store(this.header, 0, seq + 1);
  }

  /** Writer side: a probe is waiting in the pool since this epoch ms (0: none is). */
  set queuedSince(epochMs: number) {
    this.f64[QUEUED_SINCE] = epochMs;
  }

  get queuedSince(): number {
    return this.f64[QUEUED_SINCE]!;
  }

  /** Samples recorded so far. */
  get count(): number {
    return Atomics.load(this.header, 0);
  }

  get sum(): number {
    return this.f64[SUM]!;
  }

  /** The latest sample, seconds (0 before the first). */
  get last(): number {
    return this.f64[LAST]!;
  }

  /** Cumulative counts per upper bound (Prometheus `le` semantics), +Inf last. */
  cumulative(): number[] {
    const out = new Array<number>(this.counts.length);
    let running = 0;
    for (let i = 0; i < this.counts.length; i++) {
      running += Atomics.load(this.counts, i);
      out[i] = running;
    }
    return out;
  }

  /**
   * The samples recorded after sequence `from`, oldest first, and the
   * sequence to pass next time. Samples older than the ring are gone.
   */
  samplesSince(from: number): { values: number[]; next: number } {
    const next = this.count;
    const start = Math.max(from, next - RING_SIZE);
    const values: number[] = [];
    for (let seq = start; seq < next; seq++) values.push(this.ring[seq % RING_SIZE]!);
    return { values, next };
  }
}
