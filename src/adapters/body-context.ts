/**
 * A request body's 'data' and 'end' events come from later socket reads, in
 * the socket's async context, not the request's: code a framework runs from
 * them (Fastify's body parser, a plain `req.on('end')` handler) would see no
 * request. On Node 24 and 26 (AsyncContextFrame) the store entered for the
 * request is gone there; on 20 and 22 async_hooks happen to keep it
 * (bench/diag/body-context.mjs shows both). body-parser binds itself.
 *
 * One hook on `IncomingMessage.prototype.emit` for the whole process, not a
 * property redefined on every request: a request with a body carries its
 * record on a symbol, and its own events run in that record's context.
 * A request without one pays a symbol miss per event it emits (about two).
 */
import { IncomingMessage } from 'node:http';
import { preciseEnter } from '../core/precise';
import { requestStore, type RequestRecord } from '../core/request-context';

const kBodyRecord = Symbol.for('loopguard.bodyRecord');
const kHooked = Symbol.for('loopguard.emitHooked');

type BodyRequest = IncomingMessage & { [kBodyRecord]?: RequestRecord };

/** Marks `req` so that its events run in `record`'s context, when it has a body. */
export function markBody(req: BodyRequest, record: RequestRecord): void {
  const headers = req.headers;
  const length = headers['content-length'];
  if ((length === undefined || length === '0') && headers['transfer-encoding'] === undefined) return;
  if (!hooked) hookEmit();
  req[kBodyRecord] = record;
}

let hooked = false;

function hookEmit(): void {
  hooked = true;
  const proto = IncomingMessage.prototype as IncomingMessage & { [kHooked]?: true };
  // Another copy of loopguard hooked it already: one hook reads the same registry symbol.
  if (proto[kHooked] === true) return;
  const emit = proto.emit;
  proto.emit = function emitInRequest(this: BodyRequest): boolean {
    const record = this[kBodyRecord];
    // eslint-disable-next-line prefer-rest-params
    if (record === undefined || record.finished) return Reflect.apply(emit, this, arguments) as boolean;
    preciseEnter(record);
    // eslint-disable-next-line prefer-rest-params
    return requestStore.run(record, applyEmit, emit, this, arguments);
  } as IncomingMessage['emit'];
  Object.defineProperty(proto, kHooked, { value: true });
}

function applyEmit(emit: IncomingMessage['emit'], req: IncomingMessage, args: IArguments): boolean {
  return Reflect.apply(emit, req, args) as boolean;
}
