/**
 * What the stalled thread was doing, as both threads speak of it: the
 * watchdog measures (`ThreadTimeMeasurement`, sent with its samples), the
 * kernel decides the `StallState` and puts `ThreadTime` in the report.
 * Types only.
 */

/** `cpu` computing, `parked` asleep in a blocking call, `gc` collecting garbage, `host` runnable but not run (preempted or throttled). */
export type StallState = 'cpu' | 'parked' | 'gc' | 'host';

/** Where the stalled thread's time went over the whole stall, in ms; null where it could not be measured. */
export interface ThreadTime {
  onCpuMs: number | null;
  /** Runnable but not running: another task had the CPU, or the cgroup was throttled. */
  waitingMs: number | null;
  /** The part of the wait the container's CPU quota caused (cgroup throttling). */
  throttledMs: number | null;
  gcMs: number | null;
}

/**
 * The main thread's clock between the watchdog's reading at detection and
 * its last reading before the stall ended (named fields, never a tuple). A
 * field is null where the machine does not provide it.
 */
export interface ThreadTimeMeasurement {
  /** The wall time between the two readings, ms: the window the other fields cover. */
  wallMs: number;
  onCpuMs: number | null;
  waitingMs: number | null;
  /**
   * The part of the wait that the cgroup was throttled, in ms. A cgroup's
   * throttled time is per period and summed over every CPU's run queue of
   * the group: two throttled CPUs for 400 ms read 800 ms, and a group can be
   * throttled while this thread sleeps in a read and loses nothing by it. A
   * throttled thread counts as waiting in its schedstat (measured on Linux
   * 6.18, docs/stall-state.md), so what one thread lost to throttling is at
   * most its own wait: the cgroup's delta is clamped to that, and to the wall
   * time where schedstat is missing.
   */
  throttledMs: number | null;
  /** Throttled periods in the window: > 0 proves the quota was hit, whatever the sums say. */
  nrThrottled: number | null;
  /**
   * The cgroup's throttled time in the window, clamped to the wall time only:
   * evidence of throttling where the thread's own wait was not seen (the
   * kernel adds a wait to schedstat only when the thread runs again). The
   * stall-state rule reads it for a stall where no code was caught running.
   */
  cgroupThrottledMs: number | null;
  /** Times the thread was put on a CPU in the window (schedstat's third field): long waits between few runs, or time-sharing. */
  timeslices: number | null;
  /** The thread's scheduler state letter at detection (R, S, D, …), from its `stat`: a hint, not used by the rule. */
  taskState: string | null;
  /** The sources that could not be read on this machine (`schedstat`, `stat`, `cgroup cpu.stat`); empty when all could. */
  unavailable: readonly string[];
}
