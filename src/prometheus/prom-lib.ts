/**
 * The two Prometheus client libraries loopguard works with: `prom-client`
 * (≥ 15) and its successor from the Prometheus organization,
 * `@prometheus-io/client` (≥ 0.16). Both are optional peers with the same
 * registry contract (`registerMetric`, `getSingleMetric`, `metrics()`,
 * `getMetricsAsJSON()`, `contentType`), so a registry passed in is used
 * through its own methods, whichever library made it. This module only
 * decides which library's default registry and aggregator to use when the
 * app did not pass a registry.
 */
import type { MetricJson } from '../contract/messages';

/** In order of preference when both are installed and the app has loaded neither or both. */
export const PROM_CLIENTS = ['@prometheus-io/client', 'prom-client'] as const;
export type PromClientName = (typeof PROM_CLIENTS)[number];

/** What to tell a user who has neither. */
export const INSTALL_PROM_CLIENT = 'npm install @prometheus-io/client (or prom-client)';

export interface PromClient {
  readonly name: PromClientName;
  /** The library's default registry, the one an app's `/metrics` usually serves (typed by the Prometheus exporter). */
  readonly register: unknown;
  /** Merges several registries' `getMetricsAsJSON()` with each family's aggregator, rendered by the library. */
  aggregate(metrics: MetricJson[][]): { metrics(): Promise<string> | string; readonly contentType: string };
}

interface PromClientModule {
  register: { registerMetric?: unknown };
  Registry: { aggregate?: PromClient['aggregate'] };
  AggregatorRegistry?: { aggregate: PromClient['aggregate'] };
  ClusterRegistry?: { aggregate: PromClient['aggregate'] };
}

/**
 * The rule, pure: the app's choice is the library it has already loaded, so
 * if exactly one is loaded, that one (its default registry is what the
 * app's `/metrics` serves). Otherwise the preferred installed one:
 * `@prometheus-io/client`, the maintained successor; an app with both
 * usually got `prom-client` through another package.
 */
export function choosePromClient(installed: readonly PromClientName[], loaded: readonly PromClientName[]): PromClientName | undefined {
  const loadedInstalled = loaded.filter((name) => installed.includes(name));
  if (loadedInstalled.length === 1) return loadedInstalled[0];
  return PROM_CLIENTS.find((name) => installed.includes(name));
}

/** The library to use when no registry was passed, or undefined (with why) when none can load. */
export function defaultPromClient(): { client: PromClient; error?: undefined } | { client?: undefined; error: Error } {
  const installed: PromClientName[] = [];
  const loaded: PromClientName[] = [];
  for (const name of PROM_CLIENTS) {
    const file = resolve(name);
    if (file === undefined) continue;
    installed.push(name);
    // Looking in the cache loads nothing: an app that uses one library does not get the other loaded too.
    if (require.cache[file] !== undefined) loaded.push(name);
  }
  const chosen = choosePromClient(installed, loaded);
  if (chosen === undefined) return { error: new Error(`neither ${PROM_CLIENTS.join(' nor ')} is installed`) };
  try {
    return { client: load(chosen) };
  } catch (err) {
    return { error: err as Error };
  }
}

function load(name: PromClientName): PromClient {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const lib = require(name) as PromClientModule;
  // prom-client 15: AggregatorRegistry.aggregate; @prometheus-io/client: Registry.aggregate (ClusterRegistry too).
  const aggregator = lib.Registry.aggregate ? lib.Registry : (lib.ClusterRegistry ?? lib.AggregatorRegistry);
  if (typeof lib.register?.registerMetric !== 'function' || typeof aggregator?.aggregate !== 'function') {
    throw new Error(`${name} does not have the registry API loopguard needs (prom-client >= 15, @prometheus-io/client >= 0.16)`);
  }
  return { name, register: lib.register, aggregate: (metrics) => aggregator.aggregate!(metrics) };
}

function resolve(name: string): string | undefined {
  try {
    return require.resolve(name);
  } catch {
    return undefined;
  }
}
