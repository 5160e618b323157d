// The Prometheus client library this test process runs the Prometheus tests
// through: prom-client by default; the *.prometheus-io.test.mjs twins set
// LOOPGUARD_TEST_PROM_CLIENT to run the same files through
// @prometheus-io/client. Forked and spawned children inherit the variable.
import { createRequire } from 'node:module';

export const PROM_CLIENT = process.env.LOOPGUARD_TEST_PROM_CLIENT || 'prom-client';
const lib = createRequire(import.meta.url)(PROM_CLIENT);

export const { Registry, Gauge, Counter, Histogram, register } = lib;
/** The cluster IPC recipe's registry (prom-client: AggregatorRegistry; @prometheus-io/client: ClusterRegistry). */
export const ClusterRegistry = lib.ClusterRegistry ?? lib.AggregatorRegistry;
