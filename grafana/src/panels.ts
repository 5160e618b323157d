/**
 * The dashboard's panels, one function each. Every query filters by the
 * dashboard variables, sums over instances before any quantile (histograms
 * aggregate, percentile gauges would not) and rates over `$__rate_interval`.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as heatmap from '@grafana/grafana-foundation-sdk/heatmap';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import type { GeneratorConfig } from './config';
import { BY_ROUTE, BY_ROUTE_THREAD, BY_TARGET, BY_THREAD, metric, selector } from './promql';

/** Every panel and query reads from the data source the user picked in the `datasource` variable. */
export const DATASOURCE = Object.freeze({ type: 'prometheus', uid: '${datasource}' });

const RATE = '[$__rate_interval]';

function query(refId: string, expr: string, legend?: string): prometheus.DataqueryBuilder {
  const q = new prometheus.DataqueryBuilder().refId(refId).expr(expr).datasource(DATASOURCE).range();
  return legend === undefined ? q : q.legendFormat(legend);
}

function instantTable(refId: string, expr: string): prometheus.DataqueryBuilder {
  return new prometheus.DataqueryBuilder().refId(refId).expr(expr).datasource(DATASOURCE).instant().format(prometheus.PromQueryFormat.Table);
}

function legend(placement = common.LegendPlacement.Bottom): common.VizLegendOptionsBuilder {
  return new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(placement);
}

function tooltip(): common.VizTooltipOptionsBuilder {
  return new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending);
}

function series(title: string, description: string): timeseries.PanelBuilder {
  return new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .legend(legend())
    .tooltip(tooltip())
    .fillOpacity(10)
    .min(0);
}

/** `histogram_quantile` over a histogram summed across instances (and `by` labels). */
function quantile(q: number, bucket: string, filters: readonly string[], by: string[] = []): string {
  return `histogram_quantile(${q}, sum by (${[...by, 'le'].join(', ')}) (rate(${bucket}${selector(...filters)}${RATE})))`;
}

/** Delays span 0.1 ms to seconds: a log scale keeps the healthy p50 and a stall's p99 readable on one panel. */
function delaySeries(title: string, description: string): timeseries.PanelBuilder {
  return series(title, description)
    .unit('s')
    .scaleDistribution(new common.ScaleDistributionConfigBuilder().type(common.ScaleDistribution.Log).log(10));
}

export function loopDelay(c: GeneratorConfig): timeseries.PanelBuilder {
  const bucket = metric(c.prefix, 'eventloopDelay', '_bucket');
  return delaySeries(
    'Event loop delay',
    'How late the event loop ran the heartbeat timer, from the delay histogram summed over the selected instances and threads ' +
      '(the Thread variable: main, or watched worker threads). "max" is the upper bound of the highest bucket that received a sample.',
  )
    .withTarget(query('A', quantile(0.5, bucket, BY_THREAD), 'p50'))
    .withTarget(query('B', quantile(0.99, bucket, BY_THREAD), 'p99'))
    .withTarget(query('C', quantile(1, bucket, BY_THREAD), 'max'));
}

export function loopDelayByThread(c: GeneratorConfig): timeseries.PanelBuilder {
  const bucket = metric(c.prefix, 'eventloopDelay', '_bucket');
  return delaySeries(
    'Loop delay by thread',
    'p99 loop delay of each event loop, summed over instances: main, and each watched worker thread (its name, else worker-<threadId>; ' +
      "past 16 names, (other)). A worker whose delay rises holds the tasks or requests queued on it: see the worker pools' queue wait below.",
  ).withTarget(query('A', quantile(0.99, bucket, BY_THREAD, ['thread']), '{{thread}}'));
}

export function utilization(c: GeneratorConfig): timeseries.PanelBuilder {
  const elu = metric(c.prefix, 'eventloopUtilization') + selector(...BY_THREAD);
  return series(
    'Event loop utilization',
    "Share of time the event loop was busy: the mean over the selected instances and threads, and the busiest one. A pool worker's wait for its next task is not counted as busy.",
  )
    .unit('percentunit')
    .max(1)
    .withTarget(query('A', `avg(avg_over_time(${elu}${RATE}))`, 'mean'))
    .withTarget(query('B', `max(max_over_time(${elu}${RATE}))`, 'busiest instance'));
}

export function blockedNow(c: GeneratorConfig): stat.PanelBuilder {
  const blocked = metric(c.prefix, 'eventloopBlocked') + selector(...BY_TARGET);
  return new stat.PanelBuilder()
    .title('Blocked right now')
    .description(
      'How long the most blocked selected instance has had its event loop stopped, as of its last scrape (0 while it turns). ' +
        'A blocked loop cannot answer a scrape itself: this shows a live block only when /metrics is served off the main thread.',
    )
    .datasource(DATASOURCE)
    .unit('s')
    .decimals(2)
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(common.BigValueGraphMode.Area)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .thresholds(
      new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps([
        { value: null, color: 'green' },
        { value: 0.1, color: 'orange' },
        { value: c.alerts.eventLoopBlocked.threshold, color: 'red' },
      ]),
    )
    .withTarget(query('A', `max(${blocked})`, 'blocked'));
}

