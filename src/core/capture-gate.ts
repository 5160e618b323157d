import inspector from 'node:inspector';
import type { SharedState } from '../contract/shared-state';

/**
 * Whether the watchdog may probe the main thread now, kept in shared memory
 * for the worker to read: not when captures are off, not during startup
 * grace (module loading and warm-up block by nature), and not while a
 * debugger client is attached (it owns pausing). Checked once a second from
 * the heartbeat, and exactly when grace ends.
 */
export class CaptureGate {
  private readonly createdAt = performance.now();
  private checkedAt = 0;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly shared: SharedState,
    private readonly captureStacks: boolean,
    private readonly startupGraceMs: number,
  ) {}

  start(): void {
    this.update();
    if (this.startupGraceMs > 0) {
      // Allow captures the moment grace ends, not up to a second later: a stall
      // straddling that moment would otherwise be reported without its stack.
      this.graceTimer = setTimeout(() => this.update(), this.startupGraceMs + 1);
      this.graceTimer.unref();
    }
  }

  /** From the heartbeat, at epoch `nowMs`: does the work once a second (the idle pace beats less often than the busy one). */
  beat(nowMs: number): void {
    if (nowMs - this.checkedAt < 1000) return;
    this.checkedAt = nowMs;
    this.update();
  }

  inGrace(): boolean {
    return performance.now() - this.createdAt < this.startupGraceMs;
  }

  close(): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
  }

  /** Decides again now (a parked pool worker's task begins: no beat has run since the last one). */
  update(): void {
    this.shared.captureAllowed = this.captureStacks && !this.inGrace() && inspector.url() === undefined;
  }
}
