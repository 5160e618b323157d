import type { BusyTime } from './busy-time';

/** One culprit's part of the loop's busy time, as `snapshot()` shows it. */
export interface BusyRouteSummary {
  route: string;
  method: string;
  cause: 'request' | 'background' | 'expected' | 'gc';
  /** Share of the loop's busy time over the last one to two minutes (0..1). */
  share: number;
  /** 95 % confidence interval of `share`, from the sample counts (Wilson). */
  shareLow: number;
  shareHigh: number;
  /** Busy samples behind `share`. */
  samples: number;
  /** Estimated loop time in this culprit's code since the guard started, seconds (the counter). */
  busySeconds: number;
}

export interface BusySummary {
  /** Mean samples a second while the loop is busy (the `busySampleHz` option). */
  sampleHz: number;
  /** Samples that landed in running code over the recent window, and idle ones since start. */
  busySamples: number;
  idleSamples: number;
  /** Largest share first. */
  routes: BusyRouteSummary[];
}

export function busySummary(busy: Pick<BusyTime, 'totals' | 'shares' | 'sampleHz'>): BusySummary {
  const { busySamples, idleSamples, shares } = busy.shares();
  const seconds = new Map(busy.totals().map((t) => [t.key, t.seconds]));
  return {
    sampleHz: busy.sampleHz,
    busySamples,
    idleSamples,
    routes: shares.map((s) => ({
      route: s.key.route,
      method: s.key.method,
      cause: s.key.cause,
      share: round(s.share),
      shareLow: round(s.low),
      shareHigh: round(s.high),
      samples: s.samples,
      busySeconds: Math.round((seconds.get(s.key) ?? 0) * 1000) / 1000,
    })),
  };
}

const round = (v: number): number => Math.round(v * 10_000) / 10_000;
