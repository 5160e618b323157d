/**
 * What a user can change about the generated dashboard and alert rules, the
 * defaults, and one `resolveConfig()` that merges a partial override over
 * them and rejects anything Prometheus or Grafana would choke on later.
 */
import { DEFAULT_PREFIX } from '../../src/catalogue';

export interface AlertThreshold {
  /** Value the expression is compared against (unit depends on the alert). */
  threshold: number;
  /** Range the expression looks back over (Prometheus duration), where it takes one. */
  window: string;
  /** How long the condition must hold before the alert fires (Prometheus duration; `0s` fires at once). */
  for: string;
  /** The `severity` label routed on by Alertmanager. */
  severity: string;
}

export interface AlertsConfig {
  /** The loop is blocked right now for more than `threshold` seconds (`window`: how far back the description looks for the top culprit). */
  eventLoopBlocked: AlertThreshold;
  /** A route caused at least `threshold` stalls within `window`, summed over instances. */
  routeStalling: AlertThreshold;
  /** An instance's p99 loop delay over `window` exceeds `threshold` seconds. */
  eventLoopDelayHigh: AlertThreshold;
  /** An instance's mean event-loop utilization over `window` exceeds `threshold` (0..1). */
  eventLoopSaturated: AlertThreshold;
  /** An instance's p99 thread-pool delay (the probe's wait for a libuv thread) over `window` exceeds `threshold` seconds. */
  threadPoolSaturated: AlertThreshold;
  /** Load shedding answers more than `threshold` requests per second with 503 over `window`. */
  loadShedding: AlertThreshold;
  /** On an instance, the CPU quota's throttling held the loop more than `threshold` (0..1) of its stalled time over `window`. */
  cpuThrottled: AlertThreshold;
  /** A worker thread (any `thread` but `main`) was stalled more than `threshold` (0..1) of the time over `window`. */
  workerStalled: AlertThreshold;
}

export interface GeneratorConfig {
  /** Metric name prefix: must equal the library's `prometheus.prefix` option. */
  prefix: string;
  /** Extra label matchers for every alert expression, e.g. `namespace="shop"`; empty for none. */
  selector: string;
  /** Labels that route-level alerts keep when they sum over instances (the `route` label is always kept). */
  groupBy: string[];
  /** Alert `runbook_url` is this plus the lower-cased alert name. */
  runbookUrlPrefix: string;
  /** Rows in the "blocked seconds by culprit route" table. */
  topRoutes: number;
  dashboardUid: string;
  dashboardTitle: string;
  /** The uid of the Prometheus data source in the provisioning file (the dashboard's data source variable lists every Prometheus). */
  datasourceUid: string;
  /** Prometheus's scrape interval for loopguard's endpoint: the data source's timeInterval and the ServiceMonitor's interval. */
  scrapeInterval: string;
  /** The Prometheus Operator objects (kube-prometheus-stack). */
  kubernetes: KubernetesConfig;
  alerts: AlertsConfig;
}

export interface KubernetesConfig {
  /** Namespace of the PrometheusRule and ServiceMonitor; empty: the one they are applied to. */
  namespace: string;
  /** Labels the Prometheus Operator selects rules and monitors by (kube-prometheus-stack: its release name). */
  ruleLabels: Record<string, string>;
  /** Labels of the Service in front of your pods. */
  serviceMatchLabels: Record<string, string>;
  /** The Service's port name that serves loopguard's `metricsServer`. */
  metricsPort: string;
}

/** A partial override, as read from a JSON file: every key optional, alerts per field. */
export type ConfigOverride = Partial<Omit<GeneratorConfig, 'alerts' | 'kubernetes'>> & {
  alerts?: { [K in keyof AlertsConfig]?: Partial<AlertThreshold> };
  kubernetes?: Partial<KubernetesConfig>;
};

