/**
 * The metric catalogue: the one place where a metric name, its type, unit,
 * labels and buckets are spelled. The Prometheus and OpenTelemetry exporters,
 * the Grafana generator, the alert rules and the tests all iterate this list.
 *
 * `name` is the Prometheus name without the prefix (default `loopguard_`).
 * `otelName` + `unit` are chosen so that the OpenTelemetry Collector's
 * Prometheus translation (unit suffix, `_total` for monotonic sums) yields
 * exactly `prefix + name`.
 */

/** Loop delay is timer drift: sub-millisecond when healthy, seconds when stalled. */
export const DELAY_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
] as const;

/** Stalls start at the threshold (default 100 ms), so the low buckets are coarser. */
export const STALL_BUCKETS_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

/** A request's own synchronous time: microseconds for healthy handlers. */
export const BLOCKING_BUCKETS_SECONDS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/** A trivial job's wait in libuv's thread pool: 0.1 ms when idle, seconds when saturated or stuck. */
export const THREADPOOL_BUCKETS_SECONDS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

export type MetricType = 'counter' | 'gauge' | 'histogram';
export type LabelName = 'route' | 'method' | 'cause' | 'reason' | 'pool' | 'percentile' | 'thread' | 'state';

export interface MetricDefinition {
  /** Key used in code to refer to the metric. */
  readonly key: string;
  /** Prometheus name without prefix. */
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly LabelName[];
  /** UCUM unit for OpenTelemetry (`s`, `1`, `{request}` …). */
  readonly unit: string;
  /** OpenTelemetry instrument name without prefix (dots instead of underscores). */
  readonly otelName: string;
  readonly buckets?: readonly number[];
  /** How prom-client's AggregatorRegistry combines cluster workers. */
  readonly aggregator: 'sum' | 'max';
}

/**
 * Values of the `cause` label. `expected`: code declared as expected to block
 * (`expectedBlockingRoutes`, `guard.expectBlocking`); `host`: the thread was
 * runnable but not run (preempted, or its CPU quota throttled), so no route is
 * blamed; `task`: a pool task's code (`guard.task`, a piscina task), its name
 * in `route`. The bundled route alerts leave `expected` and `host` out.
 */
export const STALL_CAUSES = ['request', 'background', 'gc', 'expected', 'host', 'task'] as const;

/**
 * Values of `stall_thread_seconds_total`'s `state` label: what the stalled
 * thread was doing (docs/stall-state.md). A report's four states, with a
 * host stall's wait split into `host` (another task had the CPU) and
 * `throttled` (the CPU quota ran out), and `unknown` where not measured.
 */
export const STALL_THREAD_STATES = ['cpu', 'parked', 'gc', 'host', 'throttled', 'unknown'] as const;

/** OTel attribute names (semantic conventions) for our Prometheus labels. */
export const OTEL_ATTRIBUTES: Readonly<Record<LabelName, string>> = {
  route: 'http.route',
  method: 'http.request.method',
  cause: 'loopguard.cause',
  reason: 'loopguard.reason',
  pool: 'loopguard.pool',
  percentile: 'loopguard.percentile',
  thread: 'loopguard.thread',
  state: 'loopguard.state',
};

