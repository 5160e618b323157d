/**
 * The stall pipeline: from the heartbeat's measurement of a stall (start,
 * length, requests in flight) and the watchdog's samples of it, to the
 * reports delivered. Pure: time and timers come from an injected `Scheduler`,
 * so every path (samples late or lost, routes known only at finish, GC, split
 * stalls) is tested with a fake clock and fake samples.
 *
 *   measured ──(watchdog capturing)──> awaiting samples ──> finalise
 *            └─(no capture)─────────────────────────────────> finalise
 *   finalise: the thread's state (stall-state.ts); GC verdict; a host stall
 *   (the thread was not run) is one report blaming no one; else split among
 *   the sampled callbacks; each segment is a report, delivered at once or,
 *   when its culprit's route was not known yet (blocking in body parsing),
 *   when that request finishes.
 */
import { adviceForState } from '../advice/by-state';
import { gcAdvice } from '../advice/classify';
import { leftBehindAdvice } from '../advice/left-behind';
import { gcShare, isGcStall, splitStall } from './attribution';
import type { CaptureSample } from '../contract/messages';
import type { ThreadTimeMeasurement } from '../contract/thread-time';
import { classifyStall, type StallStateResult } from './stall-state';
import type { InterruptedRequest, StallCause, StallReport } from './stall-report';

/** A stall measured by the heartbeat. */
export interface MeasuredStall {
  /** The heartbeat window the stall ended (the watchdog's samples carry it). */
  window: number;
  /** Epoch ms. */
  startedAt: number;
  durationMs: number;
  /** Requests in flight while it lasted, the culprit included. */
  inFlight: number;
  /**
   * The pool task that alone ran through the whole stall (a parked pool
   * worker's task, measured as it ended): the culprit when no sample names one.
   */
  task?: string;
}

/** Time and one-shot timers; the real one unrefs its timers so they never keep the process alive. */
export interface Scheduler {
  /** Epoch ms. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realScheduler: Scheduler = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface PipelineHooks {
  /** Recent GC pauses (epoch ms), for the GC verdict. */
  gcPauses(): readonly { start: number; end: number }[];
  /** A report blamed a request still in flight: its own stall is not delay it waited through. */
  chargeStall(requestId: number, durationMs: number): void;
  /** A report blaming a request was made (before it waits for the route, if it does). */
  culprit(requestId: number, report: StallReport): void;
  /** A report is final. */
  deliver(report: StallReport): void;
  /** One capture's samples have been used, whether or not they made a report. */
  samplesUsed(samples: readonly CaptureSample[]): void;
}

export interface PipelineSettings {
  /** The heartbeat period: a stall's start is known to within it. */
  heartbeatMs: number;
  /** Routes whose stalls are expected (`expectedBlockingRoutes`): their reports say `cause: 'expected'`. */
  expectedRoute?: ((route: string) => boolean) | undefined;
  /** The guard's stall threshold: a host stall is one whose own time would not have reached it. @default 100 */
  thresholdMs?: number;
}

/** What finalise knows of the thread beside the samples. */
interface StallVerdict extends StallStateResult {
  interrupted: InterruptedRequest | null;
}

/** How long a measured stall waits for the watchdog's samples before it is reported without them. */
export const SAMPLES_TIMEOUT_MS = 2000;
/** A culprit whose route was unknown at capture is reported without it if it has not finished by then. */
export const PENDING_ROUTE_TIMEOUT_MS = 30_000;
/** The guard's default stall threshold, for a pipeline built without one (tests). */
const DEFAULT_THRESHOLD_MS = 100;
/** Routes of recently finished culprits, for samples that arrive after their request finished. */
const FINISHED_CULPRITS_KEPT = 256;

export class StallPipeline {
  private readonly awaitingSamples = new Map<number, MeasuredStall>();
  private readonly awaitingRoute = new Map<number, { reports: StallReport[]; timer: unknown }>();
  private readonly finishedCulprits = new Map<number, string>();
  private samplesTimer: unknown = undefined;
  private nextReportId = 1;
  private closed = false;

  constructor(
    private readonly settings: PipelineSettings,
    private readonly hooks: PipelineHooks,
    private readonly scheduler: Scheduler = realScheduler,
  ) {}

  /** The heartbeat measured a stall; `samplesComing` when the watchdog is capturing this window. */
  measured(stall: MeasuredStall, samplesComing: boolean): void {
    if (this.closed) return;
    if (!samplesComing) return this.finalise(stall, []);
    this.awaitingSamples.set(stall.window, stall);
    this.armSamplesTimeout();
  }

  /**
   * The watchdog's samples of one window (possibly of a block shorter than
   * the threshold: then no stall waits), with the main thread's clock over it.
   */
  samplesArrived(window: number, samples: readonly CaptureSample[], threadTime: ThreadTimeMeasurement | null = null): void {
    const stall = this.awaitingSamples.get(window);
    if (stall !== undefined && !this.closed) {
      this.awaitingSamples.delete(window);
      // Nothing left to time out: no wake-up for nothing.
      if (this.awaitingSamples.size === 0 && this.samplesTimer !== undefined) {
        this.scheduler.clearTimeout(this.samplesTimer);
        this.samplesTimer = undefined;
      }
      this.finalise(stall, samples, threadTime);
    }
    this.hooks.samplesUsed(samples);
  }

