/**
 * Prometheus alert rules in the monitoring-mixin style: `LoopGuard`-prefixed
 * CamelCase names, a `severity` label, `summary` / `description` templated
 * with the route and the value, and a `runbook_url` into the README.
 */
import type { AlertThreshold, GeneratorConfig } from './config';
import { splitMatchers } from './config';
import { MAIN_THREAD, MAIN_THREAD_VALUES, WORKER_THREADS, metric, selector } from './promql';

/**
 * Stalls declared as expected (`cause="expected"`) are measured, never alerted
 * on; stalls the host caused (`cause="host"`, route `(host)`) are no route's.
 */
const NOT_A_ROUTES = 'expected|host';
/** Pool tasks (`cause="task"`, their name as the route) are no routes either: a stalled worker has its own alert. */
const NOT_ROUTE_STALLS = `cause!~"${NOT_A_ROUTES}|task"`;

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; description: string; runbook_url: string };
}

export interface RuleFile {
  groups: { name: string; rules: AlertRule[] }[];
}

/**
 * Names the route with the most blocked time on the alerting instance, so an
 * instance-level alert (which has no route label) still says who to look at.
 * Runs at notification time through Prometheus's `query` template function.
 */
function topCulprit(c: GeneratorConfig, window: string): string {
  const seconds = metric(c.prefix, 'stallSeconds');
  // The instance-level alerts are about the main thread's loop: its culprits, not a pool worker's tasks.
  const promql = `topk(1, sum by (route) (increase(${seconds}{job=%q, instance=%q, cause!~%q, thread=~%q}[${window}]))) > 0`;
  return (
    `{{ with printf "${promql}" $labels.job $labels.instance "${NOT_A_ROUTES}" "${MAIN_THREAD_VALUES}" | query }}{{ with first . }}` +
    `The route with the most blocked time there over the last ${window} is {{ .Labels.route }} ({{ .Value | humanizeDuration }}).{{ end }}` +
    `{{ else }}No stall was attributed to a route there over the last ${window}.{{ end }}`
  );
}

/**
 * Names the route whose code took most of the loop's time on the alerting
 * instance (sampled busy time): a saturated loop usually has no single long
 * stall, only many routes each holding it a few milliseconds per request.
 */
function topBusyRoute(c: GeneratorConfig, window: string): string {
  const busy = metric(c.prefix, 'busySeconds');
  const promql = `topk(1, sum by (route) (rate(${busy}{job=%q, instance=%q, cause!=%q}[${window}]))) > 0`;
  return (
    `{{ with printf "${promql}" $labels.job $labels.instance "expected" | query }}{{ with first . }}` +
    `The route taking most of the loop's time there over the last ${window} is {{ .Labels.route }} ({{ .Value | humanizePercentage }} of the loop, sampled). {{ end }}{{ end }}`
  );
}

/** The total blocked time behind a route-level alert, over the same labels and window. */
function routeBlockedTime(c: GeneratorConfig, window: string): string {
  const labels = [...c.groupBy, 'route'];
  const matchers = [...labels.map((l) => `${l}=%q`), 'cause!~%q'].join(', ');
  const promql = `sum(increase(${metric(c.prefix, 'stallSeconds')}{${matchers}}[${window}]))`;
  const args = [...labels.map((l) => `$labels.${l}`), `"${NOT_A_ROUTES}|task"`].join(' ');
  return `{{ with printf "${promql}" ${args} | query }}{{ with first . }} They held it for {{ .Value | humanizeDuration }} in total.{{ end }}{{ end }}`;
}

/** The pool's size on the alerting instance, looked up at notification time. */
function poolSize(c: GeneratorConfig): string {
  const promql = `${metric(c.prefix, 'threadpoolSize')}{job=%q, instance=%q}`;
  return `{{ with printf "${promql}" $labels.job $labels.instance | query }}{{ with first . }} of {{ .Value }} threads{{ end }}{{ end }}`;
}

