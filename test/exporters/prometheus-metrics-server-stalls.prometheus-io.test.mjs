// prometheus-metrics-server-stalls.test.mjs again, through @prometheus-io/client instead of prom-client.
import '../helpers/use-prometheus-io.mjs';
import '../helpers/prom-client-under-test.mjs';
import './prometheus-metrics-server-stalls.test.mjs';
