import type { PressureReason } from './decision';
import { RECOVER_RATIO, type PressureReading } from './pressure';
import { WindowMax } from './window';

export interface SignalLimits {
  readonly maxEventLoopDelayMs: number;
  readonly maxEventLoopUtilization: number;
  readonly maxHeapUsedBytes: number;
  readonly windowMs: number;
}

/** process.memoryUsage() walks the heap spaces: once a second is plenty. */
const HEAP_INTERVAL_MS = 1000;

/**
 * The three pressure signals, turned into readings for the state machine.
 * Delay is the worst heartbeat lateness since the previous reading (fresh
 * evidence, so a stall seen once is not seen again) and, for reporting, the
 * worst over the recent window. ELU is the guard's per-second interval value.
 * A limit of 0 leaves its signal out.
 */
export class PressureSignals {
  private readonly delays: WindowMax;
  private lateSinceReading = 0;
  private heapUsed = 0;
  private heapAt = -Infinity;

  constructor(
    private readonly limits: SignalLimits,
    private readonly elu: { readonly utilization: number },
  ) {
    this.delays = new WindowMax(limits.windowMs);
  }

  /** Every heartbeat; true when this beat alone is over the delay limit (worth reading at once). */
  beat(now: number, lateMs: number): boolean {
    this.delays.record(now, lateMs);
    if (lateMs > this.lateSinceReading) this.lateSinceReading = lateMs;
    return this.limits.maxEventLoopDelayMs > 0 && lateMs > this.limits.maxEventLoopDelayMs;
  }

  read(now: number): PressureReading {
    const { maxEventLoopDelayMs: delayLimit, maxEventLoopUtilization: eluLimit, maxHeapUsedBytes: heapLimit } = this.limits;
    const late = this.lateSinceReading;
    this.lateSinceReading = 0;
    let over: PressureReason | null = null;
    let hot = false;
    if (delayLimit > 0) {
      if (late > delayLimit) over = 'delay';
      hot ||= late > delayLimit * RECOVER_RATIO;
    }
    if (eluLimit > 0) {
      const elu = this.elu.utilization;
      if (elu > eluLimit) over ??= 'utilization';
      hot ||= elu > eluLimit * RECOVER_RATIO;
    }
    if (heapLimit > 0) {
      if (now - this.heapAt >= HEAP_INTERVAL_MS) {
        this.heapAt = now;
        this.heapUsed = process.memoryUsage().heapUsed;
      }
      if (this.heapUsed > heapLimit) over ??= 'heap';
      hot ||= this.heapUsed > heapLimit * RECOVER_RATIO;
    }
    return { over, hot };
  }

  /** Worst heartbeat lateness over the recent window, ms. */
  recentDelayMs(now: number): number {
    return this.delays.max(now);
  }
}
