/**
 * The watchdog: a worker thread that notices a stale heartbeat while the
 * stall is still going and runs the probe on the main thread through the
 * inspector (`Runtime.evaluate`: a V8 interrupt on top of the blocking code,
 * no pause), which returns the stack and the culprit request. It never runs
 * the main thread's code except the probe expressions, and discards a
 * capture whenever the loop turned before the probe ran.
 */
import { Session } from 'node:inspector';
import { dirname, sep } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { CaptureSample } from '../contract/messages';
import { readFile } from 'node:fs/promises';
import { ARRIVED_DURING_STALL, probeExpression, type ProbeResult } from '../contract/probe';
import { normaliseFrames } from '../contract/frames';
import { adviseOnPause, ScriptSources } from './pause-advice';
import { BusySampler } from './busy-sampler';
import { mostlyPreempted, openThreadClock, type ThreadClock } from './thread-clock';
import { measurementBetween, MIN_WINDOW_MS, StallClock } from './stall-clock';
import type { ThreadClockSample } from './thread-clock';
import { epochNow, SharedState } from '../contract/shared-state';
import { startMetricsServer, type MetricsServer } from './metrics-server';
import { startPoolProbe, type PoolProbeHandle } from './pool-probe';
import type { SamplesMessage, ThreadReachableMessage, ThreadSamplesMessage, WatchdogConfig } from '../contract/messages';
import { WatchedThreads, type WatchedThread } from './threads';



const config = workerData as WatchdogConfig;
/** loopguard's compiled code (dist/); this file lives in dist/watchdog. */
const OWN_CODE = `${dirname(__dirname)}${sep}`;
const shared = new SharedState(config.buffer);
const session = new Session();
const captureExpression = probeExpression(config.maxStackFrames, config.probeId);
/** Worker threads watched beside the main thread (watchdog/threads.ts). */
const threads = new WatchedThreads(session, config.captureStacks !== false, config.maxStackFrames, (threadId) =>
  parentPort?.postMessage({ type: 'thread:reachable', threadId } satisfies ThreadReachableMessage),
);

/** A loop to capture: the main thread's, or a watched worker thread's. */
interface CaptureTarget {
  readonly state: SharedState;
  /** Runs the capture probe there; its value (undefined: no answer). */
  probe(): Promise<unknown>;
}

const mainTarget: CaptureTarget = {
  state: shared,
  probe: async () =>
    (await post<{ result?: { value?: unknown } }>('Runtime.evaluate', { expression: captureExpression, returnByValue: true, silent: true })).result?.value,
};
// Without the Debugger domain the culprit's source is read from its file (absolute paths only).
const scriptSources = new ScriptSources(async (path) => {
  if (!path.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(path)) throw new Error('not a file');
  return readFile(path, 'utf8');
});
let closed = false;
let timer: NodeJS.Timeout | undefined;
let metricsServer: MetricsServer | undefined;
/** Times its wait on this thread's event loop: a synchronous sleep must respect `queued` and `nextTickAt`. */
let poolProbe: PoolProbeHandle | undefined;
let busySampler: BusySampler | undefined;
/** The main thread's clock (schedstat, stat, cgroup cpu.stat): opened once, read only while a stall lasts. */
let threadClock: ThreadClock | undefined;
let stallClock: StallClock | undefined;
/**
 * The main thread's clock read at the first look in each heartbeat window
 * (while the heartbeat is on time):
 * the start of a stall's measurement when the watchdog itself could not run
 * (a CPU quota throttles every thread of the process) and detected late, or
 * not at all. One read of three small files per window while the loop turns.
 */
let baseline: { window: number; sample: ThreadClockSample } | undefined;
let missedHandled = 0;
/** How long to watch the main thread's scheduler counters before judging preemption. */
const PREEMPTION_LOOK_MS = 10;
/** How long the worker may sleep in Atomics.wait before its own event loop gets a turn. */
const YIELD_EVERY_MS = 1000;
/** The same while the main loop is idle (heartbeat at its idle pace): close and capture do not need the turn. */
const IDLE_YIELD_EVERY_MS = 5000;

