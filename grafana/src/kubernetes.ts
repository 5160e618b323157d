/**
 * The same alert rules and a scrape target for the Prometheus Operator
 * (kube-prometheus-stack): a PrometheusRule wrapping the rule file's groups
 * unchanged, and a ServiceMonitor for the port that serves loopguard's
 * worker-thread `metricsServer` (the endpoint that answers during a stall).
 */
import type { GeneratorConfig } from './config';
import type { RuleFile } from './alerts';

export function buildPrometheusRule(config: GeneratorConfig, rules: RuleFile): object {
  const { kubernetes: k } = config;
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'loopguard', ...(k.namespace && { namespace: k.namespace }), labels: { ...k.ruleLabels } },
    spec: { groups: rules.groups },
  };
}

export function buildServiceMonitor(config: GeneratorConfig): object {
  const { kubernetes: k } = config;
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: { name: 'loopguard', ...(k.namespace && { namespace: k.namespace }), labels: { ...k.ruleLabels } },
    spec: {
      selector: { matchLabels: { ...k.serviceMatchLabels } },
      endpoints: [{ port: k.metricsPort, path: '/metrics', interval: config.scrapeInterval }],
    },
  };
}

/** Grafana provisioning of the data source the dashboard reads (never the default: Grafana refuses two). */
export function buildDatasourceProvisioning(config: GeneratorConfig): object {
  return {
    apiVersion: 1,
    datasources: [
      {
        name: 'Prometheus (loopguard)',
        type: 'prometheus',
        uid: config.datasourceUid,
        access: 'proxy',
        url: 'http://localhost:9090',
        isDefault: false,
        editable: true,
        jsonData: { timeInterval: config.scrapeInterval },
      },
    ],
  };
}
