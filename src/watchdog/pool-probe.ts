/**
 * The thread-pool probe: a trivial job (a one-byte `crypto.randomFill`) put
 * on libuv's process-wide thread pool at a low rate, timed from submission
 * to completion. It runs on the watchdog worker thread: the pool is shared
 * by every thread of the process, and this thread's loop is not the one the
 * app blocks, so loop delay does not pollute the figure. The tick and the
 * completion callback run on this thread's event loop, so a worker that
 * sleeps synchronously (`Atomics.wait`) must not sleep past `nextTickAt`
 * and must let its loop turn while `queued`: otherwise its own sleep is
 * added to the measured wait.
 *
 * It never makes saturation worse: at most one probe is in the pool, and a
 * tick that finds the previous probe still queued sends nothing and records
 * that probe's wait so far instead, so a stuck pool shows at once and keeps
 * showing, sample after sample, as its wait grows.
 */
import { randomFill } from 'node:crypto';
import { SharedHistogram } from '../contract/pool-histogram';
import { epochNow } from '../contract/shared-state';
import type { PoolProbeConfig } from '../contract/messages';


/**
 * What to record and when, without timers or I/O. Times are epoch ms.
 * Each tick either submits a probe or, when one is still queued, records
 * its wait so far; each completion records the probe's whole wait.
 */
export class ProbeSchedule {
  private sentAt = 0;

  constructor(private readonly sink: { record(seconds: number): void; queuedSince: number }) {}

  get queued(): boolean {
    return this.sentAt !== 0;
  }

  /** Returns true when a probe should be submitted now. */
  tick(now: number): boolean {
    if (this.sentAt !== 0) {
      this.sink.record(Math.max(0, now - this.sentAt) / 1000);
      return false;
    }
    this.sentAt = now;
    this.sink.queuedSince = now;
    return true;
  }

  done(now: number): void {
    if (this.sentAt === 0) return;
    this.sink.record(Math.max(0, now - this.sentAt) / 1000);
    this.forget();
  }

  /** The probe could not be submitted: nothing is queued. */
  forget(): void {
    this.sentAt = 0;
    this.sink.queuedSince = 0;
  }
}

/** The running probe, as the worker's sleep loop sees it. */
export interface PoolProbeHandle {
  /**
   * A probe is in the pool: the worker must wait in its event loop (not in
   * `Atomics.wait`), so the completion wakes it and is timed right. Wait
   * with a timer, never a `setImmediate` loop: a probe can stay queued for
   * seconds in a saturated pool, and spinning then would burn a core.
   */
  readonly queued: boolean;
  /** Epoch ms of the next tick: the worker's event loop must turn by then. */
  readonly nextTickAt: number;
  stop(): void;
}

/** Starts probing. */
/** While the main loop is idle, the probe runs this many times less often: an idle process is woken a few times a second at most. */
const IDLE_BACKOFF = 10;

export function startPoolProbe(config: PoolProbeConfig, idle: () => boolean = () => false): PoolProbeHandle {
  const schedule = new ProbeSchedule(new SharedHistogram(config.bounds, config.buffer));
  const target = Buffer.alloc(1);
  let stopped = false;
  let nextTickAt = epochNow() + config.intervalMs;
  const done = (): void => {
    if (!stopped) schedule.done(epochNow());
  };
  let every = config.intervalMs;
  const tick = (): void => {
    if (stopped) return;
    const now = epochNow();
    const wanted = idle() ? config.intervalMs * IDLE_BACKOFF : config.intervalMs;
    nextTickAt = now + wanted;
    if (schedule.tick(now)) {
      try {
        randomFill(target, 0, 1, done);
      } catch {
        schedule.forget();
      }
    }
    if (wanted === every) {
      timer.refresh();
      return;
    }
    every = wanted;
    timer = setTimeout(tick, every);
    // The worker stays alive through its message port; the probe alone must not hold it.
    timer.unref();
  };
  let timer = setTimeout(tick, every);
  timer.unref();
  return {
    get queued() {
      return schedule.queued;
    },
    get nextTickAt() {
      return nextTickAt;
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      // Readers must not see a probe waiting forever once nobody times it.
      schedule.forget();
    },
  };
}
