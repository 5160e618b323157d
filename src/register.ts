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
import dc from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { isMainThread } from 'node:worker_threads';
import { trackResponse, type TrackedResponse } from './adapters/shared';
import { createLoopGuard, type LoopGuard } from './create-guard';
import { preciseEnter } from './core/precise';
import { requestStore } from './core/request-context';
import { logLine, optionsFromEnv } from './env-options';
import { linkFastify, linkKoa, zeroCodeRoute } from './routes/zero-code';

const kRegistered = Symbol.for('loopguard.register');

interface RequestStart {
  request: IncomingMessage;
  response: TrackedResponse;
}

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
  const precise = guard.options.precise;
  const report = (err: unknown): void => guard.reportError(err);

  // A subscriber that throws would surface as an uncaught exception in the app: never let it.
  dc.subscribe('http.server.request.start', (message: unknown) => {
    try {
      const { request, response } = message as RequestStart;
      const record = trackResponse(guard, response, request, request.method ?? '', zeroCodeRoute as (req: unknown) => string | null);
      if (record === undefined) return;
      requestStore.enterWith(record);
      if (precise) preciseEnter(record);
    } catch (err) {
      report(err);
    }
  });
  linkFastify(report);
  linkKoa();
  return guard;
}

/** The guard the zero-code start created (undefined off the main thread or with LOOPGUARD_ENABLED=false). */
export const guard: LoopGuard | undefined = start();
