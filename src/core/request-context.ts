import { AsyncLocalStorage, executionAsyncId } from 'node:async_hooks';
import { ARRIVED_DURING_STALL, PROBE_SYMBOL_NAME, type ProbeResult } from '../watchdog/probe';

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
  /** The request's OpenTelemetry span, kept only while tracing is active (stall events); else undefined. */
  span: unknown;
  /** Set by the owner of the record (a request tracker) to route finish() and captures back to it. */
  readonly owner: {
    finish(record: RequestRecord): void;
    captured?(record: RequestRecord): void;
    arrivedDuringStall(record: RequestRecord): boolean;
    readonly window: number;
  };
}

const STORE_KEY = Symbol.for('loopguard.requestStore');

/**
 * One store for every guard in the process, and for every copy of loopguard
 * in it (two versions in node_modules): the watchdog reads it through the
 * global probe below, which only the first copy installs, so a second copy's
 * requests must live in the same store or they would go invisible.
 */
export const requestStore: AsyncLocalStorage<RequestRecord> = ((globalThis as Record<symbol, unknown>)[STORE_KEY] ??=
  new AsyncLocalStorage<RequestRecord>()) as AsyncLocalStorage<RequestRecord>;

const PROBE_KEY = Symbol.for(PROBE_SYMBOL_NAME);

/**
 * Called by the watchdog worker (Runtime.evaluate) while the main thread is
 * paused inside a stall: names the request whose code is running, and marks
 * it so its own stall is not counted as delay it suffered.
 * Returns [requestId, method, route, asyncId]; requestId 0 means no request.
 */
function probe(): ProbeResult | null {
  try {
    const asyncId = executionAsyncId();
    const record = requestStore.getStore();
    if (record === undefined || record.finished) return [0, '', null, asyncId];
    // Accepted when the loop was already this late: the request arrived after the
    // stall began (the pause landed just after the culprit, in the next callback).
    if (record.owner.arrivedDuringStall(record)) return [ARRIVED_DURING_STALL, '', null, asyncId];
    // The loop has not turned since the stall began: the owner's window is the stall's.
    record.capturedWindow = record.owner.window;
    if (record.span !== undefined) record.owner.captured?.(record);
    let route: string | null = null;
    try {
      route = record.routeOf(record.req);
    } catch {
      // A route that cannot be read yet is filled in when the request finishes.
    }
    return [record.id, record.method, route, asyncId];
  } catch {
    return null;
  }
}

(globalThis as Record<symbol, unknown>)[PROBE_KEY] ??= probe;
