/**
 * The main thread's clock over one stall, read by the watchdog: once at
 * detection, then on a short timer until the heartbeat turns, keeping the
 * last reading taken while the stall still lasted. The window the report's
 * shares are taken over is then the stall's own time from detection on: a
 * reading made after the stall would mix in the loop's next work (or its
 * idleness) and dilute the shares.
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
/**
 * Shorter windows are noisy (a 10 ms look can be all wait or all run by
 * chance of the scheduler's slice): the first reading after the stall then
 * closes the window, and below this even so the clock is left out.
 */
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

  constructor(clock: ThreadClock, stillStalled: () => boolean) {
    this.#clock = clock;
    this.#stillStalled = stillStalled;
    this.#first = clock.read();
    this.#lastInside = this.#first;
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
    let end = this.#lastInside;
    if (end.atMs - this.#first.atMs < MIN_WINDOW_MS && this.#firstAfter !== undefined) end = this.#firstAfter;
    const delta = threadTimeBetween(this.#first, end);
    if (delta.wallMs < MIN_WINDOW_MS) return null;
    return {
      wallMs: delta.wallMs,
      onCpuMs: delta.onCpuMs,
      waitingMs: delta.waitingMs,
      throttledMs: delta.throttledMs,
      nrThrottled: delta.nrThrottled,
      taskState: this.#first.taskState,
      unavailable: this.#clock.unavailable,
    };
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
