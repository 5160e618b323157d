/**
 * The one per-request entry point that every adapter and the zero-code start
 * call: the shed check, opening the record, entering its context, finishing.
 *
 * The per-request budget is about 1 µs (docs/overhead.md), so this path touches
 * only the record it allocates and a few symbol slots:
 * - the record is kept on the response under a registry symbol, so that a
 *   second adapter, the zero-code start and an explicit adapter, or two
 *   copies of loopguard count a request once;
 * - finishing comes from node:http's 'http.server.response.finish' channel
 *   (one subscriber for the process, src/adapters/http-channels.ts), not a
 *   listener per response; an aborted request is finished by one 'close'
 *   listener per socket (keep-alive sockets serve many requests);
 * - a request with a body gets its record on a symbol that the one
 *   process-wide emit hook reads (src/adapters/body-context.ts).
 * Responses that no node:http/https server made (the http2 compatibility
 * API, Fastify's inject) publish no channel and keep a 'close' listener.
 */
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { LoopGuard } from '../create-guard';
import { preciseEnter } from '../core/precise';
import { requestStore, type RequestRecord, type RouteResolver } from '../core/request-context';
import { markBody } from './body-context';
import { finishRecord, kRecord, type TrackedResponse } from './finish';
import { startersChanged, subscribeFinish, type RequestStarter } from './http-channels';

export { kRecord, type TrackedResponse };

/** The last record opened on a socket: what its 'close' listener finishes if the client went away. */
const kSocketRecord = Symbol('loopguard.socketRecord');
type TrackedSocket = Socket & { [kSocketRecord]?: RequestRecord };

function finishOnClose(this: TrackedResponse): void {
  finishRecord(this[kRecord]);
}

function finishOnSocketClose(this: TrackedSocket): void {
  finishRecord(this[kSocketRecord]);
}


/**
 * One per guard (`entryOf`): what an adapter calls per request. Methods
 * never throw: a failure is reported once and the request goes on untracked.
 */
export class RequestEntry {
  readonly precise: boolean;
  /** The `ignore` option's predicate; undefined (one check per request) when nothing is ignored. */
  readonly ignore: ((req: IncomingMessage) => boolean) | undefined;

  constructor(readonly guard: LoopGuard) {
    this.precise = guard.options.precise;
    this.ignore = guard.options.ignore;
  }

  /**
   * Load shedding, calm: one boolean. Under pressure the URL is matched before
   * routing (the route is not known yet). A shed request is answered by
   * `respond` and its record, if the channel already opened one, is dropped
   * uncounted. True when the request was answered.
   */
  shed(res: TrackedResponse, respond: () => boolean): boolean {
    const shedder = this.guard.shedder;
    if (shedder === undefined || !shedder.active) return false;
    if (!respond()) return false;
    const record = res[kRecord];
    if (record !== undefined && record.owner === this.guard.recordOwner) this.guard.discardRequest(record);
    return true;
  }

  /**
   * Opens the record of a request, or returns undefined when its response is
   * tracked already or the guard is closed. `body` is the raw request when the
   * framework's own request object is a wrapper; `socket` when the caller has
   * it at hand (the channel message), else the response's.
   */
  open(req: unknown, res: TrackedResponse, method: string, routeOf: RouteResolver, body: IncomingMessage, socket?: Socket | null): RequestRecord | undefined {
    if (res[kRecord] !== undefined || this.guard.isClosed) return undefined;
    const ignore = this.ignore;
    if (ignore !== undefined && ignore(body)) {
      leaveContext();
      return undefined;
    }
    try {
      const record = this.guard.beginRequest(req, method, routeOf);
      res[kRecord] = record;
      this.watchEnd(res, record, socket === undefined ? res.socket : socket);
      markBody(body, record);
      return record;
    } catch (err) {
      this.guard.reportError(err);
      return undefined;
    }
  }

  /** Makes the record the current store for the rest of this callback (where no `next` can be wrapped). */
  enter(record: RequestRecord): void {
    requestStore.enterWith(record);
    if (this.precise) preciseEnter(record);
  }

  /**
   * Runs `fn(a, b, c)` inside the request's context. In precise mode the
   * synchronous part is timed here: async_hooks only time callbacks, and this
   * one began before the context existed.
   */
  run<A, B, C, R>(record: RequestRecord, fn: (a: A, b: B, c: C) => R, a: A, b: B, c: C): R {
    if (!this.precise) return requestStore.run(record, fn, a, b, c);
    const startedAt = performance.now();
    try {
      return requestStore.run(record, fn, a, b, c);
    } finally {
      record.blockingMs += performance.now() - startedAt;
    }
  }

