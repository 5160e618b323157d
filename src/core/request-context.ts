import { AsyncLocalStorage, executionAsyncId } from 'node:async_hooks';
import { ARRIVED_DURING_STALL, PROBE_SYMBOL_NAME, type ProbeResult } from '../watchdog/probe';
import { inExpectedCode } from './expected';

/** Resolves a request's route template; null while routing has not happened yet. */
export type RouteResolver = (req: any) => string | null;

/** What loopguard keeps per request in flight: one small object, no closures. */
export interface RequestRecord {
  readonly id: number;
  readonly method: string;
  /** The framework's request object, released at finish. */
  req: unknown;
  readonly routeOf: RouteResolver;
  /** The delay clock (ms) when the request was accepted. */
  readonly startDelayMs: number;
  /** Heartbeat window in which the watchdog caught this request holding the loop (0: never). */
  capturedWindow: number;
  /** Own synchronous time on the loop (precise mode), ms. */
  blockingMs: number;
  finished: boolean;
  /** performance.now() when the response finished (0 while in flight). */
  finishedAt: number;
  /** The route template the request was counted under at finish; work it left behind is blamed on it. */
  finalRoute: string | null;
  /** The request's OpenTelemetry span, kept only while tracing is active (stall events); else undefined. */
  span: unknown;
  /** Set by the owner of the record (a request tracker) to route finish() and captures back to it. */
  readonly owner: {
    finish(record: RequestRecord): void;
    captured?(record: RequestRecord): void;
    arrivedDuringStall(record: RequestRecord): boolean;
    /** Work running in a finished request's context this long (ms) after its response is still its route's. */
    readonly blameAfterResponseMs: number;
    readonly window: number;
  };
}

/**
 * One store for every guard in the process: the watchdog reads it through
 * the global probe below, which must not depend on which guard is asking.
 */
export const requestStore = new AsyncLocalStorage<RequestRecord>();

const PROBE_KEY = Symbol.for(PROBE_SYMBOL_NAME);

/**
 * Called by the watchdog worker (Runtime.evaluate) while the main thread is
 * paused inside a stall: names the request whose code is running, and marks
 * it so its own stall is not counted as delay it suffered.
 * Returns [requestId, method, route, asyncId, expected, afterResponse]; requestId 0 means no request.
 */
function probe(): ProbeResult | null {
  try {
    const asyncId = executionAsyncId();
    const expected = inExpectedCode() ? 1 : 0;
    const record = requestStore.getStore();
    if (record === undefined) return [0, '', null, asyncId, expected, 0];
    if (record.finished) {
      // Work the request left behind (a timer, the rest of an async handler)
      // is still its route's doing, for a bounded time after the response:
      // an interval started by a request runs in its context forever.
      if (performance.now() - record.finishedAt > record.owner.blameAfterResponseMs) return [0, '', null, asyncId, expected, 0];
      return [record.id, record.method, record.finalRoute, asyncId, expected, 1];
    }
    // Accepted when the loop was already this late: the request arrived after the
    // stall began (the pause landed just after the culprit, in the next callback).
    if (record.owner.arrivedDuringStall(record)) return [ARRIVED_DURING_STALL, '', null, asyncId, expected, 0];
    // The loop has not turned since the stall began: the owner's window is the stall's.
    record.capturedWindow = record.owner.window;
    if (record.span !== undefined) record.owner.captured?.(record);
    let route: string | null = null;
    try {
      route = record.routeOf(record.req);
    } catch {
      // A route that cannot be read yet is filled in when the request finishes.
    }
    return [record.id, record.method, route, asyncId, expected, 0];
  } catch {
    return null;
  }
}

(globalThis as Record<symbol, unknown>)[PROBE_KEY] ??= probe;
