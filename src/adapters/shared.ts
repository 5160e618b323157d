/**
 * What every adapter does per request, in one place: resolve the guard,
 * open a record once per response, finish it when the response closes.
 * Nothing here allocates beyond the record itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { LoopGuard } from '../create-guard';
import { preciseEnter } from '../core/precise';
import { requestStore, type RequestRecord, type RouteResolver } from '../core/request-context';

/**
 * The record of the request a response belongs to. A registry symbol, so that
 * a second adapter (or the zero-code start plus an explicit adapter, or two
 * copies of loopguard) sees the request is already tracked and counts it once.
 */
export const kRecord: unique symbol = Symbol.for('loopguard.record') as never;

export type TrackedResponse = ServerResponse & { [kRecord]?: RequestRecord };

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
    keepContextForBody(res.req, record);
    return record;
  } catch (err) {
    guard.reportError(err);
    return undefined;
  }
}

const kBodyRecord = Symbol('loopguard.bodyRecord');
const kEmit = Symbol('loopguard.emit');

type BodyRequest = IncomingMessage & { [kBodyRecord]?: RequestRecord; [kEmit]?: IncomingMessage['emit'] };

/**
 * A request body's 'data' and 'end' events come from later socket reads, in
 * the socket's async context, not the request's: code a framework runs after
 * the body (its parser, then the handler) would see no request. Fastify's
 * parser and plain `req.on('end')` do exactly that (body-parser binds itself).
 * So for requests that have a body, the request's own events run in its
 * context. Bodiless requests (most GETs) skip this.
 */
function keepContextForBody(req: BodyRequest | undefined, record: RequestRecord): void {
  if (req === undefined) return;
  const headers = req.headers;
  const length = headers['content-length'];
  if ((length === undefined || length === '0') && headers['transfer-encoding'] === undefined) return;
  req[kBodyRecord] = record;
  req[kEmit] = req.emit;
  // Not enumerable: the request's own keys stay what the app and its loggers expect.
  Object.defineProperty(req, 'emit', { value: emitInRequest, writable: true, configurable: true, enumerable: false });
}

function emitInRequest(this: BodyRequest): boolean {
  const record = this[kBodyRecord]!;
  preciseEnter(record);
  return requestStore.run(record, applyEmit, this, arguments);
}

function applyEmit(req: BodyRequest, args: IArguments): boolean {
  return Reflect.apply(req[kEmit]!, req, args) as boolean;
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
