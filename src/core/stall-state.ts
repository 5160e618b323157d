/**
 * What the loop's thread was doing during a stall: computing, parked in a
 * blocking call, collecting garbage, or not running at all because the host
 * gave its CPU to someone else or the container's CPU quota ran out.
 *
 * Pure: the watchdog measures (thread-clock.ts, GC entries), this decides.
 *
 * The rule, in order:
 * 1. **gc** when GC pauses cover at least half of the stall (GC entries cover
 *    the whole stall, so they are compared with `durationMs`). First, because
 *    during a parallel collection the main thread mostly waits: for V8's
 *    helper threads (asleep, looks parked) and behind them for a CPU (runnable,
 *    looks like host). Measured: a 452 ms full GC, 90 ms on a CPU, 352 ms
 *    waiting. A GC pause the host stretched is no route's fault either way.
 * 2. **host** when the thread spent at least half of the stall runnable but
 *    not running (`waitingMs`, which includes CFS throttling) *and* its own
 *    time (everything but that wait) would not have been a stall on an idle
 *    machine (`ownMs < thresholdMs`). The second clause is the positive
 *    control: a real 300 ms CPU culprit on a loaded 2-core CI machine (load 4)
 *    gets ~40 % of a CPU and waits ~60 % of the stretched stall; a share rule
 *    alone would call it host and excuse the route. Its own 300 ms are still
 *    three times a 100 ms threshold, so it stays with the route. A fast route
 *    preempted for 400 ms has a few ms of its own.
 *    Also **host** when the thread looked asleep while its cgroup was
 *    throttled: no code was caught running (`codeRunning` false), the cgroup
 *    was throttled at least half the window and the thread's time on a CPU
 *    would not have been a stall. The kernel adds a wait to a thread's
 *    schedstat only when the thread runs again: a reading taken before that
 *    (the watchdog itself throttled, or closing) shows sleep where there was
 *    wait (measured: a 470 ms window, 0.15 ms of wait, the group throttled
 *    throughout). A culprit asleep in a blocking call is caught by the probe
 *    when the call returns, inside its callback, so it stays parked.
 *    And the wait came in long stretches: on average at least half the
 *    threshold between two runs. Time-sharing a loaded CPU cuts the wait
 *    into scheduler slices of a few ms (measured on the live-page scenario at
 *    load 2.7: a culprit spinning 250 ms of wall clock got 66 ms of CPU in a
 *    275 ms stall and read as host); a preempting task or a spent quota
 *    keeps the thread off for one long stretch (400 ms between two runs).
 *    Time-sharing stretches a culprit; it does not make a stall of nothing.
 *    A wait that was mostly throttling is one long stretch by nature.
 * 3. Of the thread's own time, **cpu** when at least half of it was on a CPU,
 *    else **parked** (asleep in a syscall, a wait or a page fault). Measured
 *    shares are > 95 % and < 1 % (docs/stall-state.md), so half leaves a wide
 *    margin either way.
 *
 * The report's `threadTime` is scaled to the whole stall: the watchdog reads
 * from detection on, and the shares of that window stand for the stall (the
 * part before detection, `captureAfterMs`, is not read). `gcMs` is measured
 * over the whole stall.
 *
 * Unknown inputs: without schedstat (not Linux, no procfs) cpu, parked and
 * host-by-preemption cannot be told apart, and the state is `null` unless GC
 * or measured throttling alone decides it: a guess would put wrong advice in
 * the report.
 */

import type { STALL_THREAD_STATES } from '../catalogue';
import type { StallState, ThreadTime } from '../contract/thread-time';

export type { StallState, ThreadTime };

export interface StallStateInput extends ThreadTime {
  /** The stall's length, from the heartbeat. */
  durationMs: number;
  /**
   * The wall time `onCpuMs`, `waitingMs` and `throttledMs` were measured over,
   * when that is not the whole stall (the watchdog starts reading at
   * detection). Shares are taken over this window and applied to the stall.
   * @default durationMs
   */
  windowMs?: number;
  /** The guard's stall threshold: own time below it would not have been a stall. */
  thresholdMs: number;
  /** The cgroup's own throttled time in the window (not clamped to the thread's wait); null where unknown. */
  cgroupThrottledMs?: number | null;
  /** The watchdog caught code holding the loop (a sample outside Node's own frames). @default true */
  codeRunning?: boolean;
  /** Times the thread was put on a CPU in the window (schedstat's third field); null where unknown. */
  timeslices?: number | null;
}

export interface StallStateResult {
  state: StallState | null;
  threadTime: ThreadTime;
  /** The host, not the code that ran, made this a stall: never blamed on a route, never shed. */
  hostCaused: boolean;
}

/** At or above this share of the stall, a kind of time is what the stall was. */
const DOMINANT_SHARE = 0.5;

export function classifyStall(input: StallStateInput): StallStateResult {
  const measured: ThreadTime = {
    onCpuMs: known(input.onCpuMs),
    waitingMs: known(input.waitingMs),
    throttledMs: known(input.throttledMs),
    gcMs: known(input.gcMs),
  };
  let state = decide(input, measured);
  if (state === 'parked' && asleepWhileThrottled(input, measured)) {
    state = 'host';
    // What held it was the quota, not a wait the thread's schedstat saw.
    measured.throttledMs = Math.max(measured.throttledMs ?? 0, known(input.cgroupThrottledMs) ?? 0);
  }
  return { state, threadTime: overTheStall(input, measured), hostCaused: state === 'host' };
}