function post<T = unknown>(method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    session.post(method, params ?? {}, (err: Error | null, result?: unknown) => (err ? reject(err) : resolve(result as T)));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function captureOnce(window: number, target: CaptureTarget = mainTarget): Promise<CaptureSample | null> {
  target.state.capturing = window;
  if (target.state.window !== window) return null;
  const asked = epochNow();
  const value = await target.probe();
  if (typeof value !== 'object' || value === null) return null;
  const { requestId, method, route, asyncId, expected, afterResponse, task, at, frames, window: probedWindow } = value as ProbeResult;
  // The loop turned before the probe ran: what it saw is not the stall's.
  if (probedWindow !== window) return null;
  const stack = normaliseFrames(frames, config.maxStackFrames);
  // Only Node's own frames (timers, ticks), or loopguard's own code on top (it never
  // blocks): the probe landed after the stall, in whatever ran next.
  if (stack.every((f) => f.url === '' || f.url.startsWith('node:'))) return null;
  if (stack[0] !== undefined && stack[0].url.startsWith(OWN_CODE)) return null;
  if (requestId === ARRIVED_DURING_STALL) return null;
  const advice = await adviseOnPause(frames, stack, scriptSources, at - asked, config.captureAfterMs).catch(() => null);
  return {
    window,
    at,
    asyncId,
    request: requestId ? { id: requestId, method, route, afterResponse, ...(task === true && { task: true }) } : null,
    stack,
    advice,
    expected,
    // No pause: the probe runs in place and returns at once.
    pausedMs: 0,
  };
}

async function watchStall(window: number): Promise<void> {
  const samples: CaptureSample[] = [];
  const stalled = (): boolean => shared.window === window;
  // Watching from now: the main thread waits for this window's message.
  shared.capturing = window;
  // Read from detection to the stall's end, or from before it when this thread was held too.
  const heldToo = -shared.msUntilLate(epochNow(), config.captureAfterMs) > Math.max(MIN_WINDOW_MS, config.captureAfterMs);
  const from = heldToo ? baselineFor(window) : undefined;
  const clock = threadClock === undefined ? undefined : (stallClock = new StallClock(threadClock, stalled, from));
  while (!closed && stalled() && samples.length < config.maxSamplesPerStall) {
    // Descheduled, not blocked: a probe now would land wherever the thread
    // resumes. Judged over a short look taken only now, so a healthy process
    // pays nothing for it; such a sample names the interrupted request of a
    // host stall and blames no one.
    const before = clock?.look();
    await sleep(PREEMPTION_LOOK_MS);
    if (!stalled()) break;
    const preempted = mostlyPreempted(before, clock?.look());
    const sample = await captureOnce(window);
    if (sample) samples.push(preempted ? { ...sample, preempted } : sample);
    if (!stalled()) break;
    await sleep(config.resampleMs);
  }
  // Enough samples: the clock still wants the stall's end.
  if (clock !== undefined && !closed) await clock.ended;
  clock?.stop();
  stallClock = undefined;
  // Posted even when empty, so the main thread stops waiting for this window at once.
  parentPort?.postMessage({ type: 'samples', window, samples, threadTime: clock?.measurement() ?? null } satisfies SamplesMessage);
}

/**
 * A watched worker thread's stall: probed as the main thread's is, without
 * the preemption look (the worker's kernel thread id is not known here).
 * One capture at a time: while it lasts, the others wait for it.
 */
async function watchThreadStall(thread: WatchedThread, window: number): Promise<void> {
  thread.capturedWindow = window;
  const target: CaptureTarget = { state: thread.state, probe: () => threads.evaluate(thread) };
  const samples: CaptureSample[] = [];
  while (!closed && thread.state.window === window && samples.length < config.maxSamplesPerStall && threads.reachable(thread)) {
    const sample = await captureOnce(window, target);
    if (sample) samples.push(sample);
    if (thread.state.window !== window) break;
    await sleep(config.resampleMs);
  }
  parentPort?.postMessage({ type: 'thread:samples', threadId: thread.threadId, window, samples } satisfies ThreadSamplesMessage);
}

function captureThread(thread: WatchedThread): void {
  watchThreadStall(thread, thread.state.window).then(resume, (err: unknown) => {
    parentPort?.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    resume();
  });
}

/**
 * While the loop turns, the worker sleeps in `Atomics.wait` on the heartbeat
 * word until the heartbeat would be `captureAfterMs` late, then looks, and
 * sleeps again: its own event loop does not turn. Measured on these VMs
 * (2026-12-01, idle processes side by side, 20 s): a worker waking ~16 times
 * a second costs +0.05 pp of a core this way and +0.20 pp with a timer,
 * whose every wake-up is a full event-loop turn. The event loop gets a turn
 * about once a second (queued inspector events, messages), for every
 * capture, and when the busy sampler's or the pool probe's timer is due.
 * `requestClose` from the main thread ends a sleep at once.
 */
function watch(): void {
  const yieldAt = performance.now() + (shared.idle ? IDLE_YIELD_EVERY_MS : YIELD_EVERY_MS);
  while (!closed) {
    if (shared.closeRequested) return close();
    lookAtMainClock();
    const untilLate = shared.msUntilLate(epochNow(), config.captureAfterMs);
    if (untilLate <= 0 && shared.captureAllowed) return capture(shared.window);
    const thread = threads.nextLate(epochNow(), config.captureAfterMs);
    if (thread !== undefined && thread.inMs <= 0) return captureThread(thread.thread);
    const sleepMs = Math.min(untilLate > 0 ? untilLate : config.captureAfterMs, thread?.inMs ?? Infinity);
    const now = performance.now();
    // The busy sampler's and the pool probe's timers need this thread's event loop by their time.
    const loopDue = Math.min(yieldAt, loopNeededAt(now));
    if (loopDue <= now + 1) {
      // A queued pool probe's completion wakes this loop by itself: wait for it there, on a
      // timer that keeps the heartbeat checks going. Never spin: a saturated pool can hold it for seconds.
      if (poolProbe?.queued) timer = setTimeout(watch, Math.max(1, Math.min(sleepMs, yieldAt - now)));
      else setImmediate(watch);
      return;
    }
    // Asleep until the heartbeat would be late (the main thread wakes this wait
    // early when its period shortens: shared.rebase) or the loop is needed.
    // A wake-up by the main thread (a thread joined, or a worker's heartbeat left its idle
    // pace) turns the loop once: a joined thread's message waits there.
    if (shared.sleep(Math.max(1, Math.min(sleepMs, loopDue - now))) === 'ok') {
      setImmediate(watch);
      return;
    }
  }
}

/**
 * Keeps one reading of the main thread's clock per heartbeat window, and
 * answers the main thread's question about a stall this thread did not watch:
 * the clock from that window's reading to now.
 */
function lookAtMainClock(): void {
  if (threadClock === undefined) return;
  const missed = shared.missed;
  if (missed !== missedHandled) {
    missedHandled = missed;
    const from = baselineFor(missed);
    const threadTime = from === undefined ? null : measurementBetween(from, threadClock.read(), threadClock.unavailable);
    parentPort?.postMessage({ type: 'samples', window: missed, samples: [], threadTime } satisfies SamplesMessage);
  }
  // Only while the heartbeat is not late yet: a first look that finds a stall
  // comes after the host let this thread run again, too late to be its start.
  // And only at the busy pace (a request in flight): at the idle pace these
  // reads were a third of loopguard's idle CPU (Node 24: 0.30 → 0.45 % of a
  // core), and a stall that begins idle is measured from its detection, which
  // misses only a wait that held this thread too (a CPU quota).
  const window = shared.window;
  if (shared.idle) baseline = undefined;
  else if (baseline?.window !== window && shared.msUntilLate(epochNow(), config.captureAfterMs) > 0) baseline = { window, sample: threadClock.read(false) };
}

/**
 * A reading from before window `window`'s stall: this thread's last look
 * while the heartbeat was on time. It looks about once per capture delay, not
 * every beat, so that look may be a few windows back (at most the windows of
 * one capture delay, and two for the beat and the look in between).
 */
function baselineFor(window: number): ThreadClockSample | undefined {
  if (baseline === undefined || baseline.window > window) return undefined;
  const windowsPerLook = Math.ceil(config.captureAfterMs / Math.max(1, shared.periodMs)) + 2;
  return window - baseline.window <= windowsPerLook ? baseline.sample : undefined;
}

/** When this thread's event loop must next turn for the other samplers (performance.now() ms). */
function loopNeededAt(now: number): number {
  let due = Infinity;
  if (busySampler !== undefined) due = busySampler.nextAt;
  if (poolProbe !== undefined) due = poolProbe.queued ? now : Math.min(due, now + (poolProbe.nextTickAt - epochNow()));
  return due;
}

/**
 * With the metrics endpoint in this worker its event loop must stay free to
 * answer scrapes: a timer sleeps instead (one event-loop turn per look).
 */
function schedule(): void {
  if (closed) return;
  const untilLate = shared.msUntilLate(epochNow(), config.captureAfterMs);
  const thread = threads.nextLate(epochNow(), config.captureAfterMs);
  timer = setTimeout(check, Math.max(1, Math.min(untilLate > 0 ? untilLate : config.captureAfterMs, thread?.inMs ?? Infinity)));
}

function check(): void {
  if (closed) return;
  lookAtMainClock();
  if (shared.captureAllowed && shared.msUntilLate(epochNow(), config.captureAfterMs) <= 0) return capture(shared.window);
  const thread = threads.nextLate(epochNow(), config.captureAfterMs);
  if (thread !== undefined && thread.inMs <= 0) return captureThread(thread.thread);
  schedule();
}

const resume = (): void => (metricsServer === undefined ? watch() : schedule());

function capture(window: number): void {
  watchStall(window).then(resume, (err: unknown) => {
    parentPort?.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    resume();
  });
}

function close(): void {
  if (closed) return;
  closed = true;
  if (timer) clearTimeout(timer);
  metricsServer?.close();
  poolProbe?.stop();
  busySampler?.stop();
  stallClock?.stop();
  threadClock?.close();
  try {
    session.disconnect();
  } catch {
    // Already disconnected.
  }
  shared.markDisconnected();
  parentPort?.close();
}

async function main(): Promise<void> {
  // Listening on the port also keeps this worker alive: inspector sessions hold no handle of their own.
  parentPort?.on('message', (message: unknown) => {
    if (message === 'close') close();
    else threads.handle(message);
  });
  if (config.metricsServer && parentPort) metricsServer = startMetricsServer(config.metricsServer, shared, parentPort);
  if (config.poolProbe) poolProbe = startPoolProbe(config.poolProbe, () => shared.idle);
  if (config.captureStacks === false && config.busy === undefined) {
    parentPort?.postMessage({ type: 'ready' });
    return;
  }
  // No Debugger domain: with it enabled every evaluated probe is kept as a
  // script for the life of the process (native memory grows with each one).
  session.connectToMainThread();
  parentPort?.postMessage({ type: 'ready' });
  if (config.busy !== undefined) {
    // Its timer needs this thread's event loop: watch() ends its sleep by busySampler.nextAt.
    busySampler = new BusySampler(session, config.busy);
    busySampler.start();
  }
  if (config.captureStacks !== false) {
    threadClock = openThreadClock(process.pid);
    resume();
  }
}

main().catch((err: unknown) => {
  parentPort?.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  close();
});
