/**
 * Every key loopguard keeps on `globalThis` or on objects it does not own,
 * as `Symbol.for` registry symbols: two copies of loopguard in one process
 * (two versions in node_modules, or the zero-code start beside an app's own
 * copy) find each other's state through them. Together they are a protocol,
 * so they live in this one module and nowhere else.
 *
 * A key whose value's shape changes gets a new version suffix: copies that
 * speak another version then keep to themselves instead of misreading each
 * other. The rest are unversioned, because every copy must agree on them
 * (one zero-code start per process, one brand for a guard).
 */

/** Protocol version of the keys below that carry `@<version>`. */
export const PROTOCOL_VERSION = 2;

const versioned = (name: string): string => `loopguard.${name}@${PROTOCOL_VERSION}`;

/** Symbol names, for code that must spell them (the capture expressions the worker evaluates). */
export const SYMBOL_NAMES = {
  /** The capture probe the worker calls through `Runtime.evaluate` (returns a `ProbeResult`). */
  probe: versioned('probe'),
  /** The busy sampler's probe: counts one sample for a guard's sink. */
  busyProbe: versioned('busyProbe'),
} as const;

/** Brand of a guard from any copy (`x instanceof LoopGuard` holds across copies). */
export const kGuard: unique symbol = Symbol.for('loopguard.guard') as never;
/** Set once the zero-code start (`--import loopguard/register`) has run in this process. */
export const kRegistered: unique symbol = Symbol.for('loopguard.register') as never;
/** The request context's AsyncLocalStorage, shared by every copy: one store per request. */
export const kRequestStore: unique symbol = Symbol.for(versioned('requestStore')) as never;
/** Each guard's heartbeat window, by the id its watchdog passes to the probe. */
export const kWindows: unique symbol = Symbol.for(versioned('windows')) as never;
/** The store of `expectBlocking` scopes. */
export const kExpected: unique symbol = Symbol.for(versioned('expected')) as never;
/** The busy sampler's sinks, by id. */
export const kBusySinks: unique symbol = Symbol.for(versioned('busySinks')) as never;
/** Process-wide patches (uncaught-exception hooks and the like), counted by open guards. */
export const kProcessPatches: unique symbol = Symbol.for(versioned('processPatches')) as never;
/** The capture probe function (see `SYMBOL_NAMES.probe`). */
export const kProbe: unique symbol = Symbol.for(SYMBOL_NAMES.probe) as never;
/** The busy probe function (see `SYMBOL_NAMES.busyProbe`). */
export const kBusyProbe: unique symbol = Symbol.for(SYMBOL_NAMES.busyProbe) as never;
/** A response's request record, on node:http's response object. */
export const kRecord: unique symbol = Symbol.for(versioned('record')) as never;
/** A request's record, on the request object while its body is read. */
export const kBodyRecord: unique symbol = Symbol.for(versioned('bodyRecord')) as never;
/** Marks `IncomingMessage.prototype.emit` as wrapped for body context, once per process. */
export const kEmitHooked: unique symbol = Symbol.for(versioned('emitHooked')) as never;
/** A worker thread's own guard (`watchThisThread()`), shared by every copy of loopguard in that thread. */
export const kThreadGuard: unique symbol = Symbol.for(versioned('threadGuard')) as never;
/** Marks a Koa application whose router the zero-code start has hooked. */
export const kKoaPatched: unique symbol = Symbol.for('loopguard.koaPatched') as never;

/** Not ours: where @opentelemetry/core keeps the RPC metadata that holds instrumentation-http's server span. */
export const kOtelRpcMetadata: unique symbol = Symbol.for('OpenTelemetry SDK Context Key RPC_METADATA') as never;
