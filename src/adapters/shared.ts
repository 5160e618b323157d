/**
 * What every adapter does per request, in one place: resolve the guard,
 * open a record once per response, finish it when the response closes.
 * Nothing here allocates beyond the record itself.
 */
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createLoopGuard, LoopGuard } from '../core/guard';
import { requestStore, type RequestRecord, type RouteResolver } from '../core/request-context';
import type { LoopGuardOptions } from '../options';

/**
 * The record of the request a response belongs to. A registry symbol, so that
 * a second adapter (or the zero-code start plus an explicit adapter, or two
 * copies of loopguard) sees the request is already tracked and counts it once.
 */
export const kRecord: unique symbol = Symbol.for('loopguard.record') as never;

export type TrackedResponse = ServerResponse & { [kRecord]?: RequestRecord };

/** Resolves an options object or an existing guard to a guard. */
export function guardFrom(optionsOrGuard?: LoopGuardOptions | LoopGuard): LoopGuard {
  return optionsOrGuard instanceof LoopGuard ? optionsOrGuard : createLoopGuard(optionsOrGuard);
}

/**
 * Opens the record of a request, or returns undefined when the response is
 * already tracked, the guard is closed, or beginning failed (reported, never
 * thrown: the request goes on untracked).
 */
export function trackResponse(
  guard: LoopGuard,
  res: TrackedResponse,
  req: unknown,
  method: string,
  routeOf: RouteResolver,
): RequestRecord | undefined {
  if (res[kRecord] !== undefined || guard.isClosed) return undefined;
  try {
    const record = guard.beginRequest(req, method, routeOf);
    res[kRecord] = record;
    // One shared listener, no closure: 'close' fires once per response, after
    // it finished or when the client went away, so in-flight never leaks.
    // Prepended: OTel's http instrumentation ends the server span on 'close',
    // and a victim's `loopguard.delayed` event must land before that.
    res.prependListener('close', finishOnClose);
    return record;
  } catch (err) {
    guard.reportError(err);
    return undefined;
  }
}

function finishOnClose(this: TrackedResponse): void {
  const record = this[kRecord];
  if (record === undefined) return;
  try {
    record.owner.finish(record);
  } catch {
    // Never throw into the response's event emitter.
  }
}

/**
 * Runs `fn(a, b)` inside the request's context. In precise mode the
 * synchronous part is timed here: async_hooks only time callbacks, and this
 * one began before the context existed.
 */
export function runInRequest<A, B, R>(record: RequestRecord, precise: boolean, fn: (a: A, b: B) => R, a: A, b: B): R {
  if (!precise) return requestStore.run(record, fn, a, b);
  const startedAt = performance.now();
  try {
    return requestStore.run(record, fn, a, b);
  } finally {
    record.blockingMs += performance.now() - startedAt;
  }
}