export function stallsPerMinute(c: GeneratorConfig): timeseries.PanelBuilder {
  const stalls = (cause: string) => metric(c.prefix, 'stalls') + selector(...BY_ROUTE_THREAD, cause);
  return series(
    'Stalls per minute by culprit route',
    'Stalls of the event loop, named by the route whose request held it (summed over instances). ' +
      '(background) and (gc) are stalls outside any request, (host) stalls the host caused (preempted or CPU-throttled: no route blamed); ' +
      'a pool task is named <file>#<export> (piscina) or by guard.task; the Thread variable picks main or worker threads; ' +
      '"(expected)" series are blocking declared as expected ' +
      '(expectedBlockingRoutes, guard.expectBlocking), which the alerts leave out.',
  )
    .unit('short')
    .drawStyle(common.GraphDrawStyle.Bars)
    .fillOpacity(60)
    .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
    .withTarget(query('A', `sum by (route) (rate(${stalls('cause!="expected"')}${RATE})) * 60`, '{{route}}'))
    .withTarget(query('B', `sum by (route) (rate(${stalls('cause="expected"')}${RATE})) * 60`, '{{route}} (expected)'));
}

export function loopTimeByRoute(c: GeneratorConfig): timeseries.PanelBuilder {
  const busy = metric(c.prefix, 'busySeconds') + selector(...BY_ROUTE);
  return series(
    'Loop time by route (sampled busy time)',
    "Where the event loop's time goes, by the route whose own code ran, summed over instances: rate of busy_seconds_total, " +
      'estimated from low-rate samples and scaled to the measured utilization. 100 % is one event loop fully busy. ' +
      'It shows the quiet overload no single stall does: many routes each holding the loop a few milliseconds per request.',
  )
    .unit('percentunit')
    .fillOpacity(60)
    .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
    .withTarget(query('A', `sum by (route) (rate(${busy}${RATE}))`, '{{route}}'));
}

export function blockedByRoute(c: GeneratorConfig): table.PanelBuilder {
  // By thread too: one task or route on two loops is two rows, each the time that loop stood still.
  const seconds = `sum by (route, thread) (increase(${metric(c.prefix, 'stallSeconds')}${selector(...BY_ROUTE_THREAD)}[$__range]))`;
  const count = `sum by (route, thread) (increase(${metric(c.prefix, 'stalls')}${selector(...BY_ROUTE_THREAD)}[$__range]))`;
  const top = `topk(${c.topRoutes}, ${seconds})`;
  // An instant table over the dashboard's whole time range is the one place a
  // query ranges over $__range rather than $__rate_interval: "who blocked the
  // loop most in the period I am looking at".
  return new table.PanelBuilder()
    .title(`Blocked seconds by culprit route (top ${c.topRoutes})`)
    .description(
      'Total time each route (or pool task) held an event loop over the dashboard time range, summed over instances, with its number of stalls ' +
        'and the thread whose loop it held (main, or a worker thread).',
    )
    .datasource(DATASOURCE)
    .withTarget(instantTable('A', top))
    .withTarget(instantTable('B', `${count} and on (route, thread) ${top}`))
    .withTransformation({ id: 'merge', options: {} })
    .withTransformation({
      id: 'organize',
      options: {
        excludeByName: { Time: true },
        indexByName: { route: 0, thread: 1, 'Value #A': 2, 'Value #B': 3 },
        renameByName: { route: 'Route', thread: 'Thread', 'Value #A': 'Blocked (s)', 'Value #B': 'Stalls' },
      },
    })
    .sortBy([new common.TableSortByFieldStateBuilder().displayName('Blocked (s)').desc(true)])
    .overrideByName('Blocked (s)', [{ id: 'unit', value: 's' }, { id: 'decimals', value: 2 }])
    .overrideByName('Stalls', [{ id: 'decimals', value: 0 }]);
}

export function stallDurations(c: GeneratorConfig): heatmap.PanelBuilder {
  const bucket = metric(c.prefix, 'stallDuration', '_bucket') + selector(...BY_TARGET);
  return new heatmap.PanelBuilder()
    .title('Stall duration')
    .description('How long stalls lasted (all causes, summed over instances); cells count stalls per second.')
    .datasource(DATASOURCE)
    .calculate(false)
    .yAxis(new heatmap.YAxisConfigBuilder().unit('s'))
    .rowsFrame(new heatmap.RowsHeatmapOptionsBuilder().layout(common.HeatmapCellLayout.Le))
    .cellValues(new heatmap.CellValuesBuilder().unit('short'))
    .withTarget(query('A', `sum by (le) (rate(${bucket}${RATE}))`, '{{le}}').format(prometheus.PromQueryFormat.Heatmap));
}

export function ownTimeByRoute(c: GeneratorConfig): timeseries.PanelBuilder {
  const bucket = metric(c.prefix, 'requestBlocking', '_bucket');
  return series(
    'Own synchronous time p99 by route (precise mode)',
    "p99 of each request's own synchronous time on the event loop, including blocking under the stall threshold. " +
      'Recorded only when loopguard runs with precise: true.',
  )
    .unit('s')
    .withTarget(query('A', quantile(0.99, bucket, BY_ROUTE, ['route']), '{{route}}'));
}

