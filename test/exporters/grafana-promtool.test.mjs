// promtool (Debian package `prometheus`) type-checks every dashboard and alert
// expression and runs the alert unit tests in grafana/tests/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { PROMTOOL_BIN } from '../helpers/prometheus.mjs';
import { generate, substitute, DASHBOARD_FILE, ALERTS_FILE } from '../../dist-grafana/grafana/src/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const GRAFANA = path.join(ROOT, 'grafana');
const UNIT_TESTS = path.join(GRAFANA, 'tests/alerts.test.yml');
const run = promisify(execFile);

/** Runs promtool; resolves { ok, output } instead of throwing, so failures can be asserted on. */
async function promtool(...args) {
  try {
    const { stdout, stderr } = await run(PROMTOOL_BIN, args);
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    return { ok: false, output: `${err.stdout ?? ''}${err.stderr ?? ''}${err.code === 'ENOENT' ? `${PROMTOOL_BIN} not found` : ''}` };
  }
}

/** Values Grafana would put in place of the dashboard's variables; any valid ones do for type checking. */
const VARIABLES = { __rate_interval: '1m', __range: '1h', job: '.+', instance: '.+', route: '.+', thread: '.*' };

function withTempDir(fn) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopguard-promtool-'));
  return Promise.resolve(fn(dir)).finally(() => fs.rmSync(dir, { recursive: true, force: true }));
}

/** Each expression as a recording rule: `promtool check rules` parses and type-checks it. */
function recordingRules(exprs) {
  return stringify({ groups: [{ name: 'check', rules: exprs.map((expr, i) => ({ record: `loopguard_check:expr_${i}`, expr })) }] });
}

function dashboardExpressions() {
  const dashboard = JSON.parse(fs.readFileSync(path.join(GRAFANA, DASHBOARD_FILE), 'utf8'));
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => substitute(t.expr, VARIABLES)));
  // Variable queries are Grafana's label_values(selector, label): the selector must be valid PromQL too.
  for (const v of dashboard.templating.list) {
    if (v.type !== 'query') continue;
    const selector = /^label_values\((.*), (\w+)\)$/.exec(v.query);
    assert.ok(selector, `variable ${v.name}: ${v.query}`);
    exprs.push(substitute(selector[1], VARIABLES));
  }
  return exprs;
}

test('promtool accepts the alert rules', async () => {
  const result = await promtool('check', 'rules', path.join(GRAFANA, ALERTS_FILE));
  assert.ok(result.ok, result.output);
  assert.match(result.output, /SUCCESS: 8 rules found/);
});

test('promtool type-checks every dashboard query, with variables substituted', async () => {
  const exprs = dashboardExpressions();
  assert.ok(exprs.length >= 15, `${exprs.length} expressions`);
  await withTempDir(async (dir) => {
    const file = path.join(dir, 'dashboard-queries.yml');
    fs.writeFileSync(file, recordingRules(exprs));
    const result = await promtool('check', 'rules', file);
    assert.ok(result.ok, result.output);
    assert.match(result.output, new RegExp(`SUCCESS: ${exprs.length} rules found`));

    // The same harness rejects a query with a type error, so the check above means something.
    fs.writeFileSync(file, recordingRules([...exprs, 'sum by (route) (rate(loopguard_stalls_total))']));
    const broken = await promtool('check', 'rules', file);
    assert.equal(broken.ok, false);
    assert.match(broken.output, /expected type range vector/);
  });
});

test('promtool unit tests of every alert pass', async () => {
  const result = await promtool('test', 'rules', UNIT_TESTS);
  assert.ok(result.ok, result.output);
  assert.match(result.output, /SUCCESS/);
});

