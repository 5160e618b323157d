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
 * The hook is installed with the first body and removed when the last guard
 * closes (core/process-patches.ts).
 */
import { IncomingMessage } from 'node:http';
import { preciseEnter } from '../core/precise';
import { isPatched, patchProcess } from '../core/process-patches';
import { requestStore, type RequestRecord } from '../core/request-context';
import { kBodyRecord, kEmitHooked } from '../contract/symbols';

const kHooked = kEmitHooked;

type BodyRequest = IncomingMessage & { [kBodyRecord]?: RequestRecord };

/** Marks `req` so that its events run in `record`'s context, when it has a body. */
export function markBody(req: BodyRequest, record: RequestRecord): void {
  const raw = req.rawHeaders as readonly string[] | undefined;
  // A request object that is no IncomingMessage (a test double) has no raw headers: no body to follow.
  if (raw === undefined || !hasBody(raw)) return;
  if (!isPatched(EMIT_PATCH)) patchProcess(EMIT_PATCH, hookEmit);
  req[kBodyRecord] = record;
}

/**
 * Whether the request announces a body (a non-zero Content-Length, or any
 * Transfer-Encoding), read from the raw header list: `req.headers` is built
 * lazily by Node on first read, and a framework that never reads it (Fastify
 * on a GET) would pay for building it here.
 */
export function hasBody(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // Length and first letter first: no lower-casing of the many other 14-letter names (Sec-Fetch-Mode …).
    const first = name.charCodeAt(0) | 0x20;
    if (name.length === 14 && first === 0x63 /* c */) {
      if (name.toLowerCase() === 'content-length') {
        const value = raw[i + 1]!;
        if (value !== '0' && value.trim() !== '0') return true;
      }
    } else if (name.length === 17 && first === 0x74 /* t */ && name.toLowerCase() === 'transfer-encoding') return true;
  }
  return false;
}

const EMIT_PATCH = 'http.IncomingMessage.prototype.emit';

/** Hooks the prototype's emit; returns the undo. */
function hookEmit(): () => void {
  const proto = IncomingMessage.prototype as IncomingMessage & { [kHooked]?: true };
  // Another copy of loopguard hooked it already (an older one, without the shared patch list): its hook reads the same symbol.
  if (proto[kHooked] === true) return () => undefined;
  const emit = proto.emit;
  const emitInRequest = function emitInRequest(this: BodyRequest): boolean {
    const record = this[kBodyRecord];
    // eslint-disable-next-line prefer-rest-params
    if (record === undefined || record.finished) return Reflect.apply(emit, this, arguments) as boolean;
    preciseEnter(record);
    // eslint-disable-next-line prefer-rest-params
    return requestStore.run(record, applyEmit, emit, this, arguments);
  } as IncomingMessage['emit'];
  proto.emit = emitInRequest;
  Object.defineProperty(proto, kHooked, { value: true, configurable: true });
  return () => {
    // Someone wrapped it after us: taking ours out would take theirs too; ours passes through with no record.
    if (proto.emit !== emitInRequest) return;
    proto.emit = emit;
    delete proto[kHooked];
  };
}

function applyEmit(emit: IncomingMessage['emit'], req: IncomingMessage, args: IArguments): boolean {
  return Reflect.apply(emit, req, args) as boolean;
}
