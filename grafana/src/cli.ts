/**
 * `npm run grafana [-- --config thresholds.json] [--out dir] [--check]`:
 * writes the dashboard and alert rules (default: into grafana/), or with
 * --check exits 1 when the files there differ from what would be generated.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ConfigOverride } from './config';
import { generate } from './generate';

// Compiled to <build>/grafana/src/cli.js; the package root is three levels up.
const GRAFANA_DIR = path.resolve(__dirname, '..', '..', '..', 'grafana');

function main(): number {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      out: { type: 'string' },
      check: { type: 'boolean', default: false },
    },
  });
  const override = values.config === undefined ? undefined : (JSON.parse(fs.readFileSync(values.config, 'utf8')) as ConfigOverride);
  const outDir = path.resolve(values.out ?? GRAFANA_DIR);
  let stale = 0;
  for (const file of generate(override)) {
    const target = path.join(outDir, file.path);
    if (values.check) {
      const current = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : undefined;
      if (current !== file.content) {
        stale++;
        console.error(`${target} is not what the generator produces; run npm run grafana`);
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
