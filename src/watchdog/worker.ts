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
import { startPoolProbe, type PoolProbeConfig, type PoolProbeHandle } from './pool-probe';

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
/** Times its wait on this thread's event loop: a synchronous sleep must respect `queued` and `nextTickAt`. */
let poolProbe: PoolProbeHandle | undefined;
/** How long to watch the main thread's scheduler counters before judging preemption. */
const PREEMPTION_PROBE_MS = 10;

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
  let sample: CaptureSample | null = null;
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
    const [requestId, method, route, asyncId, expected, afterResponse] = Array.isArray(value) ? (value as ProbeResult) : [0, '', null, 0, 0, 0];
    if (requestId === ARRIVED_DURING_STALL) return null;
    // Read while still paused: the frames' positions are exact and the sources cached.
    const advice = await adviseOnPause(frames, stack, scriptSources, at - asked).catch(() => null);
    sample = {
      window,
      at,
      asyncId,
      request: requestId ? { id: requestId, method, route, afterResponse: afterResponse === 1 } : null,
      stack,
      advice,
      expected: expected === 1,
      pausedMs: 0,
    };
    return sample;
  } finally {
    // The main thread was certainly paused from `at` (the event had arrived) until the
    // resume is sent: loopguard's time, not the culprit's. Measured to the resume's reply
    // it would also hold this worker's own wait for a CPU on a busy machine.
    const resumedAt = epochNow();
    await post('Debugger.resume').catch(() => undefined);
    if (sample !== null) sample.pausedMs = resumedAt - at;
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

/** Sleeps until the heartbeat would be `captureAfterMs` late, then looks. */
function schedule(): void {
  if (closed) return;
  const lateBy = shared.blockedForMs(epochNow());
  const wait = Math.max(1, config.captureAfterMs - lateBy);
  timer = setTimeout(check, wait);
}

function check(): void {
  if (closed) return;
  const window = shared.window;
  if (!shared.captureAllowed || shared.blockedForMs(epochNow()) < config.captureAfterMs) return schedule();
  watchStall(window).then(
    () => schedule(),
    (err: unknown) => {
      parentPort?.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
      schedule();
    },
  );
}

function close(): void {
  closed = true;
  if (timer) clearTimeout(timer);
  metricsServer?.close();
  poolProbe?.stop();
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
  if (config.poolProbe) poolProbe = startPoolProbe(config.poolProbe);
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
  schedule();
}

main().catch((err: unknown) => {
  parentPort?.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  close();
});
