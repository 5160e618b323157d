/**
 * Zero-code start: `node --import loopguard/register app.js` (ESM) or
 * `node --require loopguard/register app.js` (CommonJS), options from
 * `LOOPGUARD_*` environment variables (src/env-options.ts).
 *
 * Every node:http / https server request is seen on the
 * 'http.server.request.start' diagnostics channel (Node >= 20.6), published
 * synchronously just before the server emits 'request'. The subscriber opens
 * the request's record and makes it the current AsyncLocalStorage store with
 * `enterWith`, so the framework's whole handling of the request, run from that
 * 'request' event, inherits it. No module hooks are needed for that; routes
 * are resolved per framework (src/register/frameworks.ts).
 *
 * Runs on the main thread only: worker threads inherit `--require`/`--import`
 * (loopguard's own watchdog worker included) and must not start guards of their own.
 */
import { isMainThread } from 'node:worker_threads';
import { ChannelStarter, entryOf } from './adapters/entry';
import { startEveryServer } from './adapters/http-channels';
import { createLoopGuard, type LoopGuard } from './create-guard';
import { logLine, optionsFromEnv } from './env-options';
import { linkFastify, linkKoa, zeroCodeRoute } from './register/frameworks';

const kRegistered = Symbol.for('loopguard.register');

const routeOf = zeroCodeRoute as (req: unknown) => string | null;

function start(): LoopGuard | undefined {
  const registry = globalThis as { [kRegistered]?: LoopGuard | null };
  // Loaded twice (--require and --import, or two copies): the first one serves.
  if (!isMainThread || registry[kRegistered] !== undefined) return registry[kRegistered] ?? undefined;
  // A bad variable throws here, before the app starts, naming the variable.
  const { enabled, options, log } = optionsFromEnv(process.env);
  if (!enabled) {
    registry[kRegistered] = null;
    return undefined;
  }
  const guard = createLoopGuard(options);
  registry[kRegistered] = guard;
  if (log) {
    // Says the zero-code start is active, and from when stacks can be captured.
    const watching = (): void => logLine('watching', { pid: process.pid, thresholdMs: guard.options.thresholdMs, captureStacks: guard.options.captureStacks });
    if (guard.options.captureStacks) guard.once('watchdog:ready', watching);
    else watching();
  }
  const report = (err: unknown): void => guard.reportError(err);
  startEveryServer(new ChannelStarter(entryOf(guard), routeOf));
  linkFastify(report);
  linkKoa();
  return guard;
}

/** The guard the zero-code start created (undefined off the main thread or with LOOPGUARD_ENABLED=false). */
export const guard: LoopGuard | undefined = start();
