/**
 * The contract between the request context (main thread) and the watchdog
 * worker: a function on a well-known global symbol that the worker calls by
 * `Runtime.evaluate` while the main thread is paused.
 */
export const PROBE_SYMBOL_NAME = 'loopguard.probe';

/**
 * What the probe returns: [requestId (0: none), method, route or null,
 * executionAsyncId, 1 inside `expectBlocking` else 0, 1 when the request had
 * already been answered (work it left behind) else 0].
 */

/** requestId meaning: the paused request arrived after the stall began, so it cannot be its culprit. */
export const ARRIVED_DURING_STALL = -1;
export type ProbeResult = [number, string, string | null, number, number, number];

/**
 * Evaluated in the global scope (not on a call frame: on Node-internal frames
 * primordials shadow globals such as `Symbol`). It still sees the paused
 * code's AsyncLocalStorage store. One constant source: with the Debugger
 * domain enabled, every distinct evaluated source is kept as a script for the
 * life of the process, so an expression that varied per stall would grow the
 * heap a little with every capture.
 */
export const PROBE_EXPRESSION = `(function(){var p=globalThis[Symbol.for('${PROBE_SYMBOL_NAME}')];return typeof p==='function'?p():null})()`;
