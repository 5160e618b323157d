/**
 * The metric catalogue as OpenTelemetry instruments. Names are
 * `loopguard.` + the catalogue's `otelName`, with the catalogue's UCUM unit,
 * so that the Collector's Prometheus translation (unit suffix, `_total` for
 * monotonic sums, `_ratio` for unit-1 gauges) gives back the prom-client names.
 */
import type { Attributes, Histogram, Meter, Observable } from '@opentelemetry/api';
import { CATALOGUE, DEFAULT_PREFIX, OTEL_ATTRIBUTES, type LabelName, type MetricDefinition, type MetricKey } from '../catalogue';

export const METER_NAME = 'loopguard';
const NAME_PREFIX = 'loopguard.';

/** `@opentelemetry/api` ValueType, spelled here so a user-supplied meter works without the api package. */
const VALUE_TYPE_INT = 0;
const VALUE_TYPE_DOUBLE = 1;

export function instrumentName(def: MetricDefinition): string {
  return NAME_PREFIX + def.otelName;
}

/** What OTel instrument a catalogue entry becomes. */
export type InstrumentKind = 'histogram' | 'observableCounter' | 'observableUpDownCounter' | 'observableGauge';

export function instrumentKind(def: MetricDefinition): InstrumentKind {
  if (def.type === 'histogram') return 'histogram';
  if (def.type === 'counter') return 'observableCounter';
  // Additive gauges (summed across instances) are up-down counters in OTel terms; the rest are gauges.
  return def.aggregator === 'sum' ? 'observableUpDownCounter' : 'observableGauge';
}

type HistogramKey = Extract<(typeof CATALOGUE)[number], { type: 'histogram' }>['key'];
type ObservableKey = Exclude<MetricKey, HistogramKey>;

export interface Instruments {
  readonly histograms: Record<HistogramKey, Histogram>;
  readonly observables: Record<ObservableKey, Observable>;
  /** Every observable, for `addBatchObservableCallback`. */
  readonly observableList: Observable[];
}

/** Creates one instrument per catalogue entry on `meter`. */
export function createInstruments(meter: Meter): Instruments {
  const histograms: Partial<Record<HistogramKey, Histogram>> = {};
  const observables: Partial<Record<ObservableKey, Observable>> = {};
  for (const def of CATALOGUE as readonly MetricDefinition[]) {
    const name = instrumentName(def);
    // Counts of things ({stall}, {request}) are integers; durations and ratios are not.
    const options = { description: def.help, unit: def.unit, valueType: def.unit.startsWith('{') ? VALUE_TYPE_INT : VALUE_TYPE_DOUBLE };
    switch (instrumentKind(def)) {
      case 'histogram':
        histograms[def.key as HistogramKey] = meter.createHistogram(name, { ...options, advice: { explicitBucketBoundaries: [...(def.buckets ?? [])] } });
        break;
      case 'observableCounter':
        observables[def.key as ObservableKey] = meter.createObservableCounter(name, options);
        break;
      case 'observableUpDownCounter':
        observables[def.key as ObservableKey] = meter.createObservableUpDownCounter(name, options);
        break;
      case 'observableGauge':
        observables[def.key as ObservableKey] = meter.createObservableGauge(name, options);
        break;
    }
  }
  return {
    histograms: histograms as Record<HistogramKey, Histogram>,
    observables: observables as Record<ObservableKey, Observable>,
    observableList: Object.values(observables) as Observable[],
  };
}

/** Label values → semantic-convention attributes; empty values (a background stall's method) are left out. */
export function attributesOf(values: Partial<Record<LabelName, string>>): Attributes {
  const out: Attributes = {};
  for (const label of Object.keys(values) as LabelName[]) {
    const value = values[label];
    if (value !== undefined && value !== '') out[OTEL_ATTRIBUTES[label]] = value;
  }
  return Object.freeze(out);
}

/**
 * SDK views that name each stream with its exact Prometheus name, for
 * exporters that do not add unit suffixes themselves (the OTel JS Prometheus
 * exporter only appends `_total`). Not for OTLP: the Collector translates.
 */
export function prometheusViews(): { instrumentName: string; meterName: string; name: string }[] {
  return CATALOGUE.map((def) => ({ instrumentName: instrumentName(def), meterName: METER_NAME, name: DEFAULT_PREFIX + def.name }));
}
