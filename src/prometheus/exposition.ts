/**
 * Prometheus text format 0.0.4 from the JSON form of a prom-client registry
 * (`registry.getMetricsAsJSON()`). The watchdog worker renders with it, so
 * the string building of a scrape happens off the main thread, and it can
 * answer from a cached copy while the main thread is blocked. Pure: no I/O.
 */

import type { MetricJson, MetricValueJson } from '../contract/messages';

export type { MetricJson, MetricValueJson };

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';



/**
 * Text in the registry's own format, laid out as prom-client lays it out.
 * OpenMetrics names a counter family without `_total` and its samples with it.
 */
export function renderText(metrics: readonly MetricJson[], contentType: string = TEXT_CONTENT_TYPE): string {
  const openMetrics = contentType === OPENMETRICS_CONTENT_TYPE;
  const families: string[] = [];
  for (const metric of metrics) {
    const counter = openMetrics && metric.type === 'counter';
    const name = counter ? metric.name.replace(/_total$/, '') : metric.name;
    const lines = [`# HELP ${name} ${escapeHelp(metric.help)}`, `# TYPE ${name} ${metric.type}`];
    for (const sample of metric.values ?? []) {
      const series = counter ? `${sample.metricName ?? name}_total` : (sample.metricName ?? name);
      lines.push(`${series}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
    }
    families.push(lines.join('\n'));
  }
  if (openMetrics) return `${families.join('\n')}\n# EOF\n`;
  // A blank line between families, as prom-client renders.
  return families.length === 0 ? '' : `${families.join('\n\n')}\n`;
}

/**
 * The families with one gauge's value replaced by what is true right now.
 * The gauge's samples keep their labels (a registry's default labels); if
 * the family is missing (no exposition yet) it is appended with no labels.
 */
export function withGaugeValue(metrics: readonly MetricJson[], gauge: Omit<MetricJson, 'values'>, value: number): MetricJson[] {
  let found = false;
  const out = metrics.map((metric) => {
    if (metric.name !== gauge.name) return metric;
    found = true;
    const values = metric.values.length > 0 ? metric.values.map((v) => ({ ...v, value })) : [{ labels: {}, value }];
    return { ...metric, values };
  });
  if (!found) out.push({ ...gauge, values: [{ labels: {}, value }] });
  return out;
}

function formatLabels(labels: Record<string, string | number> | undefined): string {
  if (labels === undefined) return '';
  const parts: string[] = [];
  for (const name in labels) {
    const value = labels[name];
    if (value === undefined) continue;
    parts.push(`${name}="${typeof value === 'string' ? escapeLabelValue(value) : formatValue(value)}"`);
  }
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(text: string): string {
  return escapeHelp(text).replace(/"/g, '\\"');
}
