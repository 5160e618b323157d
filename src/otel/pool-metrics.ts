/**
 * libuv's pool and the watched worker pools as OpenTelemetry data, at collect
 * time. OTel has no observable histogram: the probe's samples are taken from
 * the shared ring (each once, in order) and recorded one by one, so the
 * exported histogram matches the Prometheus one sample for sample.
 */
import type * as Api from '@opentelemetry/api';
import type { GuardReadModel } from '../collectors/read-model';
import { attributesOf, type Instruments } from './instruments';

export class PoolMetrics {
  /** The ring sequence read up to: samples recorded before this collector existed count too. */
  private next = 0;
  private readonly attributes = new Map<string, Api.Attributes>();

  constructor(private readonly model: GuardReadModel) {}

  observe(result: Api.BatchObservableResult, instruments: Instruments): void {
    const { threadPool } = this.model;
    const o = instruments.observables;
    result.observe(o.threadpoolSize, threadPool.size);
    if (threadPool.probing) {
      const { values, next } = threadPool.histogram.samplesSince(this.next);
      this.next = next;
      const histogram = instruments.histograms.threadpoolDelay;
      for (const seconds of values) histogram.record(seconds);
    }
    for (const pool of this.model.workerPools()) {
      const attributes = this.attributesOf(pool.name);
      result.observe(o.workerPoolQueueSize, pool.queueSize, attributes);
      result.observe(o.workerPoolSize, pool.size, attributes);
      if (pool.waitP50Ms !== null) result.observe(o.workerPoolWait, pool.waitP50Ms / 1000, this.attributesOf(pool.name, '50'));
      if (pool.waitP99Ms !== null) result.observe(o.workerPoolWait, pool.waitP99Ms / 1000, this.attributesOf(pool.name, '99'));
    }
  }

  /** One frozen attributes object per series (the SDK hashes it on every observation); pools are capped, so is this. */
  private attributesOf(pool: string, percentile?: string): Api.Attributes {
    const key = percentile === undefined ? pool : `${pool}\0${percentile}`;
    let attributes = this.attributes.get(key);
    if (attributes === undefined) {
      attributes = attributesOf(percentile === undefined ? { pool } : { pool, percentile });
      this.attributes.set(key, attributes);
    }
    return attributes;
  }
}
