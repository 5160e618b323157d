// The committed dashboard and rules are exactly what the generator produces,
// and they are well formed: grid, ids, variables, data sources, names.
// The generator is compiled by `npm run build:grafana` (part of `npm test`).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { CATALOGUE } from 'loopguard';
import {
  generate,
  resolveConfig,
  InvalidConfigError,
  variablesIn,
  BUILTIN_VARIABLES,
  DASHBOARD_FILE,
  ALERTS_FILE,
  ALERT_KEYS,
  PROMETHEUS_RULE_FILE,
  SERVICE_MONITOR_FILE,
  DATASOURCE_FILE,
} from '../../dist-grafana/grafana/src/index.js';
import { PROMTOOL_BIN } from '../helpers/prometheus.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const GRAFANA = path.join(ROOT, 'grafana');
const CLI = path.join(ROOT, 'dist-grafana/grafana/src/cli.js');
const run = promisify(execFile);

const dashboard = JSON.parse(fs.readFileSync(path.join(GRAFANA, DASHBOARD_FILE), 'utf8'));
const rules = parse(fs.readFileSync(path.join(GRAFANA, ALERTS_FILE), 'utf8'));
const alerts = rules.groups.flatMap((g) => g.rules);
const panels = dashboard.panels.filter((p) => p.type !== 'row');
const targets = panels.flatMap((p) => p.targets.map((t) => ({ panel: p, ...t })));

/** Every series name a query may use: the catalogue with the default prefix, and histogram series. */
const KNOWN_SERIES = new Set(
  CATALOGUE.flatMap((m) => {
    const name = `loopguard_${m.name}`;
    return m.type === 'histogram' ? [name, `${name}_bucket`, `${name}_count`, `${name}_sum`] : [name];
  }),
);

test('the committed dashboard and alert rules are exactly what the generator produces', () => {
  const files = generate();
  assert.deepEqual(files.map((f) => f.path).sort(), [ALERTS_FILE, DASHBOARD_FILE, PROMETHEUS_RULE_FILE, SERVICE_MONITOR_FILE, DATASOURCE_FILE].sort());
  for (const file of files) {
    const committed = fs.readFileSync(path.join(GRAFANA, file.path), 'utf8');
    assert.ok(committed === file.content, `grafana/${file.path} is stale: run npm run grafana and commit the result`);
  }
});

