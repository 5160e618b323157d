import type { ShedCounter } from '../collectors/read-model';

/**
 * The shed counters, keyed `route\0reason`: written by the shedder, read by
 * the exporters through the read model. They exist with shedding off too
 * (empty), so the exporters' series do not depend on the option.
 */
export function createShedTotals(): Map<string, ShedCounter> {
  return new Map();
}
