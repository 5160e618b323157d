/**
 * What the main thread and the watchdog worker send each other: the
 * worker's start-time configuration (workerData), its captures, and the
 * metrics endpoint's requests and answers. Types only: both threads import
 * them, neither imports the other's code.
 */
import type { Advice } from './advice';
import type { StackFrame } from './frames';
import type { ThreadTimeMeasurement } from './thread-time';

/** The key of `WatchdogConfig`'s mark (see `isWatchdogThread`). */
export const WATCHDOG_MARK = 'loopguard.watchdog';

/** Whether this worker's `workerData` is a watchdog's configuration. */
export function isWatchdogThread(workerData: unknown): boolean {
  return typeof workerData === 'object' && workerData !== null && (workerData as Record<string, unknown>)[WATCHDOG_MARK] === true;
}

/** The worker's configuration, passed once as `workerData`: every part of the worker is declared here. */
export interface WatchdogConfig {
  /** Marks the watchdog's own thread: the zero-code start, inherited by every worker, leaves it alone. */
  [WATCHDOG_MARK]?: true;
  buffer: SharedArrayBuffer;
  captureAfterMs: number;
  /** Probe again this often while the same stall goes on (back-to-back culprits). */
  resampleMs: number;
  maxSamplesPerStall: number;
  maxStackFrames: number;
  /** The guard's id for the capture probe (its heartbeat window). */
  probeId: number;
  /** False: never connect the inspector; the worker runs only for the parts below. @default true */
  captureStacks?: boolean;
  metricsServer?: MetricsServerConfig;
  /** The thread-pool probe, when on. */
  poolProbe?: PoolProbeConfig;
  /** Busy-time sampling; absent: off. */
  busy?: BusySamplerConfig;
}

export interface MetricsServerConfig {
  host: string;
  port: number;
  path: string;
  mainThreadTimeoutMs: number;
  /** The family whose value the worker knows better than a cached exposition. */
  blockedGauge: Omit<MetricJson, 'values'>;
}

export interface PoolProbeConfig {
  buffer: SharedArrayBuffer;
  /** Histogram upper bounds, seconds (from the catalogue). */
  bounds: readonly number[];
  /** One probe per this many milliseconds at most. */
  intervalMs: number;
}

export interface BusySamplerConfig {
  sinkId: number;
  sampleHz: number;
  /** `BUSY_SHARED_BYTES` shared with the guard's busy time: idle samples counted here, the pending sample's ask time. */
  shared?: SharedArrayBuffer;
}

/** What the watchdog saw at one capture probe of the main thread. */
export interface CaptureSample {
  /** Heartbeat window the sample belongs to. */
  window: number;
  /** Epoch ms at which the probe ran. */
  at: number;
  /** `executionAsyncId()` of the interrupted callback: one id, one callback. */
  asyncId: number;
  /** The culprit request's context, when the interrupted code ran inside one. */
  request: CapturedRequest | null;
  stack: StackFrame[];
  /** What the interrupted code was doing, read from its frames and source (see advice/classify). */
  advice?: Advice | null;
  /** The interrupted code ran inside `guard.expectBlocking(fn)`. */
  expected?: boolean;
  /** How long the main thread stayed paused for this sample, ms (precise own time takes it off). */
  pausedMs?: number;
  /**
   * Taken while the main thread was mostly waiting for a CPU (schedstat over
   * a short look): the probe ran wherever the thread resumed, so the sample
   * names the interrupted request of a host stall but blames no one.
   */
  preempted?: boolean;
}

export interface CapturedRequest {
  id: number;
  method: string;
  /** Null when routing had not happened yet (e.g. blocking inside body parsing). */
  route: string | null;
  /** The request had been answered: this is work it left behind (a timer, the rest of an async handler). */
  afterResponse: boolean;
  /** A pool task's context (`task(name, fn)`): `route` is the task's name, the report's cause `task`. */
  task?: boolean;
}

/** Worker → main: the samples of one stall window (posted even when empty, so the main thread stops waiting). */
export interface SamplesMessage {
  type: 'samples';
  window: number;
  samples: CaptureSample[];
  /** The main thread's clock over the stall (from detection to its end); null when the worker did not read it. */
  threadTime?: ThreadTimeMeasurement | null;
}

/** Worker → main: connected and watching, or failed. */
export type WorkerStatusMessage = { type: 'ready' } | { type: 'error'; message: string };

/** Worker → main, for the metrics endpoint. */
export type MetricsWorkerMessage =
  | { type: 'metrics:collect'; id: number }
  | { type: 'metrics:listening'; host: string; port: number; path: string }
  | { type: 'metrics:error'; message: string };

/** Main → worker: the registry as JSON, or why it could not be collected. */
export interface MetricsCollectedMessage {
  type: 'metrics:collected';
  id: number;
  metrics?: MetricJson[];
  /** The registry's content type: the endpoint answers in the same format. */
  contentType?: string;
  error?: string;
}

/** Main → worker: watch one more thread's loop (a worker thread that joined, contract/threads.ts). */
export interface WatchThreadMessage {
  type: 'thread:watch';
  threadId: number;
  label: string;
  /** The thread's heartbeat, in the contract/shared-state.ts layout. */
  buffer: SharedArrayBuffer;
  /** The thread's guard id for the capture probe, in the thread's own isolate. */
  probeId: number;
}

/** Main → worker: the thread is gone; forget it. */
export interface UnwatchThreadMessage {
  type: 'thread:unwatch';
  threadId: number;
}

/** Worker → main: the samples of one stall window of a watched worker thread (posted even when empty). */
export interface ThreadSamplesMessage {
  type: 'thread:samples';
  threadId: number;
  window: number;
  samples: CaptureSample[];
}

/**
 * Worker → main: the watchdog can probe this thread now (its NodeWorker
 * session is attached), or stopped waiting for that (a nested worker, which
 * is never attached). The main thread tells the thread it is watched then:
 * a stall that begins earlier could not be captured, and the session of a
 * worker whose loop is blocked attaches only once it turns.
 */
export interface ThreadReachableMessage {
  type: 'thread:reachable';
  threadId: number;
}

/** Everything the worker posts to the main thread. */
export type WorkerMessage = SamplesMessage | WorkerStatusMessage | MetricsWorkerMessage | ThreadSamplesMessage | ThreadReachableMessage;

export interface MetricValueJson {
  labels?: Record<string, string | number>;
  value: number;
  /** Set for series other than the family name (`_bucket`, `_sum`, `_count`). */
  metricName?: string;
}

/** One metric family as `registry.getMetricsAsJSON()` returns it. */
export interface MetricJson {
  name: string;
  help: string;
  type: string;
  aggregator?: string;
  values: MetricValueJson[];
}
