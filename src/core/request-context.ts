import { AsyncLocalStorage, executionAsyncId } from 'node:async_hooks';
import { callerFrames } from './call-sites';
import { ARRIVED_DURING_STALL, type ProbeResult } from '../contract/probe';
import { inExpectedCode } from './expected';
import { kProbe, kRequestStore, kWindows } from '../contract/symbols';

/**
 * Resolves a request's route template; null while routing has not happened yet.
 *
 * Called without `settled` from inside a V8 interrupt (the stall probe, the
 * busy sampler), on top of whatever code holds the loop, possibly the
 * framework's router between its match and its read of the match: then it
 * must only read cached or precomputed templates, run no framework code and
 * write nothing the framework reads, and answer null on a miss (the route is
 * filled in when the request finishes). `settled` is true when the request
 * finishes, in its own callback: then it may resolve and cache the template.
 */
export type RouteResolver = (req: any, settled?: boolean) => string | null;

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
  /** Busy-time samples taken before the route was known, counted under the final route at finish. */
  busySamples: number;
  finished: boolean;
  /** performance.now() when the response finished (0 while in flight). */
  finishedAt: number;
  /** The route template the request was counted under at finish; work it left behind is blamed on it. */
  finalRoute: string | null;
  /** The request's OpenTelemetry span, kept only while tracing is active (stall events); else undefined. */
  span: unknown;
  /** A pool task's record (core/task-context.ts): its route is the task's name. */
  readonly task?: true;
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

const STORE_KEY = kRequestStore;

/**
 * One store for every guard in the process, and for every copy of loopguard
 * in it (two versions in node_modules): the watchdog reads it through the
 * global probe below, which only the first copy installs, so a second copy's
 * requests must live in the same store or they would go invisible.
 */
export const requestStore: AsyncLocalStorage<RequestRecord> = ((globalThis as Record<symbol, unknown>)[STORE_KEY] ??=
  new AsyncLocalStorage<RequestRecord>()) as AsyncLocalStorage<RequestRecord>;

const PROBE_KEY = kProbe;

/** Each guard's heartbeat window, by the id its watchdog passes to the probe; shared by every copy of loopguard. */
const windows = ((globalThis as Record<symbol, unknown>)[kWindows] ??= {
  readers: new Map<number, () => number>(),
  next: 1,
}) as { readers: Map<number, () => number>; next: number };

export function registerWindowReader(read: () => number): number {
  const id = windows.next++;
  windows.readers.set(id, read);
  return id;
}

export function unregisterWindowReader(id: number): void {
  windows.readers.delete(id);
}

/**
 * Called by the watchdog worker (Runtime.evaluate, run through an interrupt
 * on top of the code holding the loop) inside a stall: names the request
 * whose code is running and its stack, and marks it so its own stall is not
 * counted as delay it suffered.
 */
function probe(maxFrames: number, guardId: number): ProbeResult | null {
  try {
    const asyncId = executionAsyncId();
    const at = performance.timeOrigin + performance.now();
    // The asking guard's heartbeat window as the probe ran: its answer may reach
    // the worker after the loop turned, so staleness is judged by this.
    const window = windows.readers.get(guardId)?.() ?? -1;
    const frames = callerFrames(probe, maxFrames);
    const expected = inExpectedCode();
    const none = (requestId: number): ProbeResult => ({ requestId, method: '', route: null, asyncId, expected, afterResponse: false, at, frames, window });
    const record = requestStore.getStore();
    if (record === undefined) return none(0);
    if (record.finished) {
      // Work the request left behind (a timer, the rest of an async handler)
      // is still its route's doing, for a bounded time after the response:
      // an interval started by a request runs in its context forever.
      if (performance.now() - record.finishedAt > record.owner.blameAfterResponseMs) return none(0);
      return { requestId: record.id, method: record.method, route: record.finalRoute, asyncId, expected, afterResponse: true, task: record.task === true, at, frames, window };
    }
    // Accepted when the loop was already this late: the request arrived after the
    // stall began (the probe landed just after the culprit, in the next callback).
    if (record.owner.arrivedDuringStall(record)) return none(ARRIVED_DURING_STALL);
    // The loop has not turned since the stall began: the owner's window is the stall's.
    record.capturedWindow = record.owner.window;
    // Also without a span: a record opened at node:http's start channel has none
    // yet (tracing made the server span later); an observer may take it here.
    record.owner.captured?.(record);
    let route: string | null = null;
    try {
      route = record.routeOf(record.req);
    } catch {
      // A route that cannot be read yet is filled in when the request finishes.
    }
    return { requestId: record.id, method: record.method, route, asyncId, expected, afterResponse: false, task: record.task === true, at, frames, window };
  } catch {
    return null;
  }
}

(globalThis as Record<symbol, unknown>)[PROBE_KEY] ??= probe;
