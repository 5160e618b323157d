/**
 * A fixed-bucket cumulative histogram on preallocated typed arrays: recording
 * is a short scan and two additions, no allocation, so it can sit on the
 * per-request path. Exporters read it at collect time; nothing ever resets it,
 * so any number of scrapers see the same monotonic counts.
 */
export class Histogram {
  readonly bounds: readonly number[];
  /** Non-cumulative counts per bucket; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  record(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  /** Cumulative counts per upper bound (Prometheus `le` semantics), +Inf last. */
  cumulative(): number[] {
    const out = new Array<number>(this.counts.length);
    let running = 0;
    for (let i = 0; i < this.counts.length; i++) {
      running += this.counts[i]!;
      out[i] = running;
    }
    return out;
  }
}
