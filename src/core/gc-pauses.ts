import { performance, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';

const GC_PAUSES_KEPT = 64;

export interface GcPause {
  /** Epoch ms. */
  start: number;
  end: number;
}

/**
 * This thread's recent GC pauses, from `gc` performance entries: the stall
 * pipeline tells a GC stall from a code stall with them, and busy time
 * leaves GC out of a route's share.
 */
export class GcPauses {
  private readonly pauses: GcPause[] = [];
  private next = 0;
  private readonly observer = new PerformanceObserver((list) => this.add(list.getEntries()));

  /** With the guard, never before: a disabled guard observes nothing. */
  start(): void {
    this.observer.observe({ entryTypes: ['gc'] });
  }

  snapshot(): readonly GcPause[] {
    // Observer callbacks are delivered later than the heartbeat that ends a
    // GC stall: take the entries still queued, or the stall would be misread.
    this.add(this.observer.takeRecords());
    return this.pauses;
  }

  close(): void {
    this.observer.disconnect();
  }

  private add(entries: readonly PerformanceEntry[]): void {
    for (const entry of entries) {
      const start = performance.timeOrigin + entry.startTime;
      const pause = { start, end: start + entry.duration };
      if (this.pauses.length < GC_PAUSES_KEPT) this.pauses.push(pause);
      else this.pauses[this.next] = pause;
      this.next = (this.next + 1) % GC_PAUSES_KEPT;
    }
  }
}
