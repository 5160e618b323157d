// Entry point for tests and for anyone scripting the generator.
export { generate, DASHBOARD_FILE, ALERTS_FILE, PROMETHEUS_RULE_FILE, SERVICE_MONITOR_FILE, DATASOURCE_FILE, type GeneratedFile } from './generate';
export { resolveConfig, DEFAULT_CONFIG, ALERT_KEYS, InvalidConfigError, type GeneratorConfig, type ConfigOverride, type AlertThreshold } from './config';
export { buildDashboard } from './dashboard';
export { buildAlerts, type AlertRule, type RuleFile } from './alerts';
export { substitute, variablesIn, BUILTIN_VARIABLES } from './promql';
export { DATASOURCE } from './panels';