export const CATALOGUE = [
  {
    key: 'eventloopDelay',
    name: 'eventloop_delay_seconds',
    type: 'histogram',
    help: 'Event loop delay: how late the heartbeat timer ran, per sample (thread: main, or a watched worker thread).',
    labels: ['thread'],
    unit: 's',
    otelName: 'eventloop.delay',
    buckets: DELAY_BUCKETS_SECONDS,
    aggregator: 'sum',
  },
  {
    key: 'eventloopUtilization',
    name: 'eventloop_utilization_ratio',
    type: 'gauge',
    help: 'Event loop utilization (0..1) over the last sampling interval (thread: main, or a watched worker thread).',
    labels: ['thread'],
    unit: '1',
    otelName: 'eventloop.utilization',
    aggregator: 'max',
  },
  {
    key: 'eventloopBlocked',
    name: 'eventloop_blocked_seconds',
    type: 'gauge',
    help: 'How long the event loop has been blocked right now (0 while it turns).',
    labels: [],
    unit: 's',
    otelName: 'eventloop.blocked',
    aggregator: 'max',
  },
  {
    key: 'stalls',
    name: 'stalls_total',
    type: 'counter',
    help: 'Event loop stalls, by the culprit route that held the loop (cause: request, background, gc, expected when declared as expected to block, host when the thread was not run, or task when a pool task held it, its name as the route).',
    labels: ['route', 'method', 'cause', 'thread'],
    unit: '{stall}',
    otelName: 'stalls',
    aggregator: 'sum',
  },
  {
    key: 'stallSeconds',
    name: 'stall_seconds_total',
    type: 'counter',
    help: 'Time the event loop was stalled, by the culprit route that held it.',
    labels: ['route', 'method', 'cause', 'thread'],
    unit: 's',
    otelName: 'stall',
    aggregator: 'sum',
  },
  {
    key: 'stallThreadSeconds',
    name: 'stall_thread_seconds_total',
    type: 'counter',
    help: 'Time the event loop was stalled, by what its thread was doing (state: cpu, parked in a blocking call, gc, host = waiting for a CPU another task held, throttled = CPU quota, unknown).',
    labels: ['state'],
    unit: 's',
    otelName: 'stall.thread',
    aggregator: 'sum',
  },
  {
    key: 'busySeconds',
    name: 'busy_seconds_total',
    type: 'counter',
    help: "Estimated event loop time spent in each culprit's own code, from samples of which request is running; adds up to the loop's busy time.",
    labels: ['route', 'method', 'cause'],
    unit: 's',
    otelName: 'busy',
    aggregator: 'sum',
  },
  {
    key: 'stallDuration',
    name: 'stall_duration_seconds',
    type: 'histogram',
    help: 'Duration of event loop stalls.',
    labels: ['cause'],
    unit: 's',
    otelName: 'stall.duration',
    buckets: STALL_BUCKETS_SECONDS,
    aggregator: 'sum',
  },
  {
    key: 'requestDelay',
    name: 'request_delay_seconds',
    type: 'histogram',
    help: 'Event loop delay each request waited through while in flight (victim side).',
    labels: ['route', 'method'],
    unit: 's',
    otelName: 'request.delay',
    buckets: DELAY_BUCKETS_SECONDS,
    aggregator: 'sum',
  },
  {
    key: 'requestBlocking',
    name: 'request_blocking_seconds',
    type: 'histogram',
    help: "Each request's own synchronous time on the event loop (precise mode only).",
    labels: ['route', 'method'],
    unit: 's',
    otelName: 'request.blocking',
    buckets: BLOCKING_BUCKETS_SECONDS,
    aggregator: 'sum',
  },
  {
    key: 'requestsInFlight',
    name: 'requests_in_flight',
    type: 'gauge',
    help: 'Requests accepted and not yet answered.',
    labels: [],
    unit: '{request}',
    otelName: 'requests.in_flight',
    aggregator: 'sum',
  },
  {
    key: 'requestsShed',
    name: 'requests_shed_total',
    type: 'counter',
    help: 'Requests answered 503 by load shedding.',
    labels: ['route', 'reason'],
    unit: '{request}',
    otelName: 'requests.shed',
    aggregator: 'sum',
  },
  {
    key: 'threadpoolDelay',
    name: 'threadpool_delay_seconds',
    type: 'histogram',
    help: "Wait of a trivial job in libuv's thread pool (fs, dns.lookup, crypto, zlib), probed from the watchdog thread.",
    labels: [],
    unit: 's',
    otelName: 'threadpool.delay',
    buckets: THREADPOOL_BUCKETS_SECONDS,
    aggregator: 'sum',
  },
  {
    key: 'threadpoolSize',
    name: 'threadpool_size',
    type: 'gauge',
    help: "Threads in libuv's pool (UV_THREADPOOL_SIZE at start, default 4).",
    labels: [],
    unit: '{thread}',
    otelName: 'threadpool.size',
    aggregator: 'max',
  },
  {
    key: 'workerPoolQueueSize',
    name: 'worker_pool_queue_size',
    type: 'gauge',
    help: 'Tasks waiting for a thread in a watched worker pool (guard.watchPool).',
    labels: ['pool'],
    unit: '{task}',
    otelName: 'worker_pool.queue_size',
    aggregator: 'sum',
  },
  {
    key: 'workerPoolSize',
    name: 'worker_pool_size',
    type: 'gauge',
    help: 'Threads a watched worker pool runs at most.',
    labels: ['pool'],
    unit: '{thread}',
    otelName: 'worker_pool.size',
    aggregator: 'sum',
  },
  {
    key: 'workerPoolWait',
    name: 'worker_pool_wait_seconds',
    type: 'gauge',
    help: "Queue wait of a watched worker pool's tasks at a percentile (50, 99), as the pool reports it (piscina: since start or its last histogram reset).",
    // Not `quantile`: that label belongs to summaries, and these are percentiles the pool computed.
    labels: ['pool', 'percentile'],
    unit: 's',
    otelName: 'worker_pool.wait',
    aggregator: 'max',
  },
] as const satisfies readonly MetricDefinition[];

export type MetricKey = (typeof CATALOGUE)[number]['key'];

export const DEFAULT_PREFIX = 'loopguard_';

/** Route label sentinels: values that are not templates. */
export const ROUTE_UNMATCHED = '(unmatched)';
export const ROUTE_OVERFLOW = '(overflow)';
export const ROUTE_BACKGROUND = '(background)';
export const ROUTE_GC = '(gc)';
/** A stall the host caused (the thread was runnable but not run): no route is blamed. */
export const ROUTE_HOST = '(host)';

export function metricByKey(key: MetricKey): MetricDefinition {
  const found = CATALOGUE.find((m) => m.key === key);
  if (!found) throw new Error(`unknown metric key ${key}`);
  return found;
}
