/**
 * Every node:http / https server request, seen on the
 * 'http.server.request.start' diagnostics channel (Node >= 20.6), published
 * synchronously just before the server emits 'request'. The request is opened
 * through the one per-request entry point and becomes the current
 * AsyncLocalStorage store with `enterWith`, so the framework's whole handling
 * of the request, run from that 'request' event, inherits it. Used by the
 * zero-code start and by the test-time loop budget (an app under test mounts
 * nothing).
 */
import { ChannelStarter, entryOf } from '../adapters/entry';
import { startEveryServer } from '../adapters/http-channels';
import type { LoopGuard } from '../create-guard';
import { zeroCodeRoute } from '../routes/zero-code';

/** Tracks every server request in `guard`, for the life of the process. */
export function watchHttpServers(guard: LoopGuard): void {
  startEveryServer(new ChannelStarter(entryOf(guard), zeroCodeRoute as (req: unknown) => string | null));
}
