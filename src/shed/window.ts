/**
 * The largest value seen in a sliding time window, kept as a ring of slot
 * maxima: O(1) to record (it runs on every heartbeat), O(slots) to read.
 * A maximum rather than a mean: one 2-second stall in a quiet minute must
 * not be averaged into a number that looks healthy.
 */
export class WindowMax {
  private readonly slotMs: number;
  private readonly ids: Float64Array;
  private readonly maxima: Float64Array;

  constructor(windowMs: number, slots = 10) {
    this.slotMs = Math.max(1, windowMs / slots);
    this.ids = new Float64Array(slots).fill(-1);
    this.maxima = new Float64Array(slots);
  }

  record(now: number, value: number): void {
    const id = Math.floor(now / this.slotMs);
    const i = id % this.ids.length;
    if (this.ids[i] !== id) {
      this.ids[i] = id;
      this.maxima[i] = value;
    } else if (value > this.maxima[i]!) {
      this.maxima[i] = value;
    }
  }

  /** The maximum over the slots overlapping the last window (0 if none). */
  max(now: number): number {
    const newest = Math.floor(now / this.slotMs);
    const oldest = newest - this.ids.length + 1;
    let max = 0;
    for (let i = 0; i < this.ids.length; i++) {
      const id = this.ids[i]!;
      if (id >= oldest && id <= newest && this.maxima[i]! > max) max = this.maxima[i]!;
    }
    return max;
  }
}
