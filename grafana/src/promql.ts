/**
 * PromQL building blocks shared by the dashboard and the alert rules. Metric
 * names come from the catalogue only; the suffixes here (`_bucket`, `_count`)
 * are Prometheus's histogram conventions, not names of our own.
 */
import { metricByKey, type MetricKey } from '../../src/catalogue';

type HistogramSeries = '_bucket' | '_count' | '_sum';

/** `prefix + catalogue name`, or one of a histogram's series. */
export function metric(prefix: string, key: MetricKey, series?: HistogramSeries): string {
  const def = metricByKey(key);
  if (series !== undefined && def.type !== 'histogram') throw new Error(`${def.name} is a ${def.type}, it has no ${series} series`);
  return prefix + def.name + (series ?? '');
}

/** `{a, b}` from matchers, or nothing when there are none. */
export function selector(...matchers: string[]): string {
  const present = matchers.map((m) => m.trim()).filter((m) => m !== '');
  return present.length === 0 ? '' : `{${present.join(', ')}}`;
}

/** Dashboard filters: every variable is multi-valued, hence the regex matchers. */
export const BY_TARGET = ['job=~"$job"', 'instance=~"$instance"'] as const;
export const BY_ROUTE = [...BY_TARGET, 'route=~"$route"'] as const;
/** For the series with a `thread` label (loop delay, ELU, the stall counters): `main` or a worker thread's. */
export const BY_THREAD = [...BY_TARGET, 'thread=~"$thread"'] as const;
export const BY_ROUTE_THREAD = [...BY_ROUTE, 'thread=~"$thread"'] as const;

/**
 * The main thread's series: `thread="main"`, or no `thread` label at all
 * (loopguard before worker threads were watched). Instance-level alerts are
 * about the loop that serves the requests; a pool worker that is busy is
 * doing its job, and its stalls have an alert of their own.
 */
export const MAIN_THREAD_VALUES = 'main|';
export const MAIN_THREAD = `thread=~"${MAIN_THREAD_VALUES}"`;
/** Worker threads' series. */
export const WORKER_THREADS = `thread!~"${MAIN_THREAD_VALUES}"`;

/**
 * Grafana's variable syntaxes: `$name`, `${name}`, `${name:format}`,
 * `[[name]]`. The generator only writes `$name`, but a check must see them all.
 */
const VARIABLE = /\$\{(\w+)(?::\w+)?\}|\[\[(\w+)(?::\w+)?\]\]|\$(\w+)/g;

/** Names of the Grafana variables an expression refers to. */
export function variablesIn(text: string): string[] {
  return [...text.matchAll(VARIABLE)].map((m) => (m[1] ?? m[2] ?? m[3])!);
}

/** Grafana's built-in variables, valid in every dashboard without being defined. */
export const BUILTIN_VARIABLES = ['__rate_interval', '__interval', '__interval_ms', '__range', '__range_s', '__range_ms', '__name', '__dashboard'] as const;

/**
 * Replaces Grafana variables with concrete values, as Grafana would before
 * sending a query: what lets promtool and a real Prometheus evaluate panel
 * queries. Throws on a variable it was not given, so a typo cannot slip by.
 */
export function substitute(expr: string, values: Readonly<Record<string, string>>): string {
  return expr.replace(VARIABLE, (whole, a: string | undefined, b: string | undefined, c: string | undefined) => {
    const name = (a ?? b ?? c)!;
    const value = values[name];
    if (value === undefined) throw new Error(`no value for Grafana variable ${whole} in: ${expr}`);
    return value;
  });
}