export const DEFAULT_CONFIG: Readonly<GeneratorConfig> = deepFreeze({
  prefix: DEFAULT_PREFIX,
  selector: '',
  groupBy: ['job'],
  runbookUrlPrefix: 'https://github.com/loopguard/loopguard/blob/main/docs/alerting.md#runbook-',
  topRoutes: 10,
  dashboardUid: 'loopguard',
  dashboardTitle: 'loopguard: who blocks the event loop',
  datasourceUid: 'prometheus',
  scrapeInterval: '15s',
  kubernetes: {
    namespace: '',
    ruleLabels: { release: 'kube-prometheus-stack' },
    serviceMatchLabels: { 'app.kubernetes.io/name': 'my-service' },
    metricsPort: 'loopguard-metrics',
  },
  alerts: {
    // A loop that has not turned for 5 s fails health checks and times out every client.
    eventLoopBlocked: { threshold: 5, window: '5m', for: '0s', severity: 'critical' },
    // One stall can be a cold cache; five in ten minutes is a handler that blocks on every call.
    routeStalling: { threshold: 5, window: '10m', for: '5m', severity: 'warning' },
    // p99 of heartbeat lateness: healthy loops stay in single-digit milliseconds.
    eventLoopDelayHigh: { threshold: 0.2, window: '5m', for: '10m', severity: 'warning' },
    // Above ~90 % utilization queueing delay grows steeply for every request.
    eventLoopSaturated: { threshold: 0.9, window: '5m', for: '15m', severity: 'warning' },
    // An idle pool answers the probe in well under a millisecond; 100 ms at p99 is a queue every fs, dns.lookup and crypto call waits in.
    threadPoolSaturated: { threshold: 0.1, window: '5m', for: '10m', severity: 'warning' },
    // Any sustained shedding means clients are being refused.
    loadShedding: { threshold: 0, window: '5m', for: '5m', severity: 'warning' },
    // A quarter of the stalled time waiting for the quota: the limit, not the code, is what to change first.
    cpuThrottled: { threshold: 0.25, window: '15m', for: '10m', severity: 'warning' },
    // A pool worker stalled a tenth of the time holds the tasks queued behind it that long: a queue forms.
    workerStalled: { threshold: 0.1, window: '10m', for: '5m', severity: 'warning' },
  },
});

export const ALERT_KEYS = Object.keys(DEFAULT_CONFIG.alerts) as (keyof AlertsConfig)[];

