/**
 * Every `node:diagnostics_channel` name loopguard publishes or subscribes
 * to, in one place (as undici keeps its own in lib/core/diagnostics.js).
 * Ours are `loopguard:<area>:<event>`; the others belong to Node and Fastify.
 */

/** node:http: a request reached a server (before any listener). Node ≥ 20.5. */
export const HTTP_SERVER_REQUEST_START = 'http.server.request.start';
/** node:http: a response finished. */
export const HTTP_SERVER_RESPONSE_FINISH = 'http.server.response.finish';
/** Fastify: an instance is being initialised (the zero-code start adds its hook). */
export const FASTIFY_INITIALIZATION = 'fastify.initialization';

/** Ours: the global OpenTelemetry meter provider changed (a guard's exporter re-binds its instruments). */
export const OTEL_GLOBAL_METER_CHANGED = 'loopguard:otel:global-meter-changed';
/** Ours: the loop budget's host offers itself to a budgeted test run's guards. */
export const BUDGET_HOST = 'loopguard:budget:host';
