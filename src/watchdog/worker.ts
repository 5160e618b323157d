/**
 * The watchdog: a worker thread that notices a stale heartbeat while the
 * stall is still going, pauses the main thread through the inspector, reads
 * the stack and the culprit request, and resumes it. It never runs the
 * main thread's code except the probe expression, and discards a capture
 * whenever the loop turned before the pause landed.
 */
import { Session } from 'node:inspector';
import { dirname, sep } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { CaptureSample } from '../core/attribution';
import { ARRIVED_DURING_STALL, PROBE_EXPRESSION, type ProbeResult } from './probe';
import { normaliseFrames, type ProtocolCallFrame } from './frames';
import { adviseOnPause, ScriptSources } from './pause-advice';
import { mostlyPreempted, readSchedstat } from './preemption';
import { epochNow, SharedState } from './shared-state';
import { startMetricsServer, type MetricsServer, type MetricsServerConfig } from './metrics-server';
import { startPoolProbe, type PoolProbeConfig } from './pool-probe';

export interface WatchdogConfig {
  buffer: SharedArrayBuffer;
  captureAfterMs: number;
  /** Pause again this often while the same stall goes on (back-to-back culprits). */
  resampleMs: number;
  maxSamplesPerStall: number;
  maxStackFrames: number;
  /** False: never connect the inspector; the worker runs only for the metrics endpoint. @default true */
  captureStacks?: boolean;
  metricsServer?: MetricsServerConfig;
  /** The thread-pool probe, when on. */
  poolProbe?: PoolProbeConfig;
}

export interface SamplesMessage {
  type: 'samples';
  window: number;
  samples: CaptureSample[];
}

const config = workerData as WatchdogConfig;
/** loopguard's compiled code (dist/); this file lives in dist/watchdog. */
const OWN_CODE = `${dirname(__dirname)}${sep}`;
const shared = new SharedState(config.buffer);
const session = new Session();
const scriptUrls = new Map<string, string>();
const scriptSources = new ScriptSources(async (scriptId) =>
  (await post<{ scriptSource: string }>('Debugger.getScriptSource', { scriptId })).scriptSource);
let onPaused: ((frames: ProtocolCallFrame[]) => void) | undefined;
let closed = false;
let timer: NodeJS.Timeout | undefined;
let metricsServer: MetricsServer | undefined;
let stopPoolProbe: (() => void) | undefined;
/** How long to watch the main thread's scheduler counters before judging preemption. */
const PREEMPTION_PROBE_MS = 10;
/** How long the worker may sleep in Atomics.wait before its own event loop gets a turn. */
const YIELD_EVERY_MS = 1000;

