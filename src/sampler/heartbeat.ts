import { epochNow, type SharedState } from '../watchdog/shared-state';

/** Timer granularity: Node fires timers up to ~1 ms late on an idle loop. That is not delay anyone waited for. */
const TIMER_SLACK_MS = 1;

export interface BeatListener {
  /**
   * Called on every turn of the heartbeat with how late it ran (ms), the
   * window that just ended, and the epoch time now.
   */
  onBeat(lateMs: number, endedWindow: number, nowEpochMs: number): void;
}

/**
 * One unref'd main-thread timer. Its drift is the loop delay; its count,
 * published in shared memory, tells the watchdog the loop is turning; its
 * running sum is the delay clock that prices each request's wait in O(1).
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private due = 0;
  private cumulativeMs = 0;

  constructor(
    private readonly periodMs: number,
    private readonly shared: SharedState,
    private readonly listener: BeatListener,
  ) {}

  start(): void {
    if (this.timer) return;
    this.shared.periodMs = this.periodMs;
    this.due = performance.now() + this.periodMs;
    this.shared.beat(epochNow());
    this.timer = setTimeout(this.tick, this.periodMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  get window(): number {
    return this.shared.window;
  }

  /** Cumulative delay (ms) including the lateness building up right now. */
  delayClockMs(): number {
    return this.delayClockAt(performance.now());
  }

  /** The same at `now` (performance.now()). */
  delayClockAt(now: number): number {
    const late = now - this.due - TIMER_SLACK_MS;
    return late > 0 ? this.cumulativeMs + late : this.cumulativeMs;
  }

  /** Cumulative delay (ms) up to the last heartbeat. */
  settledDelayMs(): number {
    return this.cumulativeMs;
  }

  private readonly tick = (): void => {
    const now = performance.now();
    const late = now - this.due;
    this.due = now + this.periodMs;
    if (late > TIMER_SLACK_MS) this.cumulativeMs += late - TIMER_SLACK_MS;
    const ended = this.shared.window;
    const nowEpoch = performance.timeOrigin + now;
    this.shared.beat(nowEpoch);
    // refresh() re-arms the same Timeout: no allocation, and no pile-up if a tick runs long.
    this.timer?.refresh();
    this.listener.onBeat(late > 0 ? late : 0, ended, nowEpoch);
  };
}
