/**
 * INTERNAL: not part of loopguard's API and not in the package's exports.
 * The one entry point through which tests and benchmarks reach private state
 * and building blocks (`require('../dist/internal.js')`). Anything here may
 * change in any release.
 */
export { guardInternals, type GuardInternals } from './guard-internals';
export { requestStore, type RequestRecord } from './core/request-context';
export { expressRoute } from './routes/express';
export { fastifyRoute } from './routes/fastify';
export { koaRoute } from './routes/koa';
export { zeroCodeRoute } from './routes/zero-code';
export { joinPaths } from './routes/join';
export { StallPipeline, SAMPLES_TIMEOUT_MS, PENDING_ROUTE_TIMEOUT_MS, type Scheduler } from './core/stall-pipeline';