export function victimDelay(c: GeneratorConfig): timeseries.PanelBuilder {
  const bucket = metric(c.prefix, 'requestDelay', '_bucket');
  return series(
    'Victim delay p99 by route',
    'p99 of the event-loop delay requests of each route waited through while in flight: the cost other routes paid for the culprits.',
  )
    .unit('s')
    .withTarget(query('A', quantile(0.99, bucket, BY_ROUTE, ['route']), '{{route}}'));
}

export function inFlight(c: GeneratorConfig): timeseries.PanelBuilder {
  const gauge = metric(c.prefix, 'requestsInFlight') + selector(...BY_TARGET);
  return series('Requests in flight', 'Requests accepted and not yet answered: over all selected instances and on the busiest one.')
    .unit('short')
    .withTarget(query('A', `sum(${gauge})`, 'all instances'))
    .withTarget(query('B', `max(${gauge})`, 'busiest instance'));
}

export function shed(c: GeneratorConfig): timeseries.PanelBuilder {
  const shedTotal = metric(c.prefix, 'requestsShed') + selector(...BY_ROUTE);
  return series('Requests shed', 'Requests answered 503 by load shedding, by route and reason, summed over instances.')
    .unit('reqps')
    .withTarget(query('A', `sum by (route, reason) (rate(${shedTotal}${RATE}))`, '{{route}} ({{reason}})'));
}

export function threadPoolDelay(c: GeneratorConfig): timeseries.PanelBuilder {
  const pool = metric(c.prefix, 'threadpoolDelay', '_bucket');
  const loop = metric(c.prefix, 'eventloopDelay', '_bucket');
  return delaySeries(
    'Thread pool delay beside loop delay',
    "How long a trivial job waited for a thread of libuv's pool (fs, dns.lookup, async crypto, zlib), probed from the watchdog thread, " +
      'beside the event loop delay. A pool p99 far above the loop p99 is work moved off the loop queueing for too few threads.',
  )
    .withTarget(query('A', quantile(0.5, pool, BY_TARGET), 'pool p50'))
    .withTarget(query('B', quantile(0.99, pool, BY_TARGET), 'pool p99'))
    .withTarget(query('C', quantile(0.99, loop, BY_TARGET), 'loop p99'));
}

export function threadPoolSize(c: GeneratorConfig): stat.PanelBuilder {
  const size = metric(c.prefix, 'threadpoolSize') + selector(...BY_TARGET);
  return new stat.PanelBuilder()
    .title('Thread pool threads')
    .description("libuv's pool size (UV_THREADPOOL_SIZE at start, default 4): the most on any selected instance.")
    .datasource(DATASOURCE)
    .unit('short')
    .decimals(0)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .withTarget(query('A', `max(${size})`, 'threads'));
}

export function workerPoolQueue(c: GeneratorConfig): timeseries.PanelBuilder {
  const queue = metric(c.prefix, 'workerPoolQueueSize') + selector(...BY_TARGET);
  const size = metric(c.prefix, 'workerPoolSize') + selector(...BY_TARGET);
  return series('Worker pool queue', 'Tasks waiting for a thread in each watched worker pool (guard.watchPool), summed over instances, beside the threads the pool may run.')
    .unit('short')
    .withTarget(query('A', `sum by (pool) (${queue})`, '{{pool}} queued'))
    .withTarget(query('B', `sum by (pool) (${size})`, '{{pool}} threads'));
}

export function workerPoolWait(c: GeneratorConfig): timeseries.PanelBuilder {
  const wait = metric(c.prefix, 'workerPoolWait') + selector(...BY_TARGET, 'percentile="99"');
  return series(
    'Worker pool queue wait p99',
    "Each watched pool's own p99 queue wait (piscina: since the pool started or its histogram was reset). " +
      'Quantiles do not add up across instances: this is the worst instance.',
  )
    .unit('s')
    .withTarget(query('A', `max by (pool) (${wait})`, '{{pool}}'));
}

export function threadStates(c: GeneratorConfig): timeseries.PanelBuilder {
  const thread = metric(c.prefix, 'stallThreadSeconds') + selector(...BY_TARGET);
  return series(
    'What the loop was doing during stalls',
    "The stalled time by what the loop's thread was doing, summed over instances (seconds stalled per second): cpu = computing " +
      '(fix: a better algorithm, chunking, a worker pool); parked = asleep in a blocking call (sync I/O, execSync, Atomics.wait: use the async API); ' +
      'gc = garbage collection (allocation, heap size, a leak); host = ready but another task had the CPU; throttled = ready but the ' +
      "container's CPU quota had run out (raise the limit); unknown = not measured (not Linux, or captures off). See docs/stall-state.md.",
  )
    .unit('percentunit')
    .drawStyle(common.GraphDrawStyle.Bars)
    .fillOpacity(60)
    .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
    .withTarget(query('A', `sum by (state) (rate(${thread}${RATE}))`, '{{state}}'));
}