  /** A request the watchdog caught holding the loop has finished, with its final route. */
  culpritFinished(requestId: number, route: string): void {
    this.finishedCulprits.set(requestId, route);
    if (this.finishedCulprits.size > FINISHED_CULPRITS_KEPT) {
      this.finishedCulprits.delete(this.finishedCulprits.keys().next().value as number);
    }
    const pending = this.awaitingRoute.get(requestId);
    if (pending === undefined) return;
    this.scheduler.clearTimeout(pending.timer);
    this.awaitingRoute.delete(requestId);
    for (const report of pending.reports) this.deliver({ ...report, route });
  }

  /** Measured stalls waiting for the watchdog's samples. */
  get awaitingSamplesCount(): number {
    return this.awaitingSamples.size;
  }

  /** Reports every stall still waiting for samples now, without them (a parked pool worker's timer would not fire). */
  flushAwaiting(): void {
    if (this.samplesTimer !== undefined) this.scheduler.clearTimeout(this.samplesTimer);
    this.samplesTimer = undefined;
    const waiting = [...this.awaitingSamples.values()];
    this.awaitingSamples.clear();
    for (const stall of waiting) this.finalise(stall, []);
  }

  /** Drops everything pending; nothing is delivered after this. */
  close(): void {
    this.closed = true;
    if (this.samplesTimer !== undefined) this.scheduler.clearTimeout(this.samplesTimer);
    this.samplesTimer = undefined;
    for (const pending of this.awaitingRoute.values()) this.scheduler.clearTimeout(pending.timer);
    this.awaitingRoute.clear();
    this.awaitingSamples.clear();
  }

  private armSamplesTimeout(): void {
    if (this.samplesTimer !== undefined) return;
    this.samplesTimer = this.scheduler.setTimeout(() => {
      this.samplesTimer = undefined;
      const now = this.scheduler.now();
      for (const [window, stall] of this.awaitingSamples) {
        if (now - (stall.startedAt + stall.durationMs) < SAMPLES_TIMEOUT_MS) continue;
        this.awaitingSamples.delete(window);
        this.finalise(stall, []);
      }
      if (this.awaitingSamples.size > 0) this.armSamplesTimeout();
    }, SAMPLES_TIMEOUT_MS);
  }

  /** Joins the heartbeat's measurement with the watchdog's samples into reports. */
  private finalise(stall: MeasuredStall, samples: readonly CaptureSample[], threadTime: ThreadTimeMeasurement | null = null): void {
    const end = stall.startedAt + stall.durationMs;
    const pauses = this.hooks.gcPauses();
    const verdict = this.verdict(stall, pauses, samples, threadTime);
    if (verdict.hostCaused) {
      // Not the code's: no culprit, nothing charged, every request in flight waited.
      const report = this.report(stall.startedAt, stall.durationMs, null, null, 'host', [], stall.inFlight, adviceForState(null, 'host'), verdict);
      this.deliver({ ...report, interrupted: verdict.interrupted });
      return;
    }
    // A probe taken while the thread waited for a CPU ran wherever it resumed: it names no culprit.
    const blameable = samples.filter((s) => s.preempted !== true);
    const codeWasSampled = blameable.some((s) => s.request !== null);
    // The stall's start is known to within one heartbeat period.
    if (isGcStall(stall.startedAt, end, pauses, this.settings.heartbeatMs * 1.5, codeWasSampled)) {
      this.deliver(this.report(stall.startedAt, stall.durationMs, null, null, 'gc', [], stall.inFlight, gcAdvice(), verdict));
      return;
    }
    for (const segment of splitStall(stall.startedAt, stall.durationMs, blameable)) {
      const request = segment.sample?.request ?? null;
      const stack = segment.sample?.stack ?? [];
      const part = segmentOf(verdict, segment.durationMs, stall.durationMs);
      const advice = adviceForState(segment.advice, verdict.state);
      if (request === null && segment.sample === null && stall.task !== undefined) {
        // Not captured (another loop's capture held the watchdog), yet only this task ran.
        this.deliver(this.report(segment.startedAt, segment.durationMs, stall.task, null, 'task', [], stall.inFlight, adviceForState(null, verdict.state), part));
        continue;
      }
      if (request === null) {
        const cause = segment.sample?.expected ? 'expected' : 'background';
        this.deliver(this.report(segment.startedAt, segment.durationMs, null, null, cause, stack, stall.inFlight, advice, part));
        continue;
      }
      if (request.task === true) {
        // A pool task (core/task-context.ts): its name is its route, final at
        // capture; it is no request, so nothing to charge, no victim to leave out.
        const cause = segment.sample?.expected ? 'expected' : 'task';
        this.deliver(this.report(segment.startedAt, segment.durationMs, request.route, null, cause, stack, stall.inFlight, advice, part, request.afterResponse));
        continue;
      }
      if (request.afterResponse) {
        // Work the request left behind: its route's doing, but the request is
        // not in flight (not among the victims, nothing to charge) and its
        // route is final. Its span has ended, so there is no culprit hook.
        const cause = segment.sample?.expected ? 'expected' : 'request';
        this.deliver(
          this.report(segment.startedAt, segment.durationMs, request.route, request.method, cause, stack, stall.inFlight, leftBehindAdvice(advice), part, true),
        );
        continue;
      }
      const finishedRoute = this.finishedCulprits.get(request.id);
      const stillInFlight = finishedRoute === undefined;
      if (stillInFlight) this.hooks.chargeStall(request.id, segment.durationMs);
      const victims = Math.max(0, stall.inFlight - (stillInFlight ? 1 : 0));
      const route = request.route ?? finishedRoute ?? null;
      const cause = segment.sample?.expected ? 'expected' : 'request';
      const report = this.report(segment.startedAt, segment.durationMs, route, request.method, cause, stack, victims, advice, part);
      this.hooks.culprit(request.id, report);
      if (route === null && stillInFlight) this.awaitRoute(request.id, report);
      else this.deliver(report);
    }
  }

