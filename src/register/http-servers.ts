/**
 * Every node:http / https server request, seen on the
 * 'http.server.request.start' diagnostics channel (Node >= 20.6), published
 * synchronously just before the server emits 'request'. The subscriber opens
 * the request's record and makes it the current AsyncLocalStorage store with
 * `enterWith`, so the framework's whole handling of the request, run from that
 * 'request' event, inherits it. Used by the zero-code start and by the
 * test-time loop budget (an app under test mounts nothing).
 */
import dc from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { trackResponse, type TrackedResponse } from '../adapters/shared';
import type { LoopGuard } from '../create-guard';
import { preciseEnter } from '../core/precise';
import { requestStore } from '../core/request-context';
import { zeroCodeRoute } from '../routes/zero-code';

interface RequestStart {
  request: IncomingMessage;
  response: TrackedResponse;
}

/** Tracks every server request in `guard`, for the life of the process. */
export function watchHttpServers(guard: LoopGuard): void {
  const precise = guard.options.precise;
  // A subscriber that throws would surface as an uncaught exception in the app: never let it.
  dc.subscribe('http.server.request.start', (message: unknown) => {
    try {
      const { request, response } = message as RequestStart;
      const record = trackResponse(guard, response, request, request.method ?? '', zeroCodeRoute as (req: unknown) => string | null);
      if (record === undefined) return;
      requestStore.enterWith(record);
      if (precise) preciseEnter(record);
    } catch (err) {
      guard.reportError(err);
    }
  });
}