  /**
   * How the record learns that its request ended without a 'finish' (the
   * client went away). node:http responses: one 'close' listener per socket
   * (watchSocket). Responses no node:http server made (http2 compatibility,
   * Fastify's inject, mocks) publish no finish channel: a listener of their own.
   */
  private watchEnd(res: TrackedResponse, record: RequestRecord, socket: TrackedSocket | null): void {
    if (socket === null || !(res instanceof ServerResponse) || (socket as { server?: unknown }).server == null) {
      res.prependListener('close', finishOnClose);
      // A node:http response with no socket yet is queued behind a pipelined one: see finishWithRequest.
      if (socket === null && res instanceof ServerResponse) finishWithRequest(res, record);
      return;
    }
    subscribeFinish();
    watchSocket(socket, res, record);
  }
}

/**
 * A response queued behind an earlier one on a pipelined socket is not
 * attached to the socket yet, and emits no 'close' when the client goes away;
 * its request does. Rare: a closure only for pipelined requests.
 */
function finishWithRequest(res: TrackedResponse, record: RequestRecord): void {
  (res as ServerResponse).req?.once('close', () => finishRecord(record));
}

/**
 * A node:http response finishes through the finish channel; a client that
 * went away is seen by one 'close' listener per socket, added with its first
 * request (keep-alive sockets serve many). A second request in flight on the
 * same socket (pipelining) gets a listener of its own.
 */
function watchSocket(socket: TrackedSocket, res: TrackedResponse, record: RequestRecord): void {
  const previous = socket[kSocketRecord];
  if (previous === undefined) socket.on('close', finishOnSocketClose);
  else if (!previous.finished) {
    // The socket's listener stays with the earlier request.
    res.prependListener('close', finishOnClose);
    finishWithRequest(res, record);
    return;
  }
  socket[kSocketRecord] = record;
}

/**
 * Opens and enters the requests node:http's start channel hands it: before
 * the framework runs, so no router layer does per-request work, and the
 * record is written on `res` before Express swaps its prototype (on Node 20
 * a symbol written after the swap builds a new hidden class per response:
 * bench/results/hot-path.md).
 */
export class ChannelStarter implements RequestStarter {
  constructor(
    private readonly entry: RequestEntry,
    private readonly routeOf: RouteResolver,
  ) {}

  get closed(): boolean {
    return this.entry.guard.isClosed;
  }

  /**
   * The whole per-request path of a channel-opened request (≈ 1 µs budget):
   * the response is a node:http one and its finish is published, so none of
   * `open`'s checks for other responses run here.
   */
  start(req: IncomingMessage, res: ServerResponse, socket: Socket): void {
    const tracked = res as TrackedResponse;
    if (tracked[kRecord] !== undefined) return;
    const entry = this.entry;
    const guard = entry.guard;
    if (guard.isClosed) {
      startersChanged();
      return;
    }
    const ignore = entry.ignore;
    if (ignore !== undefined && ignore(req)) {
      leaveContext();
      return;
    }
    try {
      const record = guard.beginRequest(req, req.method ?? '', this.routeOf);
      tracked[kRecord] = record;
      watchSocket(socket, tracked, record);
      markBody(req, record);
      requestStore.enterWith(record);
      if (entry.precise) preciseEnter(record);
    } catch (err) {
      guard.reportError(err);
    }
  }
}

/**
 * An ignored request runs in no request's context. Without this it would run
 * in whatever its keep-alive socket's callback carries, which can be the
 * previous request's (node:http resumes the parser from the previous
 * response's finish), and its stall would be blamed on that request's route.
 */
function leaveContext(): void {
  requestStore.enterWith(undefined as unknown as RequestRecord);
}

/** Where a guard keeps its entry: on the guard itself, not in a table of ours keyed by guard. */
const kEntry = Symbol('loopguard.requestEntry');

/** The entry of a guard, made on first use: adapters of one guard share it. */
export function entryOf(guard: LoopGuard): RequestEntry {
  const slot = guard as LoopGuard & { [kEntry]?: RequestEntry };
  return (slot[kEntry] ??= new RequestEntry(guard));
}