  /** The thread's state over the stall, from the worker's clock and the GC pauses. */
  private verdict(
    stall: MeasuredStall,
    pauses: readonly { start: number; end: number }[],
    samples: readonly CaptureSample[],
    m: ThreadTimeMeasurement | null,
  ): StallVerdict {
    const result = classifyStall({
      durationMs: stall.durationMs,
      windowMs: m?.wallMs,
      thresholdMs: this.settings.thresholdMs ?? DEFAULT_THRESHOLD_MS,
      onCpuMs: m?.onCpuMs ?? null,
      waitingMs: m?.waitingMs ?? null,
      throttledMs: m?.throttledMs ?? null,
      gcMs: gcShare(stall.startedAt, stall.startedAt + stall.durationMs, pauses) * stall.durationMs,
      cgroupThrottledMs: m?.cgroupThrottledMs ?? null,
      timeslices: m?.timeslices ?? null,
      codeRunning: samples.some((s) => s.preempted !== true && (s.request !== null || s.stack.length > 0)),
    });
    const caught = samples.find((s) => s.request !== null && !s.request.afterResponse)?.request ?? null;
    const interrupted = caught === null ? null : { route: caught.route ?? this.finishedCulprits.get(caught.id) ?? null, method: caught.method };
    return { ...result, interrupted };
  }

  private report(
    startedAt: number,
    durationMs: number,
    route: string | null,
    method: string | null,
    cause: StallCause,
    stack: StallReport['stack'],
    victims: number,
    advice: StallReport['advice'],
    thread: Pick<StallStateResult, 'state' | 'threadTime'>,
    afterResponse = false,
  ): StallReport {
    return {
      id: this.nextReportId++,
      startedAt: Math.round(startedAt),
      durationMs: Math.round(durationMs * 10) / 10,
      route,
      method,
      cause,
      stack,
      victims,
      advice,
      afterResponse,
      state: thread.state,
      threadTime: thread.threadTime,
      interrupted: null,
    };
  }

  /** A request's stall on a route declared as expected is `expected`; decided here, once the route is final. */
  private deliver(report: StallReport): void {
    const expected = report.cause === 'request' && report.route !== null && this.settings.expectedRoute?.(report.route) === true;
    this.hooks.deliver(expected ? { ...report, cause: 'expected' } : report);
  }

  /** Blocking before routing (body parsing): the route is known only when the request finishes. */
  private awaitRoute(requestId: number, report: StallReport): void {
    const pending = this.awaitingRoute.get(requestId);
    if (pending) {
      pending.reports.push(report);
      return;
    }
    const timer = this.scheduler.setTimeout(() => {
      const late = this.awaitingRoute.get(requestId);
      this.awaitingRoute.delete(requestId);
      for (const r of late?.reports ?? []) this.deliver(r);
    }, PENDING_ROUTE_TIMEOUT_MS);
    this.awaitingRoute.set(requestId, { reports: [report], timer });
  }
}

/** One segment's share of the stall's thread time: the same state, the times in proportion. */
function segmentOf(verdict: StallStateResult, segmentMs: number, stallMs: number): Pick<StallStateResult, 'state' | 'threadTime'> {
  if (segmentMs >= stallMs || stallMs <= 0) return verdict;
  const f = segmentMs / stallMs;
  const part = (ms: number | null): number | null => (ms === null ? null : Math.round(ms * f * 10) / 10);
  const t = verdict.threadTime;
  return { state: verdict.state, threadTime: { onCpuMs: part(t.onCpuMs), waitingMs: part(t.waitingMs), throttledMs: part(t.throttledMs), gcMs: part(t.gcMs) } };
}
