// prometheus-exporter.test.mjs again, through @prometheus-io/client instead of prom-client.
import '../helpers/use-prometheus-io.mjs';
import '../helpers/prom-client-under-test.mjs';
import './prometheus-exporter.test.mjs';