function decide(input: StallStateInput, t: ThreadTime): StallState | null {
  const durationMs = known(input.durationMs);
  if (durationMs === null || durationMs <= 0) return null;
  if (t.gcMs !== null && t.gcMs >= DOMINANT_SHARE * durationMs) return 'gc';
  const windowMs = known(input.windowMs ?? null) ?? durationMs;
  if (windowMs <= 0) return null;

  // Throttling shows up as run-queue wait in schedstat, so the wait already
  // holds it; throttling alone is the evidence only where schedstat is missing.
  const hostMs = t.waitingMs ?? t.throttledMs;
  if (hostMs !== null) {
    const hostShare = hostMs / windowMs;
    const ownMs = (1 - hostShare) * durationMs;
    if (hostShare >= DOMINANT_SHARE && ownMs < input.thresholdMs && longWaits(input, hostMs)) return 'host';
  }
  if (t.onCpuMs === null || t.waitingMs === null) return null;
  const ownMs = Math.max(0, windowMs - t.waitingMs);
  return t.onCpuMs >= DOMINANT_SHARE * ownMs ? 'cpu' : 'parked';
}

/**
 * The wait between the thread's runs averaged at least half the threshold
 * (unknown slices: assumed so), or it was mostly throttling, which holds the
 * thread until the quota's period ends: one long stretch whatever the runs
 * around it (a window that starts before the stall counts their slices too).
 */
function longWaits(input: StallStateInput, waitMs: number): boolean {
  const throttled = known(input.throttledMs);
  if (throttled !== null && throttled >= DOMINANT_SHARE * waitMs) return true;
  const slices = known(input.timeslices ?? null);
  if (slices === null) return true;
  return waitMs / Math.max(1, slices) >= input.thresholdMs / 2;
}

function asleepWhileThrottled(input: StallStateInput, t: ThreadTime): boolean {
  const throttled = known(input.cgroupThrottledMs);
  const durationMs = known(input.durationMs) ?? 0;
  const windowMs = known(input.windowMs ?? null) ?? durationMs;
  if (input.codeRunning !== false || throttled === null || windowMs <= 0 || t.onCpuMs === null) return false;
  return throttled >= DOMINANT_SHARE * windowMs && (t.onCpuMs / windowMs) * durationMs < input.thresholdMs;
}

function known(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : null;
}

/** The window's shares applied to the whole stall, each part at most the stall, to 0.1 ms. */
function overTheStall(input: StallStateInput, t: ThreadTime): ThreadTime {
  const durationMs = known(input.durationMs) ?? 0;
  const windowMs = known(input.windowMs ?? null) ?? durationMs;
  const scale = windowMs > 0 ? durationMs / windowMs : 1;
  const part = (ms: number | null, factor: number): number | null => (ms === null ? null : Math.round(Math.min(durationMs, ms * factor) * 10) / 10);
  return { onCpuMs: part(t.onCpuMs, scale), waitingMs: part(t.waitingMs, scale), throttledMs: part(t.throttledMs, scale), gcMs: part(t.gcMs, 1) };
}

/** A `state` label value of `loopguard_stall_thread_seconds_total`. */
export type ThreadSecondsState = (typeof STALL_THREAD_STATES)[number];

/**
 * One stall's time split by what its thread was doing, ms, adding up to the
 * stall: `gc` first (GC pauses run on a CPU or wait like any code, so the
 * other parts are taken from the rest in their measured proportions), then
 * `cpu`, `host` (waiting for a CPU another task held), `throttled` (waiting
 * because the CPU quota ran out), `parked` (neither running nor waiting:
 * asleep in a call) and `unknown` (not measured).
 */
export function threadTimeByState(durationMs: number, t: ThreadTime): Record<ThreadSecondsState, number> {
  const out: Record<ThreadSecondsState, number> = { cpu: 0, parked: 0, gc: 0, host: 0, throttled: 0, unknown: 0 };
  const total = known(durationMs) ?? 0;
  out.gc = Math.min(total, t.gcMs ?? 0);
  const rest = total - out.gc;
  if (rest <= 0) return out;
  const share = total > 0 ? rest / total : 0;
  if (t.onCpuMs !== null && t.waitingMs !== null) {
    let cpu = t.onCpuMs * share;
    let waiting = t.waitingMs * share;
    // Readings a few ms apart from the heartbeat's measure can add up past the stall.
    if (cpu + waiting > rest) {
      const f = rest / (cpu + waiting);
      cpu *= f;
      waiting *= f;
    }
      // Throttled time is mostly inside the wait; a thread woken inside a throttled group shows it as sleep instead.
    const throttled = Math.min(rest - cpu, (t.throttledMs ?? 0) * share);
    const host = Math.max(0, Math.min(rest - cpu - throttled, waiting - throttled));
    out.cpu = cpu;
    out.throttled = throttled;
    out.host = host;
    out.parked = Math.max(0, rest - cpu - throttled - host);
  } else {
    out.throttled = Math.min(rest, (t.throttledMs ?? 0) * share);
    out.unknown = rest - out.throttled;
  }
  return out;
}
