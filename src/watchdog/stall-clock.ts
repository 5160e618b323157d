/**
 * The main thread's clock over one stall, read by the watchdog: once at
 * detection, then on a short timer until the heartbeat turns. The window
 * ends at the first reading after the stall, a few ms past its end: the
 * kernel adds a wait to a thread's schedstat only when the thread gets its
 * CPU back, and a throttled period to its cgroup's cpu.stat only when the
 * group is unthrottled, so a reading taken while the stall lasts misses the
 * very wait that caused it (measured: a host stall read as 0 ms waiting).
 */
import type { ThreadTimeMeasurement } from '../contract/thread-time';
import { threadTimeBetween, type ThreadClock, type ThreadClockSample } from './thread-clock';

/**
 * How often the clock is read while a stall lasts: every few ms at first, then
 * a fiftieth of the stall so far. The end is then known to within 2 % of the
 * stall, and a stall of a minute costs ~50 readings a second, not 200.
 */
const FIRST_STEP_MS = 5;
const STEP_SHARE_OF_ELAPSED = 0.02;
/** Shorter windows are noisy (a 10 ms look can be all wait or all run by chance of the scheduler's slice): the clock is left out. */
export const MIN_WINDOW_MS = 20;

export class StallClock {
  readonly #clock: ThreadClock;
  readonly #stillStalled: () => boolean;
  readonly #first: ThreadClockSample;
  #lastInside: ThreadClockSample;
  #firstAfter: ThreadClockSample | undefined;
  #timer: NodeJS.Timeout | undefined;
  #resolveEnded: (() => void) | undefined;
  /** Resolves once the stall has ended (or the clock was stopped). */
  readonly ended: Promise<void>;

  /**
   * `from`: a reading taken before detection in the same heartbeat window,
   * used as the start when the watchdog itself detected late (the host held
   * it too): reading from detection on would miss the stall's cause.
   */
  constructor(clock: ThreadClock, stillStalled: () => boolean, from?: ThreadClockSample) {
    this.#clock = clock;
    this.#stillStalled = stillStalled;
    this.#first = from ?? clock.read();
    this.#lastInside = from === undefined ? this.#first : clock.read();
    this.ended = new Promise((resolve) => (this.#resolveEnded = resolve));
    this.#schedule();
  }

  /** A reading now, kept as the stall's latest when the stall is still going once it is taken. */
  look(): ThreadClockSample {
    const sample = this.#clock.read();
    // Read first, then check: a reading followed by a stale heartbeat lies inside the stall.
    if (this.#stillStalled()) this.#lastInside = sample;
    else this.#end(sample);
    return sample;
  }

  /** Stops reading (the worker is closing). */
  stop(): void {
    this.#end(undefined);
  }

  /** The clock from detection to the stall's end, or null when no usable window was read. */
  measurement(): ThreadTimeMeasurement | null {
    return measurementBetween(this.#first, this.#firstAfter ?? this.#lastInside, this.#clock.unavailable);
  }

  #schedule(): void {
    const elapsed = performance.now() - this.#first.atMs;
    this.#timer = setTimeout(() => {
      this.look();
      if (this.#resolveEnded !== undefined) this.#schedule();
    }, Math.max(FIRST_STEP_MS, STEP_SHARE_OF_ELAPSED * elapsed));
  }

  #end(after: ThreadClockSample | undefined): void {
    if (this.#resolveEnded === undefined) return;
    this.#firstAfter = after;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const resolve = this.#resolveEnded;
    this.#resolveEnded = undefined;
    resolve();
  }
}

/** Two readings as the message's measurement, or null when they are too close to say anything. */
export function measurementBetween(first: ThreadClockSample, end: ThreadClockSample, unavailable: readonly string[]): ThreadTimeMeasurement | null {
  const delta = threadTimeBetween(first, end);
  if (delta.wallMs < MIN_WINDOW_MS) return null;
  return {
    wallMs: delta.wallMs,
    onCpuMs: delta.onCpuMs,
    waitingMs: delta.waitingMs,
    throttledMs: delta.throttledMs,
    nrThrottled: delta.nrThrottled,
    cgroupThrottledMs: delta.cgroupThrottledMs,
    timeslices: delta.timeslices,
    taskState: first.taskState,
    unavailable,
  };
}