test('every alert has a unit test where it fires and one where it does not', () => {
  const rules = parse(fs.readFileSync(path.join(GRAFANA, ALERTS_FILE), 'utf8')).groups.flatMap((g) => g.rules);
  const cases = parse(fs.readFileSync(UNIT_TESTS, 'utf8')).tests.flatMap((t) => t.alert_rule_test ?? []);
  for (const { alert } of rules) {
    const mine = cases.filter((c) => c.alertname === alert);
    assert.ok(mine.some((c) => c.exp_alerts?.length > 0), `${alert} has no case where it fires`);
    assert.ok(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${alert} has no case where it stays silent`);
  }
});

test('the unit tests catch a changed threshold', async () => {
  // Rules generated with a higher blocked threshold no longer fire at 7 s: the tests must notice.
  await withTempDir(async (dir) => {
    const rules = generate({ alerts: { eventLoopBlocked: { threshold: 10 } } }).find((f) => f.path === ALERTS_FILE);
    fs.writeFileSync(path.join(dir, ALERTS_FILE), rules.content);
    fs.mkdirSync(path.join(dir, 'tests'));
    fs.copyFileSync(UNIT_TESTS, path.join(dir, 'tests/alerts.test.yml'));
    const result = await promtool('test', 'rules', path.join(dir, 'tests/alerts.test.yml'));
    assert.equal(result.ok, false, result.output);
    assert.match(result.output, /alertname: LoopGuardEventLoopBlocked/);
  });
});

test('dashboard queries combine instances correctly (promtool expression tests, two instances)', async () => {
  const dashboard = JSON.parse(fs.readFileSync(path.join(GRAFANA, DASHBOARD_FILE), 'utf8'));
  const expr = (title, refId) => {
    const target = dashboard.panels.find((p) => p.title === title)?.targets.find((t) => t.refId === refId);
    assert.ok(target, `${title} ${refId}`);
    return substitute(target.expr, { ...VARIABLES, __rate_interval: '5m' });
  };
  const at = (instance, labels = '') => `job="api", instance="${instance}"${labels}`;
  const buckets = (instance, route, perMinute) =>
    Object.entries(perMinute).map(([le, n]) => ({
      series: `loopguard_request_delay_seconds_bucket{${at(instance, `, route="${route}", method="GET", le="${le}"`)}}`,
      values: `0+${n}x10`,
    }));
  const unitTests = {
    rule_files: [],
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: [
          // /export stalls once a minute on one instance and twice on the other; /report only on one.
          { series: `loopguard_stalls_total{${at('a:1', ', route="/export", method="GET", cause="request"')}}`, values: '0+1x10' },
          { series: `loopguard_stalls_total{${at('b:1', ', route="/export", method="GET", cause="request"')}}`, values: '0+2x10' },
          { series: `loopguard_stalls_total{${at('a:1', ', route="/report", method="GET", cause="request"')}}`, values: '0+0.5x10' },
          // /io: 100 requests/s on each instance; on b, 8 of them wait 250-500 ms.
          // (Whole numbers per second keep promtool's exact float comparison exact.)
          ...buckets('a:1', '/io', { '0.25': 6000, '0.5': 6000, '+Inf': 6000 }),
          ...buckets('b:1', '/io', { '0.25': 5520, '0.5': 6000, '+Inf': 6000 }),
          { series: `loopguard_requests_in_flight{${at('a:1')}}`, values: '3x10' },
          { series: `loopguard_requests_in_flight{${at('b:1')}}`, values: '4x10' },
        ],
        promql_expr_test: [
          {
            expr: expr('Stalls per minute by culprit route', 'A'),
            eval_time: '10m',
            exp_samples: [{ labels: '{route="/export"}', value: 3 }, { labels: '{route="/report"}', value: 0.5 }],
          },
          {
            // p99 of the merged histogram: rank 198 of 200, 6 into the 8 slow ones: 0.25 + 0.25 × 6/8.
            // Per-instance p99s would give 0.2475 and 0.46875; their mean is neither.
            expr: expr('Victim delay p99 by route', 'A'),
            eval_time: '10m',
            exp_samples: [{ labels: '{route="/io"}', value: 0.4375 }],
          },
          { expr: expr('Requests in flight', 'A'), eval_time: '10m', exp_samples: [{ labels: '{}', value: 7 }] },
          { expr: expr('Requests in flight', 'B'), eval_time: '10m', exp_samples: [{ labels: '{}', value: 4 }] },
        ],
      },
    ],
  };
  await withTempDir(async (dir) => {
    const file = path.join(dir, 'dashboard.test.yml');
    fs.writeFileSync(file, stringify(unitTests));
    const result = await promtool('test', 'rules', file);
    assert.ok(result.ok, result.output);
  });
});