/** The task (or route) with the most stalled time on the alerting worker thread. */
function topOnThread(c: GeneratorConfig, window: string): string {
  const seconds = metric(c.prefix, 'stallSeconds');
  const promql = `topk(1, sum by (route) (increase(${seconds}{job=%q, instance=%q, thread=%q}[${window}]))) > 0`;
  return (
    `{{ with printf "${promql}" $labels.job $labels.instance $labels.thread | query }}{{ with first . }}` +
    `The task with the most stalled time there is {{ .Labels.route }} ({{ .Value | humanizeDuration }} over the last ${window}).{{ end }}{{ end }}`
  );
}

/** The longest queue wait among the pools watched on the alerting instance (watchPool), looked up at notification time. */
function worstPoolWait(c: GeneratorConfig): string {
  const promql = `topk(1, ${metric(c.prefix, 'workerPoolWait')}{job=%q, instance=%q, percentile=%q})`;
  return (
    `{{ with printf "${promql}" $labels.job $labels.instance "99" | query }}{{ with first . }}` +
    ` Pool {{ .Labels.pool }} there has a queue wait p99 of {{ .Value | humanizeDuration }}.{{ end }}{{ end }}`
  );
}

/** Throttled stall time over all stall time, per instance: `stall_thread_seconds_total{state="throttled"}` over every state. */
function throttledShare(c: GeneratorConfig, window: string, sel: (...extra: string[]) => string): string {
  const thread = metric(c.prefix, 'stallThreadSeconds');
  const by = 'job, instance';
  return `sum by (${by}) (increase(${thread}${sel('state="throttled"')}[${window}])) / sum by (${by}) (increase(${thread}${sel()}[${window}]))`;
}

function rule(c: GeneratorConfig, name: string, t: AlertThreshold, expr: string, summary: string, description: string): AlertRule {
  return {
    alert: name,
    expr,
    ...(/^0+[a-z]+$/.test(t.for) ? {} : { for: t.for }),
    labels: { severity: t.severity },
    annotations: { summary, description, runbook_url: c.runbookUrlPrefix + name.toLowerCase() },
  };
}

