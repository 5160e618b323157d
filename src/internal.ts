/**
 * INTERNAL: not part of loopguard's API and not in the package's exports.
 * The one entry point through which tests and benchmarks reach private state
 * and building blocks (`require('../dist/internal.js')`). Anything here may
 * change in any release.
 *
 * Tests import nothing else under dist/ but the public entry points
 * (test/package/test-layout.test.mjs checks it), so a module that moves
 * changes one line here, not the tests.
 */

// The guard's private state, the request context and the stall pipeline.
export { guardInternals, type GuardInternals } from './guard-internals';
export { requestStore, type RequestRecord } from './core/request-context';
export { StallPipeline, SAMPLES_TIMEOUT_MS, PENDING_ROUTE_TIMEOUT_MS, type Scheduler } from './core/stall-pipeline';

// Kernel pieces: attribution, route table, histograms, per-request and per-stall accounting.
export { splitStall, gcShare, isGcStall } from './core/attribution';
export { RouteTable, normaliseMethod } from './core/routes';
export { Histogram } from './core/histogram';
export { quantileFromBuckets } from './core/quantile';
export { expectedRouteTest, inExpectedCode, runExpected } from './core/expected';
export { runTask, isTaskName, isPiscinaWorker, piscinaTaskName, MAX_TASK_NAME } from './core/task-context';
export { watchPiscinaTasks } from './core/piscina-tasks';
export { ReportLimit } from './collectors/report-limit';
export { RequestTracker } from './core/request-tracker';
export { StallStats } from './collectors/stall-stats';

// Options: the constructor's, the environment's, and the metric catalogue's buckets.
export { resolveOptions } from './options';
export { optionsFromEnv, ENV_VARIABLES } from './env-options';
export { DELAY_BUCKETS_SECONDS, THREADPOOL_BUCKETS_SECONDS } from './catalogue';

// The main thread's sampling: heartbeat, idle pace, thread-pool and worker-pool stats.
export { Heartbeat, type BeatListener, type IdlePace, type HeartbeatClock } from './core/heartbeat';
export { IdleGate } from './core/idle-gate';
export { threadPoolSize, ThreadPoolStats } from './collectors/thread-pool';
export { WorkerPools, MAX_WATCHED_POOLS } from './collectors/worker-pools';

// The watchdog thread and what it shares with the main thread.
export { Watchdog } from './core/watchdog-host';
export { SharedState } from './contract/shared-state';
export { normaliseFrames, culpritFrame, formatFrame } from './contract/frames';
export { mostlyPreempted } from './watchdog/thread-clock';
export { bucketIndex, SharedHistogram, RING_SIZE } from './contract/pool-histogram';
export { ProbeSchedule } from './watchdog/pool-probe';
export { BusySampler } from './watchdog/busy-sampler';
export { openLoopIdleReader } from './watchdog/main-loop-state';
export { busySharedViews } from './contract/probe';
export { ScriptSources } from './watchdog/pause-advice';

// Busy time.
export { BusyEstimator } from './busy/estimator';
export { wilsonInterval } from './busy/confidence';
export { BusyTime } from './busy/busy-time';

// Advice.
export { classifyPause, gcAdvice } from './advice/classify';
export { ADVICE_DOCS_PREFIX, ADVICE_KINDS, docsFor } from './contract/advice';
export { adviceFor } from './advice/fixes';
export { findCalls } from './advice/source-scan';
export { dominantAdvice } from './advice/dominant';

// Load shedding.
export { compileList, compileTemplate } from './shed/route-match';
export { PressureMachine, MAX_COOLDOWN_FACTOR } from './shed/pressure';
export { RecentBlame, selectCulprits } from './shed/culprits';
export { WindowMax } from './shed/window';
export { ServedHistory } from './shed/served';
export { PressureSignals } from './shed/signals';
export { Shedder } from './shed/shedder';
export { resolveShedOptions, SHED_DEFAULTS } from './shed/options';

// Route templates and the ignore option.
export { expressRoute } from './routes/express';
export { fastifyRoute } from './routes/fastify';
export { koaRoute } from './routes/koa';
export { zeroCodeRoute } from './routes/zero-code';
export { joinPaths } from './routes/join';
export { compileIgnore } from './routes/ignore';

// Adapters: the per-request entry and the channel-opened start.
export { RequestEntry, ChannelStarter } from './adapters/entry';
export { kRecord } from './adapters/finish';

// Prometheus: client choice and the worker-served endpoint's main-thread side.
export { choosePromClient } from './prometheus/prom-lib';
export { MetricsBridge } from './prometheus/metrics-bridge';

// OpenTelemetry's small parts.
export { SampleQueue } from './otel/sample-queue';
export { HOLD_MAX_MS, SpanLinks, hrTimeOf, STALL_EVENT, DELAYED_EVENT } from './otel/span-events';
export { attributesOf, instrumentKind, prometheusViews } from './otel/instruments';

// The live page's pure parts.
export { displayPath } from './view/paths';
export { LoopHistory } from './view/history';
export { toViewSnapshot } from './view/view-model';

// The loop budget (loopguard/test) and its host.
export { BudgetLedger, mergeSummaries } from './budget/ledger';
export { formatBudget } from './budget/table';
export { resolveBudget } from './budget/budget-config';
export { findHost } from './budget/host';

// The cross-copy protocol: symbol keys and channel names.
export { kBusyProbe, kProbe, SYMBOL_NAMES, PROTOCOL_VERSION } from './contract/symbols';

// What the main thread was doing during a stall: the thread clock and the state rule.
export { openThreadClock, threadTimeBetween } from './watchdog/thread-clock';
export { parseSchedstat, parseTaskStat, parseCgroupFile, cpuStatCandidates, parseCpuStatV2, parseCpuStatV1 } from './watchdog/proc-stat-parse';
export { classifyStall, threadTimeByState } from './core/stall-state';
export { adviceForState } from './advice/by-state';
export { StallClock, MIN_WINDOW_MS } from './watchdog/stall-clock';

// The kernel and the composition around it.
export { Kernel } from './core/kernel';
export { composeGuard } from './compose';
