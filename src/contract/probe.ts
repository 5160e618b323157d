import type { RawFrame } from './frames';
import { SYMBOL_NAMES } from './symbols';

/**
 * The probes: functions on well-known global symbols (contract/symbols.ts)
 * that the watchdog worker calls on the main thread by `Runtime.evaluate`.
 * Node runs them through a V8 interrupt on top of the JavaScript that holds
 * the loop: no pause, no Debugger domain. "Probe" means only this here; the
 * thread-pool probe (watchdog/pool-probe.ts) is the one other use, named so.
 */

/** requestId meaning: the interrupted request arrived after the stall began, so it cannot be its culprit. */
export const ARRIVED_DURING_STALL = -1;

/** What the capture probe returns (by value, through `Runtime.evaluate`). */
export interface ProbeResult {
  /** The request whose code was running; 0: none; `ARRIVED_DURING_STALL`: one that cannot be the culprit. */
  requestId: number;
  method: string;
  /** The route template, or null when routing had not happened yet. */
  route: string | null;
  /** `executionAsyncId()` of the interrupted callback. */
  asyncId: number;
  /** Inside `guard.expectBlocking(fn)`. */
  expected: boolean;
  /** The request had already been answered: this is work it left behind. */
  afterResponse: boolean;
  /** The context is a pool task's (`task(name, fn)`), not a request's: `route` holds the task's name. */
  task?: boolean;
  /** Epoch ms when the probe ran. */
  at: number;
  /** The interrupted stack, top first. */
  frames: RawFrame[];
  /** The asking guard's heartbeat window when the probe ran (-1: unknown): the loop may have turned since. */
  window: number;
}

/**
 * Evaluated in the global scope, it still sees the interrupted code's
 * AsyncLocalStorage store (Node 20: async_hooks resource; 24+: the
 * continuation-preserved frame). Arguments: the most frames to return, and
 * the guard's id for its heartbeat window.
 */
export function probeExpression(maxFrames: number, guardId: number): string {
  return `(function(){var p=globalThis[Symbol.for('${SYMBOL_NAMES.probe}')];return typeof p==='function'?p(${maxFrames | 0},${guardId | 0}):null})()`;
}

/** One constant source per guard (its sink id). */
export function busyProbeExpression(sinkId: number): string {
  return `(function(){var p=globalThis[Symbol.for('${SYMBOL_NAMES.busyProbe}')];return typeof p==='function'?p(${sinkId | 0}):-1})()`;
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
