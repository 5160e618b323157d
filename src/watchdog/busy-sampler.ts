/**
 * Worker side of busy time: asks the main thread's busy probe for one
 * sample at random moments (a Poisson process: exponential gaps, so no
 * periodic work in the app can alias with the sampling), at `sampleHz` on
 * average while the loop is busy. Each sample is one `Runtime.evaluate` that
 * Node runs through a V8 interrupt on top of whatever JavaScript is running;
 * the probe counts it on the main thread, so the answer only says busy or
 * idle. Where the main thread's state can be read (Linux), a sample taken
 * while it waits in epoll is idle at once, and the main thread is not woken
 * (see main-loop-state.ts). Once the loop has been idle for two seconds of
 * samples in a row the gaps double with each further idle one (up to 32×):
 * an idle process is looked at about once every three seconds, not ten
 * times a second.
 */
import type { Session } from 'node:inspector';
import { BUSY_SHARED_BYTES, busyProbeExpression, busySharedViews } from '../contract/probe';
import { epochNow } from '../contract/shared-state';
import { openLoopIdleReader, type LoopIdleReader } from './main-loop-state';
import type { BusySamplerConfig } from '../contract/messages';


/**
 * Back off only once the loop has been idle this long (in samples: this ×
 * the rate). A rate that drops after a few idle samples samples a loop at
 * 30 % utilization at a rate that depends on its recent history: at 400/s,
 * backing off after three idle samples left 18-30 % of the rate, and the
 * rate was higher inside long requests (which reset it) than in short ones.
 */
const IDLE_SECONDS_BEFORE_BACKOFF = 2;
const MAX_BACKOFF_DOUBLINGS = 5;
/**
 * A read of the main thread's state older than this when the probe is asked
 * for is dropped. Read to post takes ≈ 50 µs (24.21, 26.10; the interrupt
 * enters the main thread's JavaScript as the post returns); a request that
 * starts in between is sampled only if the loop was busy at the read, so
 * the gap must stay short against the shortest routes (50 µs: 3 % of a
 * 1.5 ms request at low utilization; 200 µs: 13 %).
 */
const MAX_STATE_AGE_MS = 0.2;

export class BusySampler {
  private readonly expression: string;
  private readonly meanGapMs: number;
  private readonly idleBeforeBackoff: number;
  private readonly idleCount: Int32Array;
  private readonly askedAt: Float64Array;
  private idleStreak = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Samples asked for and answered, for diagnostics. */
  asked = 0;
  idle = 0;

  constructor(
    private readonly session: Session,
    config: BusySamplerConfig,
    private readonly random: () => number = Math.random,
    /** Where it can be read (Linux), whether the main thread waits for I/O at the moment of a sample. */
    private readonly loopIdle: LoopIdleReader | undefined = openLoopIdleReader(),
  ) {
    this.expression = busyProbeExpression(config.sinkId);
    this.meanGapMs = 1000 / config.sampleHz;
    this.idleBeforeBackoff = Math.max(3, Math.round(IDLE_SECONDS_BEFORE_BACKOFF * config.sampleHz));
    ({ idleCount: this.idleCount, askedAt: this.askedAt } = busySharedViews(config.shared ?? new SharedArrayBuffer(BUSY_SHARED_BYTES)));
  }

  /** When the next sample is due (performance.now() ms): the watchdog's synchronous sleep ends by then. */
  nextAt = Infinity;

  start(): void {
    if (this.stopped || this.timer !== undefined) return;
    const gap = this.nextGapMs();
    this.nextAt = performance.now() + gap;
    this.timer = setTimeout(() => this.fire(), gap);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.loopIdle?.close();
  }

  /** Exponential with the current mean; clamped so one draw cannot stop sampling for long. */
  nextGapMs(): number {
    const mean = this.meanGapMs * 2 ** Math.min(Math.max(0, this.idleStreak - this.idleBeforeBackoff + 1), MAX_BACKOFF_DOUBLINGS);
    const draw = -Math.log(1 - this.random()) * mean;
    return Math.max(1, Math.min(draw, mean * 5));
  }

  private fire(): void {
    this.timer = undefined;
    if (this.stopped) return;
    this.asked++;
    if (this.loopIdle !== undefined) {
      const readAt = performance.now();
      const idle = this.loopIdle.read();
      if (performance.now() - readAt > MAX_STATE_AGE_MS) {
        // This thread was descheduled around the read: by the time the probe lands the main
        // thread may have gone from idle to a request that started since. Dropped, not counted.
        this.start();
        return;
      }
      if (idle === true) {
        // Idle at the moment asked for: counted here, and the main thread is not woken.
        Atomics.add(this.idleCount, 0, 1);
        this.countIdle();
        this.start();
        return;
      }
    }
    // The main thread files the sample under (gc) if a GC pause covers this moment (it lands after the pause).
    this.askedAt[0] = epochNow();
    try {
      this.session.post('Runtime.evaluate', { expression: this.expression, returnByValue: true, silent: true }, (err, result) => {
        const value = err ? -1 : (result as { result?: { value?: unknown } } | undefined)?.result?.value;
        if (value === 1) this.countIdle();
        else if (value === 0) {
          this.idleStreak = 0;
        }
      });
    } catch {
      // Session closed under us: close() stops the sampler next.
    }
    this.start();
  }

  private countIdle(): void {
    this.idle++;
    this.idleStreak++;
  }
}