describe('dashboard structure', () => {
  test('schemaVersion is the one the Grafana Foundation SDK targets', () => {
    assert.equal(dashboard.schemaVersion, 42);
    assert.equal(typeof dashboard.uid, 'string');
  });

  test('panel ids are unique positive integers', () => {
    const ids = dashboard.panels.map((p) => p.id);
    assert.ok(ids.every((id) => Number.isInteger(id) && id > 0), `ids: ${ids}`);
    assert.equal(new Set(ids).size, ids.length, `duplicate ids: ${ids}`);
  });

  test('the grid fits 24 columns and no two panels overlap', () => {
    for (const { gridPos: g, title } of dashboard.panels) {
      assert.ok(g && g.x >= 0 && g.y >= 0 && g.w > 0 && g.h > 0, `${title}: ${JSON.stringify(g)}`);
      assert.ok(g.x + g.w <= 24, `${title} overflows the 24-column grid: ${JSON.stringify(g)}`);
    }
    const all = dashboard.panels;
    for (let i = 0; i < all.length; i++) {
      for (let j = i + 1; j < all.length; j++) {
        const a = all[i].gridPos;
        const b = all[j].gridPos;
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        assert.ok(!overlap, `"${all[i].title}" overlaps "${all[j].title}"`);
      }
    }
  });

  test('variables: datasource, job, instance, route, thread; every variable used is defined and every one defined is used', () => {
    const defined = dashboard.templating.list.map((v) => v.name);
    assert.deepEqual(defined, ['datasource', 'job', 'instance', 'route', 'thread']);
    // "All" threads also matches series without the label (loopguard before worker threads were watched).
    assert.equal(dashboard.templating.list.find((v) => v.name === 'thread').allValue, '.*');
    const ds = dashboard.templating.list[0];
    assert.equal(ds.type, 'datasource');
    assert.equal(ds.query, 'prometheus');
    const texts = [
      ...targets.map((t) => t.expr),
      ...dashboard.templating.list.map((v) => (typeof v.query === 'string' ? v.query : JSON.stringify(v.query))),
      ...panels.map((p) => JSON.stringify(p.datasource)),
      ...panels.map((p) => p.title),
    ];
    const used = new Set(texts.flatMap((t) => variablesIn(t)));
    for (const name of used) {
      assert.ok(defined.includes(name) || BUILTIN_VARIABLES.includes(name), `$${name} is used but not defined`);
    }
    for (const name of defined) assert.ok(used.has(name), `$${name} is defined but never used`);
    for (const v of dashboard.templating.list.slice(1)) {
      assert.deepEqual(v.datasource, { type: 'prometheus', uid: '${datasource}' }, `variable ${v.name} reads the chosen data source`);
      assert.equal(v.multi, true);
      assert.equal(v.includeAll, true);
    }
  });

  test('every panel and every query reads the data source variable', () => {
    for (const p of panels) {
      assert.deepEqual(p.datasource, { type: 'prometheus', uid: '${datasource}' }, p.title);
      assert.ok(p.targets.length > 0, `${p.title} has queries`);
      for (const t of p.targets) assert.deepEqual(t.datasource, p.datasource, `${p.title} ${t.refId}`);
      const refIds = p.targets.map((t) => t.refId);
      assert.equal(new Set(refIds).size, refIds.length, `${p.title}: refIds ${refIds}`);
    }
  });

  test('the panels the issue asks for are there', () => {
    const titles = panels.map((p) => p.title);
    for (const wanted of [
      /^Event loop delay$/,
      /utilization/,
      /^Blocked right now$/,
      /^Stalls per minute by culprit route$/,
      /^Blocked seconds by culprit route \(top \d+\)$/,
      /^Stall duration$/,
      /^Victim delay p99 by route$/,
      /^Requests in flight$/,
      /^Requests shed$/,
      /^Loop delay by thread$/,
    ]) {
      assert.ok(titles.some((t) => wanted.test(t)), `no panel matches ${wanted}: ${titles.join(' | ')}`);
    }
    assert.equal(panels.find((p) => p.title === 'Stall duration').type, 'heatmap');
    assert.equal(panels.find((p) => /^Blocked seconds/.test(p.title)).type, 'table');
    const delay = panels.find((p) => p.title === 'Event loop delay');
    assert.deepEqual(delay.targets.map((t) => t.legendFormat), ['p50', 'p99', 'max']);
    assert.match(panels.find((p) => p.title === 'Loop delay by thread').targets[0].expr, /sum by \(thread, le\)/);
    // The culprit table has a Thread column, and its two queries join on route and thread (one route on two loops is two rows).
    const culprits = panels.find((p) => /^Blocked seconds/.test(p.title));
    assert.equal(culprits.transformations.find((t) => t.id === 'organize').options.renameByName.thread, 'Thread');
    assert.match(culprits.targets[1].expr, /and on \(route, thread\)/);
  });

  test('queries rate over $__rate_interval, aggregate over instances, and split by route where the metric has one', () => {
    for (const t of targets) {
      const ranges = [...t.expr.matchAll(/\[([^\]]+)\]/g)].map((m) => m[1]);
      for (const range of ranges) {
        // The top-N table totals the dashboard's time range: the only [$__range], and only in instant queries.
        const ok = range === '$__rate_interval' || (range === '$__range' && t.instant === true && t.format === 'table');
        assert.ok(ok, `${t.panel.title} ${t.refId}: range [${range}] in ${t.expr}`);
      }
      assert.match(t.expr, /^(sum|avg|max|topk|histogram_quantile)\b/, `${t.panel.title} aggregates over instances: ${t.expr}`);
      const names = t.expr.match(/\bloopguard_\w+/g) ?? [];
      assert.ok(names.length > 0);
      for (const name of names) {
        assert.ok(KNOWN_SERIES.has(name), `${t.panel.title}: ${name} is not in the catalogue`);
        const def = CATALOGUE.find((m) => name.startsWith(`loopguard_${m.name}`));
        if (def.labels.includes('route')) assert.match(t.expr, /by \(route\b/, `${t.panel.title} splits ${name} by route`);
        assert.match(t.expr, new RegExp(`${name}\\{job=~"\\$job", instance=~"\\$instance"`), `${t.panel.title} filters ${name} by job and instance`);
      }
    }
  });

  test('every metric of the catalogue is on the dashboard', () => {
    const exprs = targets.map((t) => t.expr).join('\n');
    for (const m of CATALOGUE) assert.ok(exprs.includes(`loopguard_${m.name}`), `${m.name} is on no panel`);
  });
});