function post<T = unknown>(method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    session.post(method, params ?? {}, (err: Error | null, result?: unknown) => (err ? reject(err) : resolve(result as T)));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function captureOnce(window: number): Promise<CaptureSample | null> {
  shared.capturing = window;
  if (shared.window !== window) return null;
  const paused = new Promise<ProtocolCallFrame[]>((resolve) => (onPaused = resolve));
  const asked = epochNow();
  await post('Debugger.pause');
  const frames = await paused;
  const at = epochNow();
  try {
    // The loop turned before the pause landed: these frames are not the stall's.
    if (shared.window !== window) return null;
    const probe = await post<{ result?: { value?: unknown } }>('Runtime.evaluate', {
      expression: PROBE_EXPRESSION,
      returnByValue: true,
      silent: true,
    });
    const value = probe.result?.value;
    const stack = normaliseFrames(frames, (id) => scriptUrls.get(id), config.maxStackFrames);
    // Only Node's own frames (timers, ticks), or loopguard's own code on top (it never
    // blocks): the pause landed after the stall, in whatever ran next.
    if (stack.every((f) => f.url === '' || f.url.startsWith('node:'))) return null;
    if (stack[0] !== undefined && stack[0].url.startsWith(OWN_CODE)) return null;
    const [requestId, method, route, asyncId] = Array.isArray(value) ? (value as ProbeResult) : [0, '', null, 0];
    if (requestId === ARRIVED_DURING_STALL) return null;
    // Read while still paused: the frames' positions are exact and the sources cached.
    const advice = await adviseOnPause(frames, stack, scriptSources, at - asked).catch(() => null);
    return {
      window,
      at,
      asyncId,
      request: requestId ? { id: requestId, method, route } : null,
      stack,
      advice,
    };
  } finally {
    await post('Debugger.resume').catch(() => undefined);
  }
}

async function watchStall(window: number): Promise<void> {
  const samples: CaptureSample[] = [];
  while (!closed && shared.window === window && samples.length < config.maxSamplesPerStall) {
    // Descheduled, not blocked: a pause now would land on an innocent callback.
    // Judged over a short look taken only now (the main thread's tid is the pid
    // on Linux), so a healthy process pays nothing for it.
    const before = readSchedstat(process.pid);
    await sleep(PREEMPTION_PROBE_MS);
    if (shared.window !== window) break;
    if (!mostlyPreempted(before, readSchedstat(process.pid))) {
      const sample = await captureOnce(window);
      if (sample) samples.push(sample);
    }
    if (shared.window !== window) break;
    await sleep(config.resampleMs);
  }
  // Posted even when empty, so the main thread stops waiting for this window at once.
  parentPort?.postMessage({ type: 'samples', window, samples } satisfies SamplesMessage);
}

/**
 * While the loop turns, the worker sleeps in `Atomics.wait` on the heartbeat
 * word until the heartbeat would be `captureAfterMs` late, then looks, and
 * sleeps again: its own event loop does not turn. Measured on these VMs
 * (2026-12-01, idle processes side by side, 20 s): a worker waking ~16 times
 * a second costs +0.05 pp of a core this way and +0.20 pp with a timer,
 * whose every wake-up is a full event-loop turn. The event loop gets a turn
 * about once a second (queued inspector events, messages) and for every
 * capture. `requestClose` from the main thread ends a sleep at once.
 */
function watch(): void {
  const yieldAt = performance.now() + YIELD_EVERY_MS;
  while (!closed) {
    if (shared.closeRequested) return close();
    const late = shared.blockedForMs(epochNow());
    if (late >= config.captureAfterMs && shared.captureAllowed) return capture(shared.window);
    if (performance.now() >= yieldAt) {
      setImmediate(watch);
      return;
    }
    shared.sleep(Math.max(1, config.captureAfterMs - late));
  }
}

/**
 * With the metrics endpoint in this worker its event loop must stay free to
 * answer scrapes: a timer sleeps instead (one event-loop turn per look).
 */
function schedule(): void {
  if (closed) return;
  const lateBy = shared.blockedForMs(epochNow());
  const wait = Math.max(1, config.captureAfterMs - lateBy);
  timer = setTimeout(check, wait);
}

function check(): void {
  if (closed) return;
  if (!shared.captureAllowed || shared.blockedForMs(epochNow()) < config.captureAfterMs) return schedule();
  capture(shared.window);
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
  stopPoolProbe?.();
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
  });
  if (config.metricsServer && parentPort) metricsServer = startMetricsServer(config.metricsServer, shared, parentPort);
  if (config.poolProbe) stopPoolProbe = startPoolProbe(config.poolProbe);
  if (config.captureStacks === false) {
    parentPort?.postMessage({ type: 'ready' });
    return;
  }
  session.connectToMainThread();
  session.on('Debugger.scriptParsed', (message: { params: { scriptId: string; url: string } }) => {
    if (message.params.url) scriptUrls.set(message.params.scriptId, message.params.url);
  });
  session.on('Debugger.paused', (message: { params: { callFrames: ProtocolCallFrame[] } }) => {
    const resolve = onPaused;
    onPaused = undefined;
    if (resolve) resolve(message.params.callFrames);
    else post('Debugger.resume').catch(() => undefined); // not ours: never leave the app paused
  });
  await post('Debugger.enable');
  parentPort?.postMessage({ type: 'ready' });
  resume();
}

main().catch((err: unknown) => {
  parentPort?.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  close();
});