const DURATION = /^(?:\d+(?:ms|s|m|h|d|w|y))+$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const METRIC_PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** One `name op "value"` matcher; the selector is a comma-separated list of them. */
const MATCHER = /^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(?:=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*$/;

/** A bad generator setting: a TypeError naming the setting, like the library's options. */
export class InvalidConfigError extends TypeError {
  readonly code = 'LOOPGUARD_INVALID_GRAFANA_CONFIG' as const;
  constructor(
    readonly setting: string,
    expected: string,
    received: unknown,
  ) {
    super(`loopguard grafana generator: "${setting}" must be ${expected}, received ${JSON.stringify(received)}`);
    this.name = 'InvalidConfigError';
  }
}

export function resolveConfig(override: ConfigOverride = {}): GeneratorConfig {
  if (override === null || typeof override !== 'object' || Array.isArray(override)) {
    throw new InvalidConfigError('config', 'an object', override);
  }
  unknownKeys('config', override, Object.keys(DEFAULT_CONFIG));
  const alertsIn = override.alerts ?? {};
  if (alertsIn === null || typeof alertsIn !== 'object') throw new InvalidConfigError('alerts', 'an object', alertsIn);
  unknownKeys('alerts', alertsIn, ALERT_KEYS);
  const alerts = {} as AlertsConfig;
  for (const key of ALERT_KEYS) alerts[key] = resolveAlert(key, alertsIn[key]);
  const config: GeneratorConfig = {
    prefix: check('prefix', override.prefix ?? DEFAULT_CONFIG.prefix, (v) => typeof v === 'string' && METRIC_PREFIX.test(v), 'a metric name prefix'),
    selector: check('selector', override.selector ?? DEFAULT_CONFIG.selector, isSelector, 'comma-separated label matchers like namespace="shop"'),
    groupBy: check(
      'groupBy',
      override.groupBy ?? [...DEFAULT_CONFIG.groupBy],
      (v) => Array.isArray(v) && v.every((l) => typeof l === 'string' && LABEL_NAME.test(l) && l !== 'route'),
      'an array of label names (route is always kept)',
    ),
    runbookUrlPrefix: check('runbookUrlPrefix', override.runbookUrlPrefix ?? DEFAULT_CONFIG.runbookUrlPrefix, (v) => typeof v === 'string' && /^https?:\/\//.test(v), 'an http(s) URL'),
    topRoutes: check('topRoutes', override.topRoutes ?? DEFAULT_CONFIG.topRoutes, (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 100, 'an integer from 1 to 100'),
    dashboardUid: check('dashboardUid', override.dashboardUid ?? DEFAULT_CONFIG.dashboardUid, (v) => typeof v === 'string' && /^[a-zA-Z0-9_-]{1,40}$/.test(v), 'a Grafana uid (letters, digits, - and _, at most 40)'),
    dashboardTitle: check('dashboardTitle', override.dashboardTitle ?? DEFAULT_CONFIG.dashboardTitle, (v) => typeof v === 'string' && v.length > 0, 'a non-empty string'),
    datasourceUid: check('datasourceUid', override.datasourceUid ?? DEFAULT_CONFIG.datasourceUid, (v) => typeof v === 'string' && /^[a-zA-Z0-9_-]{1,40}$/.test(v), 'a Grafana uid (letters, digits, - and _, at most 40)'),
    scrapeInterval: check('scrapeInterval', override.scrapeInterval ?? DEFAULT_CONFIG.scrapeInterval, (v) => typeof v === 'string' && DURATION.test(v) && v !== '0s', 'a Prometheus duration like 15s'),
    kubernetes: resolveKubernetes(override.kubernetes),
    alerts,
  };
  return config;
}

function resolveKubernetes(input: Partial<KubernetesConfig> | undefined): KubernetesConfig {
  const base = DEFAULT_CONFIG.kubernetes;
  if (input === undefined) return { ...base, ruleLabels: { ...base.ruleLabels }, serviceMatchLabels: { ...base.serviceMatchLabels } };
  if (input === null || typeof input !== 'object') throw new InvalidConfigError('kubernetes', 'an object', input);
  unknownKeys('kubernetes', input, Object.keys(base));
  const labels = (v: unknown): boolean => v !== null && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
  return {
    namespace: check('kubernetes.namespace', input.namespace ?? base.namespace, (v) => typeof v === 'string' && /^(|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$/.test(v), 'a Kubernetes namespace name, or empty'),
    ruleLabels: check('kubernetes.ruleLabels', input.ruleLabels ?? { ...base.ruleLabels }, labels, 'an object of label names to string values'),
    serviceMatchLabels: check('kubernetes.serviceMatchLabels', input.serviceMatchLabels ?? { ...base.serviceMatchLabels }, labels, 'an object of label names to string values'),
    metricsPort: check('kubernetes.metricsPort', input.metricsPort ?? base.metricsPort, (v) => typeof v === 'string' && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v) && v.length <= 15, 'a Service port name (IANA_SVC_NAME, at most 15 characters)'),
  };
}

function resolveAlert(key: keyof AlertsConfig, input: Partial<AlertThreshold> | undefined): AlertThreshold {
  const base = DEFAULT_CONFIG.alerts[key];
  if (input === undefined) return { ...base };
  if (input === null || typeof input !== 'object') throw new InvalidConfigError(`alerts.${key}`, 'an object', input);
  unknownKeys(`alerts.${key}`, input, Object.keys(base));
  const at = (field: string) => `alerts.${key}.${field}`;
  return {
    threshold: check(at('threshold'), input.threshold ?? base.threshold, (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0, 'a finite number >= 0'),
    window: check(at('window'), input.window ?? base.window, (v) => typeof v === 'string' && DURATION.test(v) && v !== '0s', 'a Prometheus duration like 5m'),
    for: check(at('for'), input.for ?? base.for, (v) => typeof v === 'string' && DURATION.test(v), 'a Prometheus duration like 5m or 0s'),
    severity: check(at('severity'), input.severity ?? base.severity, (v) => typeof v === 'string' && LABEL_NAME.test(v), 'a label value like warning or critical'),
  };
}

function isSelector(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  if (v.trim() === '') return true;
  return splitMatchers(v).every((m) => MATCHER.test(m));
}

/** Splits on commas outside quoted values, so regexes like "a,b" survive. */
export function splitMatchers(selector: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i]!;
    if (c === '\\' && quoted) {
      current += c + (selector[++i] ?? '');
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out.map((m) => m.trim()).filter((m) => m !== '');
}

function check<T>(setting: string, value: T, ok: (v: unknown) => boolean, expected: string): T {
  if (!ok(value)) throw new InvalidConfigError(setting, expected, value);
  return value;
}

function unknownKeys(where: string, input: object, known: readonly string[]): void {
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) throw new InvalidConfigError(`${where}.${key}`, `absent (known: ${known.join(', ')})`, key);
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