describe('alert rules', () => {
  test('the eight alerts follow the mixin conventions', () => {
    assert.deepEqual(
      alerts.map((a) => a.alert),
      [
        'LoopGuardEventLoopBlocked',
        'LoopGuardRouteStalling',
        'LoopGuardEventLoopDelayHigh',
        'LoopGuardEventLoopSaturated',
        'LoopGuardThreadPoolSaturated',
        'LoopGuardLoadShedding',
        'LoopGuardCpuThrottled',
        'LoopGuardWorkerStalled',
      ],
    );
    for (const a of alerts) {
      assert.match(a.alert, /^LoopGuard[A-Z][a-zA-Z]+$/);
      assert.ok(['critical', 'warning'].includes(a.labels.severity), `${a.alert} severity`);
      assert.deepEqual(Object.keys(a.annotations).sort(), ['description', 'runbook_url', 'summary']);
      assert.equal(a.annotations.runbook_url, `https://github.com/loopguard/loopguard/blob/main/docs/alerting.md#runbook-${a.alert.toLowerCase()}`);
      for (const key of ['summary', 'description']) assert.match(a.annotations[key], /\{\{ \$value \| humani[sz]e/, `${a.alert} ${key} shows the value`);
      // Route-level alerts carry the route label; instance-level ones look the top culprit route up.
      // The thread-pool alert is about work off the loop: it names the pool's size instead.
      if (a.alert === 'LoopGuardThreadPoolSaturated') assert.match(a.annotations.description, /threadpool_size/, `${a.alert} looks the pool size up`);
      // Throttling is the host's, no route's: it says so instead of naming one.
      else if (a.alert === 'LoopGuardCpuThrottled') assert.match(a.annotations.description, /cause="host" and blamed on no route/, `${a.alert} blames no route`);
      else assert.match(a.annotations.description, /\$labels\.route|\.Labels\.route/, `${a.alert} names a route`);
      for (const name of a.expr.match(/\bloopguard_\w+/g) ?? []) assert.ok(KNOWN_SERIES.has(name), `${a.alert}: ${name} is not in the catalogue`);
    }
  });

  test('thresholds, windows and severities follow the configuration', () => {
    const custom = generate({
      alerts: { routeStalling: { threshold: 2, window: '1m', for: '30s' }, eventLoopBlocked: { threshold: 1.5, severity: 'page' } },
    });
    const customRules = parse(custom.find((f) => f.path === ALERTS_FILE).content).groups[0].rules;
    const stalling = customRules.find((r) => r.alert === 'LoopGuardRouteStalling');
    assert.equal(stalling.expr, 'sum by (job, route) (increase(loopguard_stalls_total{cause!~"expected|host|task"}[1m])) >= 2', 'stalls declared expected, the host\'s and pool tasks\' never alert');
    assert.equal(stalling.for, '30s');
    const blocked = customRules.find((r) => r.alert === 'LoopGuardEventLoopBlocked');
    assert.equal(blocked.expr, 'loopguard_eventloop_blocked_seconds > 1.5');
    assert.equal(blocked.labels.severity, 'page');
    assert.equal(blocked.for, undefined, 'a 0s `for` is left out');
    // The dashboard's "blocked right now" turns red at the same threshold.
    const customDashboard = JSON.parse(custom.find((f) => f.path === DASHBOARD_FILE).content);
    const stat = customDashboard.panels.find((p) => p.title === 'Blocked right now');
    assert.deepEqual(stat.fieldConfig.defaults.thresholds.steps.at(-1), { value: 1.5, color: 'red' });
  });

  test('prefix, selector and grouping labels reach every expression', () => {
    const files = generate({ prefix: 'shop_lg_', selector: 'namespace="shop", env=~"prod|staging"', groupBy: ['cluster', 'job'] });
    const text = files.map((f) => f.content).join('\n');
    assert.ok(!/\bloopguard_/.test(text.replace(/github\.com\/loopguard\/loopguard#runbook-loopguard/g, '')), 'no default-prefixed name is left');
    const customRules = parse(files.find((f) => f.path === ALERTS_FILE).content).groups[0].rules;
    for (const r of customRules) assert.match(r.expr, /\{namespace="shop", env=~"prod\|staging"(, cause!~"expected\|host\|task"|, state="throttled"|, thread=~"main\|"|, thread!~"main\|")?\}/, r.expr);
    assert.match(customRules.find((r) => r.alert === 'LoopGuardRouteStalling').expr, /^sum by \(cluster, job, route\) \(increase\(shop_lg_stalls_total\{/);
  });

  test('invalid configuration throws a TypeError naming the setting', () => {
    const cases = [
      [{ alerts: { routeStalling: { window: '10 minutes' } } }, 'alerts.routeStalling.window'],
      [{ alerts: { eventLoopSaturated: { threshold: -1 } } }, 'alerts.eventLoopSaturated.threshold'],
      [{ alerts: { routeStaling: {} } }, 'alerts.routeStaling'],
      [{ alerts: { loadShedding: { severity: 'very bad' } } }, 'alerts.loadShedding.severity'],
      [{ selector: 'namespace=shop' }, 'selector'],
      [{ prefix: 'my-prefix' }, 'prefix'],
      [{ groupBy: ['route'] }, 'groupBy'],
      [{ topRoutes: 0 }, 'topRoutes'],
      [{ thresholds: {} }, 'config.thresholds'],
      ['nope', 'config'],
    ];
    for (const [override, setting] of cases) {
      assert.throws(
        () => resolveConfig(override),
        (err) => err instanceof TypeError && err instanceof InvalidConfigError && err.setting === setting && err.message.includes(`"${setting}"`),
        `${JSON.stringify(override)} names ${setting}`,
      );
    }
    assert.deepEqual(Object.keys(resolveConfig().alerts), ALERT_KEYS);
  });
});

describe('command line', () => {
  test('--config writes rules with the overridden thresholds into --out; --check tells stale from fresh', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopguard-grafana-'));
    try {
      const config = path.join(dir, 'thresholds.json');
      fs.writeFileSync(config, JSON.stringify({ alerts: { eventLoopDelayHigh: { threshold: 0.05, for: '2m' } } }));
      await run(process.execPath, [CLI, '--config', config, '--out', dir]);
      const written = parse(fs.readFileSync(path.join(dir, ALERTS_FILE), 'utf8')).groups[0].rules;
      const delay = written.find((r) => r.alert === 'LoopGuardEventLoopDelayHigh');
      assert.match(delay.expr, /> 0\.05$/);
      assert.equal(delay.for, '2m');
      assert.ok(fs.statSync(path.join(dir, DASHBOARD_FILE)).size > 1000);

      await run(process.execPath, [CLI, '--check']); // the committed files are fresh
      await run(process.execPath, [CLI, '--check', '--config', config, '--out', dir]);
      const stale = await run(process.execPath, [CLI, '--check', '--out', dir]).then(() => null, (err) => err);
      assert.ok(stale, '--check fails when the files differ from the defaults');
      assert.equal(stale.code, 1);
      assert.match(stale.stderr, /alerts\.yml is not what the generator produces/);

      fs.writeFileSync(config, JSON.stringify({ alerts: { eventLoopDelayHigh: { for: 'soon' } } }));
      const bad = await run(process.execPath, [CLI, '--config', config, '--out', dir]).then(() => null, (err) => err);
      assert.equal(bad?.code, 2);
      assert.match(bad.stderr, /"alerts\.eventLoopDelayHigh\.for" must be a Prometheus duration/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('the bin (--prefix, --threshold, --datasource-uid) writes every file; promtool accepts the rules, the PrometheusRule holds the same groups', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopguard-grafana-bin-'));
  try {
    await run(process.execPath, [CLI, '--out', dir, '--prefix', 'shop_', '--threshold', '2', '--datasource-uid', 'prom-main']);
    const rules = parse(fs.readFileSync(path.join(dir, ALERTS_FILE), 'utf8'));
    const blocked = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === 'LoopGuardEventLoopBlocked');
    assert.match(blocked.expr, /shop_eventloop_blocked_seconds(\{[^}]*\})? > 2$/, blocked.expr);
    const checked = await run(PROMTOOL_BIN, ['check', 'rules', path.join(dir, ALERTS_FILE)]);
    assert.match(checked.stdout, /SUCCESS: 8 rules found/);
    const crd = parse(fs.readFileSync(path.join(dir, PROMETHEUS_RULE_FILE), 'utf8'));
    assert.equal(crd.kind, 'PrometheusRule');
    assert.deepEqual(crd.spec.groups, rules.groups, 'the same rules as alerts.yml');
    const monitor = parse(fs.readFileSync(path.join(dir, SERVICE_MONITOR_FILE), 'utf8'));
    assert.equal(monitor.kind, 'ServiceMonitor');
    assert.equal(monitor.spec.endpoints[0].path, '/metrics');
    const datasource = parse(fs.readFileSync(path.join(dir, DATASOURCE_FILE), 'utf8')).datasources[0];
    assert.equal(datasource.uid, 'prom-main');
    assert.equal(datasource.isDefault, false);
    const dashboard = fs.readFileSync(path.join(dir, DASHBOARD_FILE), 'utf8');
    assert.match(dashboard, /shop_eventloop_delay_seconds_bucket/);
    assert.doesNotMatch(dashboard, /loopguard_eventloop/);
    const help = await run(process.execPath, [CLI, '--help']);
    assert.match(help.stdout, /--threshold <seconds>/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('provisioning files: a Prometheus data source and a file provider', () => {
  const datasources = parse(fs.readFileSync(path.join(GRAFANA, 'provisioning/datasources/loopguard-prometheus.yml'), 'utf8'));
  assert.equal(datasources.apiVersion, 1);
  assert.equal(datasources.datasources.length, 1);
  assert.equal(datasources.datasources[0].type, 'prometheus');
  assert.match(datasources.datasources[0].url, /^https?:\/\//);
  assert.match(datasources.datasources[0].jsonData.timeInterval, /^\d+s$/);
  // Grafana will not start beside an existing default data source if this one claims to be the default too.
  assert.notEqual(datasources.datasources[0].isDefault, true);
  const providers = parse(fs.readFileSync(path.join(GRAFANA, 'provisioning/dashboards/loopguard.yml'), 'utf8'));
  assert.equal(providers.apiVersion, 1);
  assert.equal(providers.providers[0].type, 'file');
  assert.ok(path.isAbsolute(providers.providers[0].options.path));
  // The provider loads every .json under its path: the dashboards folder must hold only dashboards.
  const jsonFiles = fs.readdirSync(path.join(GRAFANA, path.dirname(DASHBOARD_FILE)));
  assert.deepEqual(jsonFiles, [path.basename(DASHBOARD_FILE)]);
});
