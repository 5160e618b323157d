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
  /** The cgroup's throttled time in the window, clamped to the thread's own wait. */
  throttledMs: number | null;
  /** Throttled periods in the window. */
  nrThrottled: number | null;
  /** The cgroup's own throttled time in the window, clamped to the window only (evidence of throttling where the thread's wait was not seen). */
  cgroupThrottledMs: number | null;
  /** Times the thread was put on a CPU in the window (schedstat's third field): long waits between few runs, or time-sharing. */
  timeslices: number | null;
  /** The thread's scheduler state letter at detection (R, S, D, …), from its `stat`: a hint, not used by the rule. */
  taskState: string | null;
  /** The sources that could not be read on this machine (`schedstat`, `stat`, `cgroup cpu.stat`); empty when all could. */
  unavailable: readonly string[];
}
