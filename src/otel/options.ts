import { InvalidOptionError } from '../errors';
import { boolean, knownKeys } from '../validate';

/** Where loopguard records its OpenTelemetry instruments. */
export interface OtelOptions {
  /**
   * An `@opentelemetry/api` `Meter`.
   * @default the global meter `metrics.getMeter('loopguard')`, bound again if an SDK registers later
   */
  meter?: unknown;
  /**
   * Add `loopguard.stall` events to the culprit request's span and
   * `loopguard.delayed` events to spans of requests that waited at least
   * `thresholdMs`. Needs a registered tracer (e.g. instrumentation-http); creates no spans.
   * @default true
   */
  traces?: boolean;
}

export function validateOtel(value: OtelOptions): OtelOptions {
  knownKeys('otel', value, ['meter', 'traces']);
  const meter = value.meter as Record<string, unknown> | null | undefined;
  if (meter !== undefined && (meter === null || typeof meter.createHistogram !== 'function' || typeof meter.addBatchObservableCallback !== 'function')) {
    throw new InvalidOptionError('otel.meter', 'an @opentelemetry/api Meter', value.meter);
  }
  if (value.traces !== undefined) boolean('otel.traces', value.traces);
  return value;
}
