import { performance } from 'node:perf_hooks';
import type { SharedState } from '../contract/shared-state';
import { IdleGate } from './idle-gate';

/** Timer granularity: Node fires timers up to ~1 ms late on an idle loop. That is not delay anyone waited for. */
const TIMER_SLACK_MS = 1;

export interface BeatListener {
  /**
   * Called on every turn of the heartbeat with how late it ran (ms), the
   * window that just ended, and the epoch time now.
   */
  onBeat(lateMs: number, endedWindow: number, nowEpochMs: number): void;
}

/** The heartbeat's slower pace while nothing happens. */
export interface IdlePace {
  /** The period while idle (ms); at least the busy period. */
  readonly periodMs: number;
  /** True while no request is in flight. */
  quiet(): boolean;
}

/** The timer the heartbeat re-arms: a Node Timeout, or a test's fake. */
export interface HeartbeatTimer {
  refresh(): unknown;
  unref(): unknown;
}

/**
 * Where the heartbeat reads the time and arms its timer. Production uses the
 * process's own (REAL_CLOCK); a unit test passes a fake one, so lateness,
 * the delay clock and the idle pace are tested without waiting.
 */
export interface HeartbeatClock {
  /** As performance.now(). */
  now(): number;
  /** As performance.timeOrigin: `timeOrigin + now()` is epoch ms. */
  readonly timeOrigin: number;
  /** The loop's cumulative active time (ms), as performance.eventLoopUtilization().active. */
  activeMs(): number;
  setTimeout(fn: () => void, ms: number): HeartbeatTimer;
  clearTimeout(timer: HeartbeatTimer | undefined): void;
}

const REAL_CLOCK: HeartbeatClock = {
  now: () => performance.now(),
  timeOrigin: performance.timeOrigin,
  activeMs: () => performance.eventLoopUtilization().active,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
};

/**
 * One unref'd main-thread timer. Its drift is the loop delay; its count,
 * published in shared memory, tells the watchdog the loop is turning; its
 * running sum is the delay clock that prices each request's wait in O(1).
 *
 * Each wake-up of a thread costs 120–400 µs of CPU on these VMs, so an idle
 * process must wake rarely: after a second of on-time beats with no request
 * in flight the heartbeat slows to its idle period (and the watchdog, which
 * sleeps until the heartbeat is late, with it). The first request to arrive
 * brings the busy period back at once (`wake`, one branch per request), so a
 * stall that request causes is caught while it lasts. A stall with no
 * request in an idle process is measured when the next idle beat runs late,
 * and captured if it outlasts the idle period plus the capture delay.
 */
export class Heartbeat {
  private timer: HeartbeatTimer | undefined;
  private due = 0;
  private cumulativeMs = 0;
  private periodNowMs: number;
  private readonly gate: IdleGate | undefined;
  /** True while the heartbeat runs at its idle period; read once per request. */
  idle = false;
  /** The loop's cumulative active time (ms) at the last idle-paced beat. */
  private idleMark: number | undefined;

  constructor(
    private readonly periodMs: number,
    private readonly shared: SharedState,
    private readonly listener: BeatListener,
    private readonly pace?: IdlePace,
    private readonly clock: HeartbeatClock = REAL_CLOCK,
  ) {
    this.periodNowMs = periodMs;
    if (pace !== undefined && pace.periodMs > periodMs) this.gate = new IdleGate(Math.ceil(1000 / periodMs));
  }

  start(): void {
    if (this.timer) return;
    this.shared.periodMs = this.periodMs;
    const now = this.clock.now();
    this.due = now + this.periodMs;
    this.shared.beat(this.clock.timeOrigin + now);
    this.timer = this.clock.setTimeout(this.tick, this.periodMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  get window(): number {
    return this.shared.window;
  }

  /** The period in force: the busy one, or the idle one. */
  get currentPeriodMs(): number {
    return this.periodNowMs;
  }

  /** Cumulative delay (ms) including the lateness building up right now. */
  delayClockMs(): number {
    return this.delayClockAt(this.clock.now());
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

  /** Back to the busy period now: a request arrived while idle. Called only when `idle` is true. */
  wake(): void {
    if (!this.idle || this.timer === undefined) return;
    const now = this.clock.now();
    // Not late: an idle beat that is late is the tick's to measure.
    if (now > this.due) return;
    this.idle = false;
    this.idleMark = undefined;
    this.gate?.reset();
    this.setPeriod(this.periodMs, now);
    this.shared.idle = false;
    this.shared.rebase(this.clock.timeOrigin + now, this.periodMs);
  }

  /**
   * The loop was held by its owner, not stalled: a pool worker waits for its
   * next task in `Atomics.wait` (piscina), so its loop turns only while a
   * task runs. The task begins now: the heartbeat starts over at its busy
   * period, in a new window, as if the loop had just turned.
   */
  restart(): void {
    if (this.timer === undefined) return;
    const now = this.clock.now();
    this.idle = false;
    this.idleMark = undefined;
    this.gate?.reset();
    this.shared.idle = false;
    this.shared.beat(this.clock.timeOrigin + now);
    this.setPeriod(this.periodMs, now);
    this.shared.rebase(this.clock.timeOrigin + now, this.periodMs);
  }

  /** Beats now, as the timer would: a parked worker's task ended, and its lateness (a stall) is measured now. */
  beatNow(): void {
    if (this.timer !== undefined) this.tick();
  }

  private setPeriod(periodMs: number, now: number): void {
    this.periodNowMs = periodMs;
    this.due = now + periodMs;
    this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(this.tick, periodMs);
    this.timer.unref();
  }

  private readonly tick = (): void => {
    const now = this.clock.now();
    let late = now - this.due;
    if (this.idle) late = this.idleLateness(late);
    this.due = now + this.periodNowMs;
    if (late > TIMER_SLACK_MS) this.cumulativeMs += late - TIMER_SLACK_MS;
    const ended = this.shared.window;
    const nowEpoch = this.clock.timeOrigin + now;
    this.shared.beat(nowEpoch);
    const idle = this.gate !== undefined && this.gate.beat(late < this.periodMs && this.pace!.quiet());
    // refresh() re-arms the same Timeout: no allocation, and no pile-up if a tick runs long.
    if (idle === this.idle) this.timer?.refresh();
    else this.switchPace(idle, now, nowEpoch);
    this.listener.onBeat(late > 0 ? late : 0, ended, nowEpoch);
  };

  /**
   * At the idle pace a stall delays the beat only by its part past the beat's
   * due time: it may have begun up to a whole idle period earlier. The loop's
   * active time since the last beat (ELU, cumulative) says how much earlier;
   * in an idle process nearly all of it is the stall.
   */
  private idleLateness(late: number): number {
    const mark = this.clock.activeMs();
    const activeMs = this.idleMark === undefined ? 0 : mark - this.idleMark;
    this.idleMark = mark;
    return late > TIMER_SLACK_MS && activeMs > late ? Math.min(activeMs, late + this.periodNowMs) : late;
  }

  private switchPace(idle: boolean, now: number, nowEpoch: number): void {
    this.idleMark = idle ? this.clock.activeMs() : undefined;
    this.idle = idle;
    this.shared.idle = idle;
    this.setPeriod(idle ? this.pace!.periodMs : this.periodMs, now);
    if (idle) this.shared.periodMs = this.periodNowMs;
    // Leaving idle: a worker asleep until the idle deadline must look again by the busy one.
    else this.shared.rebase(nowEpoch, this.periodNowMs);
  }
}
