#!/usr/bin/env node
/**
 * `npx loopguard-grafana` (from the installed package) or `npm run grafana`
 * (in a clone): writes the Grafana dashboard, the Prometheus alert rules,
 * the same rules as a PrometheusRule, a ServiceMonitor and Grafana's data
 * source provisioning, for your metric prefix and thresholds.
 *
 *   npx loopguard-grafana --out ./monitoring --prefix shop_ --threshold 2 --datasource-uid prom
 *   npx loopguard-grafana --config thresholds.json --out ./monitoring
 *   npm run grafana -- --check        # in a clone: exit 1 when grafana/ is stale
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ConfigOverride } from './config';

// Compiled to <package>/dist-grafana/grafana/src/cli.js; the package root is three levels up.
const GRAFANA_DIR = path.resolve(__dirname, '..', '..', '..', 'grafana');

const HELP = `loopguard-grafana: the dashboard, alert rules, PrometheusRule, ServiceMonitor and data source provisioning

Options:
  --out <dir>              where to write (default: the package's grafana/ folder)
  --prefix <prefix>        metric name prefix: your prometheus.prefix option (default loopguard_)
  --threshold <seconds>    fire LoopGuardEventLoopBlocked when the loop has been blocked this long (default 5)
  --datasource-uid <uid>   uid of the provisioned Prometheus data source (default prometheus)
  --selector <matchers>    label matchers added to every alert, e.g. namespace="shop"
  --config <file.json>     any other setting (docs/alerting.md), merged under the flags above
  --check                  exit 1 when the files in --out differ from what would be written
  --help`;

/** The generator's own dependencies are optional peers of loopguard: most users never run it. */
function missingPeers(): string[] {
  return ['@grafana/grafana-foundation-sdk/dashboard', 'yaml'].filter((id) => {
    try {
      require.resolve(id);
      return false;
    } catch {
      return true;
    }
  });
}

function main(): number {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      out: { type: 'string' },
      prefix: { type: 'string' },
      threshold: { type: 'string' },
      'datasource-uid': { type: 'string' },
      selector: { type: 'string' },
      check: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const missing = missingPeers();
  if (missing.length > 0) {
    console.error(
      `loopguard-grafana needs ${missing.map((m) => m.replace(/\/dashboard$/, '')).join(' and ')}, which loopguard does not install for every user.\n` +
        'Run it as: npx -y -p loopguard -p @grafana/grafana-foundation-sdk -p yaml loopguard-grafana --out ./monitoring',
    );
    return 2;
  }
  const override: ConfigOverride = values.config === undefined ? {} : (JSON.parse(fs.readFileSync(values.config, 'utf8')) as ConfigOverride);
  if (values.prefix !== undefined) override.prefix = values.prefix;
  if (values.selector !== undefined) override.selector = values.selector;
  if (values['datasource-uid'] !== undefined) override.datasourceUid = values['datasource-uid'];
  if (values.threshold !== undefined) {
    const threshold = Number(values.threshold);
    override.alerts = { ...override.alerts, eventLoopBlocked: { ...override.alerts?.eventLoopBlocked, threshold } };
  }
  // Loaded only now: it needs the peers checked above.
  const { generate } = require('./generate') as typeof import('./generate');
  const outDir = path.resolve(values.out ?? GRAFANA_DIR);
  let stale = 0;
  for (const file of generate(override)) {
    const target = path.join(outDir, file.path);
    if (values.check) {
      const current = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : undefined;
      if (current !== file.content) {
        stale++;
        console.error(`${target} is not what the generator produces; run it again without --check`);
      }
      continue;
    }
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, file.content);
    console.log(`wrote ${path.relative(process.cwd(), target) || target}`);
  }
  return stale === 0 ? 0 : 1;
}

try {
  process.exitCode = main();
} catch (err) {
  console.error((err as Error).message);
  process.exitCode = 2;
}
