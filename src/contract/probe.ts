import type { RawFrame } from '../core/call-sites';

/**
 * The contract between the request context (main thread) and the watchdog
 * worker: a function on a well-known global symbol that the worker calls by
 * `Runtime.evaluate`. Node runs it through a V8 interrupt on top of the
 * JavaScript that holds the loop: no pause, no Debugger domain.
 */
export const PROBE_SYMBOL_NAME = 'loopguard.probe';

/**
 * What the probe returns: [requestId (0: none), method, route or null,
 * executionAsyncId, 1 inside `expectBlocking` else 0, 1 when the request had
 * already been answered (work it left behind) else 0, epoch ms when it
 * ran, the interrupted stack, the asking guard's heartbeat window when it
 * ran (-1: unknown)].
 */

/** requestId meaning: the paused request arrived after the stall began, so it cannot be its culprit. */
export const ARRIVED_DURING_STALL = -1;
export type ProbeResult = [number, string, string | null, number, number, number, number, RawFrame[], number];

/**
 * Evaluated in the global scope, it still sees the interrupted code's
 * AsyncLocalStorage store (Node 20: async_hooks resource; 24+: the
 * continuation-preserved frame). Arguments: the most frames to return, and
 * the guard's id for its heartbeat window.
 */
export function probeExpression(maxFrames: number, guardId: number): string {
  return `(function(){var p=globalThis[Symbol.for('${PROBE_SYMBOL_NAME}')];return typeof p==='function'?p(${maxFrames | 0},${guardId | 0}):null})()`;
}

/** The busy-time sampler's probe: counts one sample on the main thread for a guard's sink. */
export const BUSY_PROBE_SYMBOL_NAME = 'loopguard.busyProbe';

/** One constant source per guard (its sink id). */
export function busyProbeExpression(sinkId: number): string {
  return `(function(){var p=globalThis[Symbol.for('${BUSY_PROBE_SYMBOL_NAME}')];return typeof p==='function'?p(${sinkId | 0}):-1})()`;
}

/**
 * Memory the busy sampler (worker) shares with its guard's busy time (main
 * thread): the samples the worker found idle without asking (Int32 at 0,
 * written by the worker only), and when the pending sample was asked for
 * (Float64 at 8, epoch ms, written by the worker just before asking).
 */
export const BUSY_SHARED_BYTES = 16;

export function busySharedViews(buffer: SharedArrayBuffer): { idleCount: Int32Array; askedAt: Float64Array } {
  return { idleCount: new Int32Array(buffer, 0, 1), askedAt: new Float64Array(buffer, 8, 1) };
}