export function buildAlerts(c: GeneratorConfig): RuleFile {
  const user = splitMatchers(c.selector);
  const sel = (...extra: string[]) => selector(...user, ...extra);
  const by = (...labels: string[]) => [...c.groupBy, ...labels].join(', ');
  const { eventLoopBlocked, routeStalling, eventLoopDelayHigh, eventLoopSaturated, threadPoolSaturated, loadShedding, cpuThrottled, workerStalled } = c.alerts;
  const where = '{{ $labels.instance }} (job {{ $labels.job }})';

  const rules: AlertRule[] = [
    rule(
      c,
      'LoopGuardEventLoopBlocked',
      eventLoopBlocked,
      `${metric(c.prefix, 'eventloopBlocked')}${sel()} > ${eventLoopBlocked.threshold}`,
      `The event loop of ${where} has been blocked for {{ $value | humanizeDuration }}.`,
      `The event loop of ${where} has not turned for {{ $value | humanizeDuration }} (alert above ${eventLoopBlocked.threshold}s): ` +
        `every request on it waits and health checks time out. The culprit is named when the stall ends. ${topCulprit(c, eventLoopBlocked.window)}`,
    ),
    rule(
      c,
      'LoopGuardRouteStalling',
      routeStalling,
      `sum by (${by('route')}) (increase(${metric(c.prefix, 'stalls')}${sel(NOT_ROUTE_STALLS)}[${routeStalling.window}])) >= ${routeStalling.threshold}`,
      `Route {{ $labels.route }} stalled the event loop {{ $value | humanize }} times in ${routeStalling.window}.`,
      `{{ $labels.route }} held the event loop of {{ $labels.job }} past the stall threshold {{ $value | humanize }} times ` +
        `in the last ${routeStalling.window}, summed over instances (alert at ${routeStalling.threshold}).${routeBlockedTime(c, routeStalling.window)} ` +
        'Each stall delays every other request in flight on the same instance.',
    ),
    rule(
      c,
      'LoopGuardEventLoopDelayHigh',
      eventLoopDelayHigh,
      `histogram_quantile(0.99, rate(${metric(c.prefix, 'eventloopDelay', '_bucket')}${sel(MAIN_THREAD)}[${eventLoopDelayHigh.window}])) > ${eventLoopDelayHigh.threshold}`,
      `p99 event loop delay of ${where} is {{ $value | humanizeDuration }}.`,
      `Over the last ${eventLoopDelayHigh.window}, 1 % of the event loop's turns on ${where} ran at least {{ $value | humanizeDuration }} late ` +
        `(alert above ${eventLoopDelayHigh.threshold}s): every request there pays that delay. ${topCulprit(c, eventLoopDelayHigh.window)}`,
    ),
    rule(
      c,
      'LoopGuardEventLoopSaturated',
      eventLoopSaturated,
      `avg_over_time(${metric(c.prefix, 'eventloopUtilization')}${sel(MAIN_THREAD)}[${eventLoopSaturated.window}]) > ${eventLoopSaturated.threshold}`,
      `The event loop of ${where} is {{ $value | humanizePercentage }} busy.`,
      `The event loop of ${where} was busy {{ $value | humanizePercentage }} of the time over the last ${eventLoopSaturated.window} ` +
        `(alert above ${eventLoopSaturated.threshold}): requests queue behind each other. ${topBusyRoute(c, eventLoopSaturated.window)}${topCulprit(c, eventLoopSaturated.window)}`,
    ),
    rule(
      c,
      'LoopGuardThreadPoolSaturated',
      threadPoolSaturated,
      `histogram_quantile(0.99, rate(${metric(c.prefix, 'threadpoolDelay', '_bucket')}${sel()}[${threadPoolSaturated.window}])) > ${threadPoolSaturated.threshold}`,
      `p99 thread-pool delay of ${where} is {{ $value | humanizeDuration }}.`,
      `Over the last ${threadPoolSaturated.window}, 1 % of loopguard's trivial probe jobs on ${where} waited at least {{ $value | humanizeDuration }} ` +
        `for a thread of libuv's pool${poolSize(c)} (alert above ${threadPoolSaturated.threshold}s): every fs call, dns.lookup (so every outgoing request to a hostname), ` +
        'async crypto and zlib call there waits in the same queue, however healthy the event loop looks.',
    ),
    rule(
      c,
      'LoopGuardLoadShedding',
      loadShedding,
      `sum by (${by('route', 'reason')}) (rate(${metric(c.prefix, 'requestsShed')}${sel()}[${loadShedding.window}])) > ${loadShedding.threshold}`,
      `Load shedding refuses {{ $value | humanize }} req/s to {{ $labels.route }} ({{ $labels.reason }}).`,
      `{{ $labels.job }} has answered {{ $value | humanize }} req/s to {{ $labels.route }} with 503 over the last ${loadShedding.window} ` +
        `because of {{ $labels.reason }} (alert above ${loadShedding.threshold}/s): clients are being refused to keep the event loop responsive.`,
    ),
    rule(
      c,
      'LoopGuardCpuThrottled',
      cpuThrottled,
      throttledShare(c, cpuThrottled.window, sel) + ` > ${cpuThrottled.threshold}`,
      `The CPU limit held the event loop of ${where} for {{ $value | humanizePercentage }} of its stalled time.`,
      `Over the last ${cpuThrottled.window}, ${where} spent {{ $value | humanizePercentage }} of its stalled time throttled by its CPU quota ` +
        `(alert above ${cpuThrottled.threshold}): the loop was ready to run but the container's CPU limit had run out. ` +
        'These stalls are counted as cause="host" and blamed on no route. Raise or remove the CPU limit, or lower the work per instance.',
    ),
    rule(
      c,
      'LoopGuardWorkerStalled',
      workerStalled,
      `sum by (${by('instance', 'thread')}) (rate(${metric(c.prefix, 'stallSeconds')}${sel(WORKER_THREADS)}[${workerStalled.window}])) > ${workerStalled.threshold}`,
      `Worker thread {{ $labels.thread }} of ${where} was stalled {{ $value | humanizePercentage }} of the time.`,
      `Over the last ${workerStalled.window}, the event loop of worker thread {{ $labels.thread }} on ${where} was stalled ` +
        `{{ $value | humanizePercentage }} of the time (alert above ${workerStalled.threshold}): a stalled pool worker runs nothing else, ` +
        `so every task queued behind it waits. ${topOnThread(c, workerStalled.window)}${worstPoolWait(c)}`,
    ),
  ];
  return { groups: [{ name: 'loopguard', rules }] };
}
